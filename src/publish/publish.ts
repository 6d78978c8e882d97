/**
 * The publish step: the rock to an OCI registry, the snap to the Snap Store, promotion between risks.
 * Each is plan → apply (plans are pure data, printed by cli.ts; `--json` is the plan object); the
 * artifact is the pack step's (or the line's file in dist/, or one given).
 */
import * as path from 'node:path';
import type { Matrix, ResolvedLine, Risk } from '../config/types.ts';
import { AggregateUserError, UserError } from '../lib/errors.ts';
import type { Workspace } from '../lib/workspace.ts';
import type { Packed } from '../pack/pack.ts';
import { storeReadiness } from '../lib/tools/snapcraft-store.ts';
import { DEFAULT_RETRY, type RetryPolicy } from '../lib/retry.ts';
import { existsSync } from 'node:fs';
import { findRockArtifact } from './artifact.ts';
import { imageIndex, matchCells, matchPlatforms, readPlatformArchive, type PlatformImage } from './platforms.ts';
import { applyRockPlan, formatRockPlan, inspectIndex, inspectRock, repositoryOf, type RockPlan, type RockResult } from './registry.ts';
import { RegistrySession } from './session.ts';
import { applySigning, decideIndexSigning, formatSignPlan, inspectSigning, type SignPlan, type SignResult } from './sign.ts';
import {
  RISKS,
  applySnapUpload,
  findSnapArtifact,
  planPromote,
  planSnapUpload,
  readSnapMeta,
  snapRefusal,
  applyStoreCommand,
  type PromotePlan,
  type SnapMeta,
  type SnapPlan,
  type SnapResult,
} from './store.ts';

export interface RockPublishOptions {
  /** The file to publish (default: the pack step's, else the line's rock in dist/). */
  artifact?: string;
  /** Several architectures: the files, each the platform its config names (default: each cell's rock in dist/). */
  artifacts?: string[];
  /** Several architectures: an SBOM (and a layered flavour's base SBOM) per architecture, over `sbom`/`baseSbom`. */
  sboms?: Record<string, string>;
  baseSboms?: Record<string, string>;
  packed?: Packed;
  registry?: string;
  registryCertDir?: string;
  force: boolean;
  dryRun: boolean;
  attempts: number;
  retryDelayMs: number;
  /** Signing: a key file, COSIGN_KEY from the environment (default), keyless OIDC, or none. */
  signKey?: string;
  keyless?: boolean;
  noSign?: boolean;
  /** The SBOM to attach (default: the line's staged build/<track>/<flavour>/inputs/sbom.spdx.json). */
  sbom?: string;
  /** A layered flavour: its base's SBOM, merged into the one attached (default: the base line's staged one). */
  baseSbom?: string;
  /** The lock whose inputs the provenance lists (default: sparkcraft.lock.json). */
  lockFile?: string;
}

/**
 * The rock's publish plan: the push (registry.ts) and, for the digest it pushes, the signing with its
 * SBOM and provenance (sign.ts; null: not planned). An image index: `signing` is the index's signature,
 * `platformSigning` each platform's signature, SBOM and provenance. `commands` holds every plan's commands, push first.
 */
export type PublishRockPlan = RockPlan & { signing: SignPlan | null; platformSigning: SignPlan[] };

export function formatPublishRockPlan(p: PublishRockPlan): string {
  // Unsigned: the one line saying so, not one per platform.
  const platforms = p.signing?.key ? p.platformSigning.flatMap(formatSignPlan) : [];
  return [formatRockPlan(p), ...platforms, ...(p.signing ? formatSignPlan(p.signing) : [])].join('\n');
}

/** Every refusal of the plan's signing (each platform's, the index's), once each. */
export function signingProblems(p: PublishRockPlan): string[] {
  return [...new Set([...p.platformSigning, ...(p.signing ? [p.signing] : [])].flatMap((s) => s.problems))];
}

/**
 * The plan, and the registry session apply uses (close it when done). `cells`: the cell of each
 * architecture the tags name (one: the tags name its image; several: an index of all of them).
 */
export async function planRockPublish(
  cells: ResolvedLine | ResolvedLine[],
  ws: Workspace,
  o: RockPublishOptions,
  env: NodeJS.ProcessEnv,
): Promise<{ plan: PublishRockPlan; session: RegistrySession }> {
  const all = Array.isArray(cells) ? cells : [cells];
  const r = all[0]!;
  if (all.length > 1) return planIndexPublish(all, ws, o, env);
  const given = o.artifact ?? o.artifacts?.[0];
  const artifact = given ? path.resolve(given) : (o.packed?.artifact ?? (await findRockArtifact(ws.root, r)));
  const { registry, certDir, session } = sessionFor(r, o, env);
  try {
    const push = await inspectRock({ resolved: r, registry, artifact, force: o.force, dryRun: o.dryRun, ...(certDir ? { certDir } : {}) }, session);
    const signing = await planSigning(r, ws, o, env, {
      repository: push.repository,
      digest: push.artifact.digest,
      artifact,
      ...(o.packed?.base ? { baseDigest: o.packed.base.manifestDigest } : {}),
    });
    return { plan: { ...push, commands: [...push.commands, ...signing.commands], signing, platformSigning: [] }, session };
  } catch (e) {
    await session.close();
    throw e;
  }
}

/**
 * The signing plan of one image of CELL: its SBOM is `--sbom ARCH=FILE` for the cell's architecture, else
 * a bare `--sbom FILE`, else the cell's staged one (the base SBOM likewise).
 */
function planSigning(
  cell: ResolvedLine,
  ws: Workspace,
  o: RockPublishOptions,
  env: NodeJS.ProcessEnv,
  image: { repository: string; digest: string; artifact: string; baseDigest?: string },
): Promise<SignPlan> {
  const sbom = o.sboms?.[cell.arch] ?? o.sbom;
  const baseSbom = o.baseSboms?.[cell.arch] ?? o.baseSbom;
  return inspectSigning({
    resolved: cell,
    repository: image.repository,
    digest: image.digest,
    root: ws.root,
    artifact: image.artifact,
    ...(image.baseDigest ? { baseDigest: image.baseDigest } : {}),
    ...(baseSbom ? { baseSbomFile: baseSbom } : {}),
    lockFile: o.lockFile ? path.resolve(o.lockFile) : ws.lockFile,
    ...(sbom ? { sbomFile: sbom } : {}),
    ...(o.signKey ? { signKey: o.signKey } : {}),
    ...(o.keyless ? { keyless: true } : {}),
    ...(o.noSign ? { noSign: true } : {}),
    env,
  });
}

function sessionFor(r: ResolvedLine, o: RockPublishOptions, env: NodeJS.ProcessEnv): { registry: string; certDir?: string; session: RegistrySession } {
  const registry = o.registry || env.SPARKCRAFT_REGISTRY || r.image.registry;
  const certDir = o.registryCertDir || env.SPARKCRAFT_REGISTRY_CERT_DIR || undefined;
  const retry: RetryPolicy = { attempts: Math.max(1, o.attempts), baseDelayMs: o.retryDelayMs, maxDelayMs: Math.max(o.retryDelayMs, DEFAULT_RETRY.maxDelayMs) };
  return { registry, ...(certDir ? { certDir } : {}), session: new RegistrySession(repositoryOf(registry, r.image.name).host, env, certDir, retry) };
}

/**
 * The multi-architecture plan: every platform's archive (given, else each cell's in dist/), matched to
 * its cell by the platform its config names; one missing, unreadable or doubled refuses the plan whole,
 * before anything is read from the registry. The tags name the image index; each platform is signed
 * with its own cell's SBOM and provenance, the index is signed too.
 */
async function planIndexPublish(
  cells: ResolvedLine[],
  ws: Workspace,
  o: RockPublishOptions,
  env: NodeJS.ProcessEnv,
): Promise<{ plan: PublishRockPlan; session: RegistrySession }> {
  const r = cells[0]!;
  const files = o.artifacts?.length ? o.artifacts.map((f) => path.resolve(f)) : cells.map((c) => path.join(ws.root, c.paths.rock)).filter((f) => existsSync(f));
  const found: PlatformImage[] = [];
  const unreadable: string[] = [];
  for (const f of files) {
    try {
      found.push(await readPlatformArchive(f));
    } catch (e) {
      unreadable.push(`${f} is not a readable oci-archive (${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
    }
  }
  const { platforms, problems } = matchPlatforms(cells, found);
  if (unreadable.length || problems.length)
    throw new UserError(
      'E_ARTIFACT',
      `the ${cells.map((c) => c.arch).join(' + ')} publish of ${r.image.name} ${r.version} is refused whole: ${[...unreadable, ...problems].join('; ')}`,
      {
        hint: `every architecture of the matrix is published under one index: build each (npm run build:rock -- --arch A) or give each file with --artifact`,
      },
    );
  const index = imageIndex(platforms);
  const { registry, certDir, session } = sessionFor(r, o, env);
  try {
    const push = await inspectIndex(
      { resolved: r, registry, index: { digest: index.digest, platforms }, force: o.force, dryRun: o.dryRun, ...(certDir ? { certDir } : {}) },
      session,
    );
    const platformSigning: SignPlan[] = [];
    for (const p of platforms) {
      const cell = cells.find((c) => c.arch === p.arch)!;
      platformSigning.push(await planSigning(cell, ws, o, env, { repository: push.repository, digest: p.digest, artifact: p.file }));
    }
    const first = platformSigning[0]!;
    const signing = decideIndexSigning(push.repository, index.digest, { key: first.key, source: first.keySource });
    return {
      plan: { ...push, commands: [...push.commands, ...platformSigning.flatMap((s) => s.commands), ...signing.commands], signing, platformSigning },
      session,
    };
  } catch (e) {
    await session.close();
    throw e;
  }
}

/**
 * Push and read back every tag, then sign the digest and attach its SBOM and provenance (when planned).
 * An index: each platform signed and attested first, the index last, whose read-back verifies them all.
 */
export async function applyRockPublish(
  plan: PublishRockPlan,
  session: RegistrySession,
  env: NodeJS.ProcessEnv,
): Promise<RockResult & { signing: SignResult | null; platformSigning: SignResult[] }> {
  const result = await applyRockPlan(
    plan,
    session,
    signingProblems(plan).map((p) => new UserError('E_SIGNING', p)),
  );
  const platformSigning: SignResult[] = [];
  for (const s of plan.platformSigning) if (s.key) platformSigning.push(await applySigning(s, session, env, { verify: false }));
  const signing = plan.signing?.key ? await applySigning(plan.signing, session, env) : null;
  return { ...result, signing, platformSigning };
}

/**
 * The snap's upload plan, one per architecture (`cells`: the cell of each architecture of the matrix):
 * each file is matched to its cell by the architecture its meta/snap.yaml names (given files, else each
 * cell's in dist/); a missing one refuses the publish whole before anything is uploaded.
 */
export async function planSnapPublish(
  cells: ResolvedLine | ResolvedLine[],
  ws: Workspace,
  o: { artifact?: string; artifacts?: string[]; packed?: Packed },
  env: NodeJS.ProcessEnv,
): Promise<SnapPlan[]> {
  const all = Array.isArray(cells) ? cells : [cells];
  const { missing } = await storeReadiness(env);
  const plan = async (r: ResolvedLine, file: string, meta?: SnapMeta) =>
    planSnapUpload({ resolved: r, snapName: r.snap.name, file, meta: meta ?? (await readSnapMeta(file)), missing });
  if (all.length === 1) {
    const r = all[0]!;
    const given = o.artifact ?? o.artifacts?.[0];
    return [await plan(r, given ? path.resolve(given) : (o.packed?.artifact ?? (await findSnapArtifact(ws.root, r))))];
  }
  const files = o.artifacts?.length ? o.artifacts.map((f) => path.resolve(f)) : all.map((c) => path.join(ws.root, c.paths.snap)).filter((f) => existsSync(f));
  const metas = await Promise.all(files.map(async (file) => ({ file, meta: await readSnapMeta(file) })));
  const { matched, problems } = matchCells(all, metas, {
    fits: (c, m) => !!m.meta.architectures?.includes(c.arch),
    foreign: (m) => `${m.file} is built for ${m.meta.architectures?.join(', ') ?? 'no architecture it names'}, which the matrix does not build`,
    several: (c, ms) => `${ms.length} snaps are built for ${c.arch}: ${ms.map((m) => m.file).join(', ')}`,
    missing: (c) => `no ${c.arch} snap of ${c.key} (${c.paths.snap}): build it with npm run build:snap -- --arch ${c.arch}`,
  });
  if (problems.length)
    throw new UserError(
      'E_ARTIFACT',
      `the ${all.map((c) => c.arch).join(' + ')} upload of ${all[0]!.snap.name} ${all[0]!.snap.version} is refused whole: ${problems.join('; ')}`,
      {
        hint: 'the store gets one upload per architecture of the matrix: build each, or give each file with --artifact',
      },
    );
  return Promise.all(matched.map(([c, m]) => plan(c, m.file, m.meta)));
}

/** Every upload's refusals first (nothing uploaded if any), then each upload. */
export async function applySnapPublish(plans: SnapPlan[], env: NodeJS.ProcessEnv): Promise<SnapResult[]> {
  const refusals = plans.map(snapRefusal).filter((e): e is NonNullable<typeof e> => !!e);
  if (refusals.length === 1) throw refusals[0];
  if (refusals.length) throw new AggregateUserError(refusals.flatMap((e) => (e instanceof AggregateUserError ? e.problems : [e])));
  const out: SnapResult[] = [];
  for (const p of plans) out.push(await applySnapUpload(p, env));
  return out;
}

export function checkRisk(r: string | undefined): void {
  if (r !== undefined && !RISKS.includes(r as Risk)) throw new UserError('E_RISK', `unknown risk "${r}"`, { hint: `one of ${RISKS.join(', ')}` });
}

export async function planPromotion(r: ResolvedLine, o: { to: string; from?: string; revision?: number }, env: NodeJS.ProcessEnv): Promise<PromotePlan> {
  checkRisk(o.to);
  checkRisk(o.from);
  const { missing } = await storeReadiness(env);
  return planPromote({
    snapName: r.snap.name,
    track: r.line.track,
    to: o.to as Risk,
    ...(o.from ? { from: o.from as Risk } : {}),
    ...(o.revision !== undefined ? { revision: o.revision } : {}),
    missing,
  });
}

export async function applyPromotion(plan: PromotePlan, env: NodeJS.ProcessEnv): Promise<{ to: string; output: string }> {
  if (plan.missing.length) {
    throw new UserError('E_STORE_UNAVAILABLE', `cannot release in the Snap Store: ${plan.missing.join('; ')}`);
  }
  const r = await applyStoreCommand([plan.argv[0]!, plan.argv.slice(1)], env, `snapcraft ${plan.argv[1]} to ${plan.to}`);
  return { to: plan.to, output: r.output };
}

/** Pure: what release pipelines need to know about a line, as `key=value` lines (for $GITHUB_OUTPUT). */
/**
 * The line's names as key=value outputs (release pipelines read them). With the matrix, also the
 * line's available flavours (`flavours`, JSON) and those layered over another (`layered`, JSON).
 */
export function resolveOutputs(r: ResolvedLine, m?: Matrix): Record<string, string> {
  const offered = m ? r.line.flavours.filter((n) => m.flavours[n] && m.flavours[n]!.available !== false) : [];
  return {
    ...(m ? { flavours: JSON.stringify(offered), layered: JSON.stringify(offered.filter((n) => m.flavours[n]!.over)) } : {}),
    over: r.flavour.over ?? '',
    track: r.line.track,
    spark: r.line.spark,
    flavour: r.flavour.name,
    risk: r.risk,
    image: r.image.name,
    registry: r.image.registry,
    tags: r.image.tags.join(' '),
    'snap-name': r.snap.name,
    'snap-channel': r.snap.channel,
    'build-dir': r.paths.build,
    'rock-file': r.paths.rock,
    'snap-file': r.paths.snap,
  };
}
