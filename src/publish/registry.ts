/**
 * Rock → OCI registry (GHCR in production), plan → apply.
 *
 *   tagsForLine(resolved)            pure: the line's tags, each immutable (full version) or moving
 *   decideRockPlan(input)            pure: given the artifact digest and what each tag holds now, what
 *                                    happens to each tag (push / move / unchanged / overwrite / refuse)
 *   inspectRock(...)                 I/O: artifact digest + existing tags → RockPlan
 *   applyRockPlan(plan, ...)         I/O: pre-checks (all problems at once), push with bounded retries,
 *                                    verify every tag and the digest by reading the manifests back
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { ResolvedLine } from '../config/types.ts';
import { AggregateUserError, UserError } from '../lib/errors.ts';
import { log } from '../lib/log.ts';
import { SkopeoError, archiveDigest, copyArchiveCommand, formatCommand, pushArchive, remoteDigest, type RegistryAccess } from '../lib/tools/skopeo-registry.ts';
import { credentialsFromEnv, writeAuthFile, type RegistryCredentials } from './credentials.ts';
import { RetriesExhausted, withRetry, type RetryPolicy } from '../lib/retry.ts';
import { formatSignPlan, type SignPlan } from './sign.ts';

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
  artifact: { file: string; digest: string };
  registry: string;
  repository: string;
  credentials: string;
  force: boolean;
  tags: TagPlan[];
  /** Refusals found by the plan (reported together; --yes stops on them). */
  problems: string[];
  /** The commands apply will run, as printed. */
  commands: string[];
  /** Signing the pushed digest and attaching its SBOM and provenance (src/publish/sign.ts); null: not planned. */
  signing: SignPlan | null;
}

export interface DecideInput {
  resolved: ResolvedLine;
  registry: string;
  artifact: { file: string; digest: string };
  existing: Record<string, Existing>;
  force: boolean;
  credentials: string;
  certDir?: string;
  signing?: SignPlan;
}

/** Pure: the plan. */
export function decideRockPlan(i: DecideInput): RockPlan {
  const { repository } = repositoryOf(i.registry, i.resolved.image.name);
  const problems: string[] = [];
  const tags: TagPlan[] = tagsForLine(i.resolved).map((t) => {
    const existing = i.existing[t.tag] ?? null;
    let action: TagAction;
    if (existing === null || existing === 'unknown') action = 'push';
    else if (existing === i.artifact.digest) action = 'unchanged';
    else if (t.kind === 'moving') action = 'move';
    else if (i.force) action = 'overwrite';
    else {
      action = 'refuse';
      problems.push(`immutable tag ${repository}:${t.tag} already holds ${existing}, not ${i.artifact.digest}`);
    }
    return { ...t, ref: `${repository}:${t.tag}`, existing, action };
  });
  const access: RegistryAccess = { authfile: '<authfile>', ...(i.certDir ? { certDir: i.certDir } : {}) };
  const commands = tags
    .filter((t) => t.action !== 'unchanged' && t.action !== 'refuse')
    .map((t) => formatCommand(copyArchiveCommand(i.artifact.file, t.ref, { ...access, digestFile: '<digestfile>' })));
  return {
    kind: 'sparkcraft.publish.rock/plan',
    version: 2,
    line: i.resolved.line.track,
    flavour: i.resolved.flavour.name,
    risk: i.resolved.risk,
    image: i.resolved.image.name,
    artifact: i.artifact,
    registry: i.registry,
    repository,
    credentials: i.credentials,
    force: i.force,
    tags,
    problems,
    commands: [...commands, ...(i.signing?.commands ?? [])],
    signing: i.signing ?? null,
  };
}

export function formatRockPlan(p: RockPlan): string {
  const lines = [
    `plan: publish rock ${p.image} (line ${p.line}, flavour ${p.flavour}, risk ${p.risk}) → ${p.repository}`,
    `  artifact    ${p.artifact.file}`,
    `  digest      ${p.artifact.digest}`,
    `  credentials ${p.credentials}`,
  ];
  const w = Math.max(...p.tags.map((t) => t.tag.length));
  for (const t of p.tags) {
    const now = t.existing === null ? 'absent' : t.existing === 'unknown' ? 'not checked' : t.existing;
    lines.push(`  ${t.tag.padEnd(w)}  ${t.kind.padEnd(9)}  ${t.action.padEnd(9)}  (now: ${now})`);
  }
  for (const pr of p.problems) lines.push(`  refused: ${pr} (use --force to overwrite)`);
  if (p.signing) lines.push(...formatSignPlan(p.signing));
  return lines.join('\n');
}

/** Default artifact: the line's dist/<image>_<version>_<arch>.rock (host arch first, then any arch). */
export async function findRockArtifact(root: string, r: ResolvedLine): Promise<string> {
  return findArtifact(root, r.paths.rock, r.arch, 'rock', 'npm run build:rock');
}

/**
 * `rel` (`dist/<name>_<version>_<arch>.<ext>`) when it exists, else the same name built for another
 * architecture; refuses with one line naming the expected file.
 */
export async function findArtifact(root: string, rel: string, arch: string, kind: 'rock' | 'snap', build: string): Promise<string> {
  const dist = path.join(root, path.dirname(rel));
  const want = path.basename(rel).slice(0, -`${arch}.${kind}`.length);
  let names: string[] = [];
  try {
    names = await fs.readdir(dist);
  } catch {
    /* no dist/ */
  }
  const candidates = names.filter((n) => n.startsWith(want) && n.endsWith(`.${kind}`)).sort();
  const pick = candidates.find((n) => n === path.basename(rel)) ?? candidates[0];
  if (!pick) {
    throw new UserError('E_ARTIFACT', `no ${kind} ${rel} to publish`, {
      hint: `run ${build} first, or pass --artifact FILE`,
    });
  }
  return path.join(dist, pick);
}

export interface RockOptions {
  resolved: ResolvedLine;
  registry: string;
  artifact: string;
  force: boolean;
  certDir?: string;
  /** Dry runs tolerate an unreadable registry (tags become 'unknown'); apply does not. */
  dryRun: boolean;
  /** The signing plan for the digest (src/publish/sign.ts inspectSigning); absent: none. */
  signing?: (repository: string, digest: string) => Promise<SignPlan>;
}

/** The registry session: credentials in an auth file, retry policy, error translation. */
export class RegistrySession {
  readonly host: string;
  readonly creds: RegistryCredentials | null;
  readonly certDir: string | undefined;
  readonly retry: RetryPolicy;
  private auth: Awaited<ReturnType<typeof writeAuthFile>> | undefined;

  constructor(host: string, env: NodeJS.ProcessEnv, certDir: string | undefined, retry: RetryPolicy) {
    this.host = host;
    this.creds = credentialsFromEnv(host, env);
    this.certDir = certDir;
    this.retry = retry;
  }
  get credentialsSource(): string {
    return this.creds ? `${this.creds.source} (user ${this.creds.username})` : 'anonymous';
  }
  async access(): Promise<RegistryAccess> {
    this.auth ??= await writeAuthFile(this.host, this.creds);
    return {
      ...(this.auth.path ? { authfile: this.auth.path } : {}),
      ...(this.certDir ? { certDir: this.certDir } : {}),
      env: this.auth.env,
    };
  }
  async close(): Promise<void> {
    await this.auth?.dispose();
    this.auth = undefined;
  }
  /** Run a registry operation with bounded retries on network errors and 5xx. */
  async call<T>(what: string, op: (a: RegistryAccess) => Promise<T>, policy = this.retry): Promise<{ value: T; attempts: number }> {
    const a = await this.access();
    try {
      return await withRetry(
        () => op(a),
        policy,
        (e) => e instanceof SkopeoError && e.retryable,
        ({ attempt, error, delayMs }) =>
          log.warn(
            `${what}: attempt ${attempt}/${policy.attempts} failed (${error instanceof Error ? error.message : String(error)}); retrying in ${delayMs} ms`,
          ),
      );
    } catch (e) {
      throw this.translate(what, e);
    }
  }
  translate(what: string, e: unknown): unknown {
    const last = e instanceof RetriesExhausted ? e.last : e;
    const tries = e instanceof RetriesExhausted ? ` after ${e.attempts} attempts` : '';
    if (!(last instanceof SkopeoError)) return e;
    const src = this.creds ? this.creds.source : 'no credentials (anonymous)';
    switch (last.kind) {
      case 'auth':
        return last.status === 403
          ? new UserError('E_REGISTRY_DENIED', `${this.host} denied ${what} (403 forbidden) for ${src}`)
          : new UserError('E_REGISTRY_AUTH', `${this.host} rejected the credentials for ${what} (401 unauthorized; from ${src})`);
      case 'tls':
        return new UserError('E_REGISTRY_TLS', `TLS verification of ${this.host} failed during ${what}: ${lastLine(last)}`);
      case 'network':
      case 'server':
        return new UserError('E_REGISTRY_UNAVAILABLE', `${what} failed${tries} (${last.kind}${last.status ? ` ${last.status}` : ''}): ${lastLine(last)}`, {
          hint: `check that ${this.host} is reachable and retry`,
        });
      default:
        return new UserError('E_REGISTRY', `${what} failed: ${lastLine(last)}`);
    }
  }
}

function lastLine(e: SkopeoError): string {
  return e.message.replace(/^skopeo \S+ failed \([^)]*\): /, '');
}

/** I/O: read the artifact digest and each tag's current digest, then decide. */
export async function inspectRock(o: RockOptions, session: RegistrySession): Promise<RockPlan> {
  let digest: string;
  try {
    await fs.access(o.artifact);
  } catch {
    throw new UserError('E_ARTIFACT', `no rock at ${o.artifact}`, { hint: 'run npm run build:rock first, or pass --artifact FILE' });
  }
  try {
    digest = await archiveDigest(o.artifact);
  } catch (e) {
    throw new UserError('E_ARTIFACT', `${o.artifact} is not a readable oci-archive: ${e instanceof Error ? e.message : String(e)}`, {
      hint: 'rebuild it with npm run build:rock',
    });
  }
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
  return decideRockPlan({
    resolved: o.resolved,
    registry: o.registry,
    artifact: { file: o.artifact, digest },
    existing,
    force: o.force,
    credentials: session.credentialsSource,
    ...(o.certDir ? { certDir: o.certDir } : {}),
    ...(o.signing ? { signing: await o.signing(repository, digest) } : {}),
  });
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

/** I/O: push and verify. Refuses (before any change) when the plan has problems. */
export async function applyRockPlan(plan: RockPlan, session: RegistrySession): Promise<RockResult> {
  const t0 = Date.now();
  const problems: UserError[] = plan.problems.map((p) => new UserError('E_IMMUTABLE_TAG', p));
  for (const p of plan.signing?.problems ?? []) problems.push(new UserError('E_SIGNING', p));
  if (plan.tags.some((t) => t.existing === 'unknown')) {
    problems.push(new UserError('E_PLAN_INCOMPLETE', 'the plan could not read every existing tag'));
  }
  if (!session.creds) {
    problems.push(new UserError('E_NO_CREDENTIALS', `no credentials for ${session.host}`));
  }
  if (problems.length === 1) throw problems[0];
  if (problems.length > 1) throw new AggregateUserError(problems);

  const pushed: RockResult['pushed'] = [];
  for (const t of plan.tags) {
    if (t.action === 'unchanged') continue;
    const { value: digest, attempts } = await session.call(`pushing ${t.ref}`, (a) => pushArchive(plan.artifact.file, t.ref, a));
    if (digest !== plan.artifact.digest) {
      throw new UserError('E_DIGEST_MISMATCH', `${t.ref} was pushed as ${digest}, expected ${plan.artifact.digest}`);
    }
    log.info(`pushed ${t.ref} (${t.action}, ${attempts} attempt${attempts === 1 ? '' : 's'})`);
    pushed.push({ tag: t.tag, action: t.action, attempts, digest });
  }

  // Verify: every tag and the digest itself read back from the registry.
  const verified: RockResult['verified'] = [];
  const refs = [...plan.tags.map((t) => t.ref), `${plan.repository}@${plan.artifact.digest}`];
  for (const ref of refs) {
    const { value: got } = await session.call(`verifying ${ref}`, (a) => remoteDigest(ref, a));
    if (got !== plan.artifact.digest) {
      throw new UserError('E_VERIFY', `${ref} reads back as ${got ?? 'absent'}, expected ${plan.artifact.digest}`, {
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
