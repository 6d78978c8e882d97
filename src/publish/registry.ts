/**
 * Rock → OCI registry (GHCR in production), plan → apply.
 *
 *   tagsForLine(resolved)            pure: the line's tags, each immutable (full version) or moving
 *   decideRockPlan(input)            pure: given the artifact digest and what each tag holds now, what
 *                                    happens to each tag (push / move / unchanged / overwrite / refuse)
 *   inspectRock(...)                 I/O: artifact digest + existing tags → RockPlan
 *   applyRockPlan(plan, ...)         I/O: pre-checks (all problems at once), push with bounded retries,
 *                                    verify every tag and the digest by reading the manifests back
 *
 * With several architectures the tags name an OCI image index of every platform's image (platforms.ts):
 * the plan's digest is the index's, each platform's manifest is pushed with it and read back by digest.
 *
 * Signing the pushed digest is sign.ts's; publish.ts composes the two plans.
 */
import { promises as fs } from 'node:fs';
import type { ResolvedLine } from '../config/types.ts';
import { AggregateUserError, UserError } from '../lib/errors.ts';
import { log } from '../lib/log.ts';
import { readArchiveImage } from '../lib/oci-archive.ts';
import {
  copyArchiveCommand,
  copyLayoutCommand,
  formatCommand,
  pushArchive,
  pushLayout,
  remoteDigest,
  type RegistryAccess,
} from '../lib/tools/skopeo-registry.ts';
import { INDEX_REF, assembleIndexLayout, type Platform } from './platforms.ts';
import type { RegistrySession } from './session.ts';
import { promises as fsp } from 'node:fs';

export type TagKind = 'immutable' | 'moving';
export interface TagSpec {
  tag: string;
  kind: TagKind;
}

/** A tag naming the full version (`3.5.9-…`, `3.5.9-4-…` for a flavour with a tagVersion) is immutable; every other tag moves. */
export function classifyTag(tag: string, fullVersion: string): TagKind {
  if (!tag.startsWith(fullVersion)) return 'moving';
  const next = tag.charAt(fullVersion.length);
  return next === '' || !/[0-9.]/.test(next) ? 'immutable' : 'moving';
}

/** The line's tags (resolveLine computed them), each immutable or moving, immutable ones first. */
export function tagsForLine(r: ResolvedLine): TagSpec[] {
  const tags = r.image.tags;
  const seen = new Set<string>();
  const out: TagSpec[] = [];
  for (const tag of tags) {
    if (seen.has(tag)) continue;
    seen.add(tag);
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag)) {
      throw new UserError('E_TAG', `tag "${tag}" of ${r.image.name} is not a valid OCI tag`);
    }
    out.push({ tag, kind: classifyTag(tag, r.version) });
  }
  // Immutable tags first: a moving tag never points at a digest whose full-version tag failed.
  return [...out.filter((t) => t.kind === 'immutable'), ...out.filter((t) => t.kind === 'moving')];
}

/** `ghcr.io/canonical` + `charmed-spark` → repository and registry host. */
export function repositoryOf(registry: string, name: string): { host: string; repository: string } {
  const reg = registry.replace(/^[a-z]+:\/\//, '').replace(/\/+$/, '');
  const host = reg.split('/')[0]!;
  return { host, repository: `${reg}/${name}` };
}

export type TagAction = 'push' | 'move' | 'unchanged' | 'overwrite' | 'refuse';
/** What the tag holds now: a digest, null (absent), or 'unknown' (could not be read in a dry run). */
export type Existing = string | null | 'unknown';

export interface TagPlan extends TagSpec {
  ref: string;
  existing: Existing;
  action: TagAction;
}

export interface RockPlan {
  kind: 'sparkcraft.publish.rock/plan';
  version: 2;
  line: string;
  flavour: string;
  risk: string;
  image: string;
  /** What the tags name: the one archive, or (several platforms) the image index, `file` then describing it. */
  artifact: { file: string; digest: string };
  /** A multi-architecture publish: each platform's image (pushed with the index); null for one platform. */
  index: { digest: string; platforms: Platform[] } | null;
  registry: string;
  repository: string;
  credentials: string;
  force: boolean;
  tags: TagPlan[];
  /** Refusals found by the plan (reported together; --yes stops on them). */
  problems: string[];
  /** The commands apply will run, as printed. */
  commands: string[];
}

/** What the tags will name: one archive, or (several platforms) their index; never both, never neither. */
export type DecideInput = {
  resolved: ResolvedLine;
  registry: string;
  existing: Record<string, Existing>;
  force: boolean;
  credentials: string;
  certDir?: string;
} & ({ artifact: { file: string; digest: string }; index?: undefined } | { index: { digest: string; platforms: Platform[] }; artifact?: undefined });

/** Pure: the plan. */
export function decideRockPlan(i: DecideInput): RockPlan {
  const { repository } = repositoryOf(i.registry, i.resolved.image.name);
  const problems: string[] = [];
  const artifact = i.index ? { file: `index of ${i.index.platforms.map((p) => p.name).join(', ')}`, digest: i.index.digest } : i.artifact;
  const tags: TagPlan[] = tagsForLine(i.resolved).map((t) => {
    const existing = i.existing[t.tag] ?? null;
    let action: TagAction;
    if (existing === null || existing === 'unknown') action = 'push';
    else if (existing === artifact.digest) action = 'unchanged';
    else if (t.kind === 'moving') action = 'move';
    else if (i.force) action = 'overwrite';
    else {
      action = 'refuse';
      problems.push(`immutable tag ${repository}:${t.tag} already holds ${existing}, not ${artifact.digest}`);
    }
    return { ...t, ref: `${repository}:${t.tag}`, existing, action };
  });
  const access: RegistryAccess = { authfile: '<authfile>', ...(i.certDir ? { certDir: i.certDir } : {}) };
  const commands = tags
    .filter((t) => t.action !== 'unchanged' && t.action !== 'refuse')
    .map((t) =>
      formatCommand(
        i.index
          ? copyLayoutCommand('<index layout>', INDEX_REF, t.ref, { ...access, digestFile: '<digestfile>' })
          : copyArchiveCommand(artifact.file, t.ref, { ...access, digestFile: '<digestfile>' }),
      ),
    );
  return {
    kind: 'sparkcraft.publish.rock/plan',
    version: 2,
    line: i.resolved.line.track,
    flavour: i.resolved.flavour.name,
    risk: i.resolved.risk,
    image: i.resolved.image.name,
    artifact,
    index: i.index ? { digest: i.index.digest, platforms: i.index.platforms } : null,
    registry: i.registry,
    repository,
    credentials: i.credentials,
    force: i.force,
    tags,
    problems,
    commands,
  };
}

export function formatRockPlan(p: RockPlan): string {
  const lines = [
    `plan: publish rock ${p.image} (line ${p.line}, flavour ${p.flavour}, risk ${p.risk}) → ${p.repository}`,
    `  artifact    ${p.artifact.file}`,
    `  digest      ${p.artifact.digest}${p.index ? ' (image index)' : ''}`,
    ...(p.index?.platforms ?? []).map((x) => `  ${x.name.padEnd(11)} ${x.digest}  ${x.file}`),
    `  credentials ${p.credentials}`,
  ];
  const w = Math.max(...p.tags.map((t) => t.tag.length));
  for (const t of p.tags) {
    const now = t.existing === null ? 'absent' : t.existing === 'unknown' ? 'not checked' : t.existing;
    lines.push(`  ${t.tag.padEnd(w)}  ${t.kind.padEnd(9)}  ${t.action.padEnd(9)}  (now: ${now})`);
  }
  for (const pr of p.problems) lines.push(`  refused: ${pr} (use --force to overwrite)`);
  return lines.join('\n');
}

export interface RockOptions {
  resolved: ResolvedLine;
  registry: string;
  artifact: string;
  force: boolean;
  certDir?: string;
  /** Dry runs tolerate an unreadable registry (tags become 'unknown'); apply does not. */
  dryRun: boolean;
}

/** I/O: read the artifact digest and each tag's current digest, then decide. */
export async function inspectRock(o: RockOptions, session: RegistrySession): Promise<RockPlan> {
  let digest: string;
  try {
    await fs.access(o.artifact);
  } catch {
    throw new UserError('E_ARTIFACT', `no rock at ${o.artifact}`, { hint: 'run npm run build:rock first, or pass --artifact FILE' });
  }
  let arch: string | undefined;
  try {
    const img = readArchiveImage(o.artifact);
    digest = img.manifestDigest;
    arch = img.config.architecture;
  } catch (e) {
    throw new UserError('E_ARTIFACT', `${o.artifact} is not a readable oci-archive: ${e instanceof Error ? e.message : String(e)}`, {
      hint: 'rebuild it with npm run build:rock',
    });
  }
  // The file's own platform, not its name: another architecture's image under this cell's tags would be
  // pulled by nodes of this one.
  if (arch && arch !== o.resolved.platform.oci)
    throw new UserError('E_ARTIFACT', `${o.artifact} is an image for ${arch}, and the cell ${o.resolved.key} publishes ${o.resolved.platform.oci}`, {
      hint: 'publish the file the cell built (no --artifact), or select the cell of that architecture (--arch)',
    });
  return decideRockPlan({
    resolved: o.resolved,
    registry: o.registry,
    artifact: { file: o.artifact, digest },
    existing: await existingTags(o, session),
    force: o.force,
    credentials: session.credentialsSource,
    ...(o.certDir ? { certDir: o.certDir } : {}),
  });
}

/** I/O: the plan of a multi-architecture publish, whose platforms platforms.ts matched and indexed. */
export async function inspectIndex(
  o: Omit<RockOptions, 'artifact'> & { index: { digest: string; platforms: Platform[] } },
  session: RegistrySession,
): Promise<RockPlan> {
  return decideRockPlan({
    resolved: o.resolved,
    registry: o.registry,
    index: o.index,
    existing: await existingTags(o, session),
    force: o.force,
    credentials: session.credentialsSource,
    ...(o.certDir ? { certDir: o.certDir } : {}),
  });
}

/** I/O: what each of the cell's tags holds now. */
async function existingTags(o: Pick<RockOptions, 'resolved' | 'registry' | 'dryRun'>, session: RegistrySession): Promise<Record<string, Existing>> {
  const { repository } = repositoryOf(o.registry, o.resolved.image.name);
  const existing: Record<string, Existing> = {};
  // Dry runs make one attempt per read (no waiting on an unreachable registry); apply retries.
  const policy = o.dryRun ? { ...session.retry, attempts: 1 } : session.retry;
  for (const t of tagsForLine(o.resolved)) {
    try {
      existing[t.tag] = (await session.call(`reading ${repository}:${t.tag}`, (a) => remoteDigest(`${repository}:${t.tag}`, a), policy)).value;
    } catch (e) {
      if (!o.dryRun) throw e;
      log.warn(`could not read ${repository}:${t.tag} (${e instanceof Error ? e.message : String(e)}); shown as not checked`);
      existing[t.tag] = 'unknown';
    }
  }
  return existing;
}

export interface RockResult {
  kind: 'sparkcraft.publish.rock/result';
  version: 1;
  repository: string;
  digest: string;
  pushed: Array<{ tag: string; action: TagAction; attempts: number; digest: string }>;
  verified: Array<{ ref: string; digest: string }>;
  seconds: number;
}

/**
 * I/O: push and verify. Refuses (before any change) when the plan has problems; `also`: refusals found
 * by another plan of the same publish (the signing's), reported together with the push's own.
 */
export async function applyRockPlan(plan: RockPlan, session: RegistrySession, also: UserError[] = []): Promise<RockResult> {
  const t0 = Date.now();
  const problems: UserError[] = plan.problems.map((p) => new UserError('E_IMMUTABLE_TAG', p));
  problems.push(...also);
  if (plan.tags.some((t) => t.existing === 'unknown')) {
    problems.push(new UserError('E_PLAN_INCOMPLETE', 'the plan could not read every existing tag'));
  }
  if (!session.creds) {
    problems.push(new UserError('E_NO_CREDENTIALS', `no credentials for ${session.host}`));
  }
  if (problems.length === 1) throw problems[0];
  if (problems.length > 1) throw new AggregateUserError(problems);

  const pushed: RockResult['pushed'] = [];
  // An index: one layout with every platform's blobs, assembled once for all the tags.
  const layout = plan.index && plan.tags.some((t) => t.action !== 'unchanged') ? await assembleIndexLayout(plan.index.platforms, plan.index.digest) : null;
  try {
    for (const t of plan.tags) {
      if (t.action === 'unchanged') continue;
      const { value: digest, attempts } = await session.call(`pushing ${t.ref}`, (a) =>
        layout ? pushLayout(layout, INDEX_REF, t.ref, a) : pushArchive(plan.artifact.file, t.ref, a),
      );
      if (digest !== plan.artifact.digest) {
        throw new UserError('E_DIGEST_MISMATCH', `${t.ref} was pushed as ${digest}, expected ${plan.artifact.digest}`);
      }
      log.info(`pushed ${t.ref} (${t.action}, ${attempts} attempt${attempts === 1 ? '' : 's'})`);
      pushed.push({ tag: t.tag, action: t.action, attempts, digest });
    }
  } finally {
    if (layout) await fsp.rm(layout, { recursive: true, force: true });
  }

  // Verify: every tag and the digest itself read back from the registry (and each platform's by digest).
  const verified: RockResult['verified'] = [];
  const expect = [
    ...[...plan.tags.map((t) => t.ref), `${plan.repository}@${plan.artifact.digest}`].map((ref) => ({ ref, digest: plan.artifact.digest })),
    ...(plan.index?.platforms ?? []).map((p) => ({ ref: `${plan.repository}@${p.digest}`, digest: p.digest })),
  ];
  for (const { ref, digest } of expect) {
    const { value: got } = await session.call(`verifying ${ref}`, (a) => remoteDigest(ref, a));
    if (got !== digest) {
      throw new UserError('E_VERIFY', `${ref} reads back as ${got ?? 'absent'}, expected ${digest}`, {
        hint: 'another publisher may have moved the tag; rerun publish:rock',
      });
    }
    verified.push({ ref, digest: got });
  }
  return {
    kind: 'sparkcraft.publish.rock/result',
    version: 1,
    repository: plan.repository,
    digest: plan.artifact.digest,
    pushed,
    verified,
    seconds: (Date.now() - t0) / 1000,
  };
}
