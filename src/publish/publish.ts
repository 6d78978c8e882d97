/**
 * The publish step: the rock to an OCI registry, the snap to the Snap Store, promotion between risks.
 * Each is plan → apply (plans are pure data, printed by cli.ts; `--json` is the plan object); the
 * artifact is the pack step's (or the line's file in dist/, or one given).
 */
import * as path from 'node:path';
import type { Matrix, ResolvedLine, Risk } from '../config/types.ts';
import { UserError } from '../lib/errors.ts';
import type { Workspace } from '../lib/workspace.ts';
import type { Packed } from '../pack/pack.ts';
import { storeReadiness } from '../lib/tools/snapcraft-store.ts';
import { DEFAULT_RETRY, type RetryPolicy } from '../lib/retry.ts';
import { findRockArtifact } from './artifact.ts';
import { applyRockPlan, formatRockPlan, inspectRock, repositoryOf, type RockPlan, type RockResult } from './registry.ts';
import { RegistrySession } from './session.ts';
import { applySigning, formatSignPlan, inspectSigning, type SignPlan, type SignResult } from './sign.ts';
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
  type SnapPlan,
  type SnapResult,
} from './store.ts';

export interface RockPublishOptions {
  /** The file to publish (default: the pack step's, else the line's rock in dist/). */
  artifact?: string;
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
 * SBOM and provenance (sign.ts; null: not planned). `commands` holds both plans' commands, push first.
 */
export type PublishRockPlan = RockPlan & { signing: SignPlan | null };

export function formatPublishRockPlan(p: PublishRockPlan): string {
  return [formatRockPlan(p), ...(p.signing ? formatSignPlan(p.signing) : [])].join('\n');
}

/** The plan, and the registry session apply uses (close it when done). */
export async function planRockPublish(
  r: ResolvedLine,
  ws: Workspace,
  o: RockPublishOptions,
  env: NodeJS.ProcessEnv,
): Promise<{ plan: PublishRockPlan; session: RegistrySession }> {
  const registry = o.registry || env.SPARKCRAFT_REGISTRY || r.image.registry;
  const artifact = o.artifact ? path.resolve(o.artifact) : (o.packed?.artifact ?? (await findRockArtifact(ws.root, r)));
  const certDir = o.registryCertDir || env.SPARKCRAFT_REGISTRY_CERT_DIR || undefined;
  const retry: RetryPolicy = { attempts: Math.max(1, o.attempts), baseDelayMs: o.retryDelayMs, maxDelayMs: Math.max(o.retryDelayMs, DEFAULT_RETRY.maxDelayMs) };
  const session = new RegistrySession(repositoryOf(registry, r.image.name).host, env, certDir, retry);
  try {
    const push = await inspectRock({ resolved: r, registry, artifact, force: o.force, dryRun: o.dryRun, ...(certDir ? { certDir } : {}) }, session);
    const signing = await inspectSigning({
      resolved: r,
      repository: push.repository,
      digest: push.artifact.digest,
      root: ws.root,
      artifact,
      ...(o.packed?.base ? { baseDigest: o.packed.base.manifestDigest } : {}),
      ...(o.baseSbom ? { baseSbomFile: o.baseSbom } : {}),
      lockFile: o.lockFile ? path.resolve(o.lockFile) : ws.lockFile,
      ...(o.sbom ? { sbomFile: o.sbom } : {}),
      ...(o.signKey ? { signKey: o.signKey } : {}),
      ...(o.keyless ? { keyless: true } : {}),
      ...(o.noSign ? { noSign: true } : {}),
      env,
    });
    return { plan: { ...push, commands: [...push.commands, ...signing.commands], signing }, session };
  } catch (e) {
    await session.close();
    throw e;
  }
}

/** Push and read back every tag, then sign the digest and attach its SBOM and provenance (when planned). */
export async function applyRockPublish(
  plan: PublishRockPlan,
  session: RegistrySession,
  env: NodeJS.ProcessEnv,
): Promise<RockResult & { signing: SignResult | null }> {
  const result = await applyRockPlan(
    plan,
    session,
    (plan.signing?.problems ?? []).map((p) => new UserError('E_SIGNING', p)),
  );
  const signing = plan.signing?.key ? await applySigning(plan.signing, session, env) : null;
  return { ...result, signing };
}

export async function planSnapPublish(r: ResolvedLine, ws: Workspace, o: { artifact?: string; packed?: Packed }, env: NodeJS.ProcessEnv): Promise<SnapPlan> {
  const file = o.artifact ? path.resolve(o.artifact) : (o.packed?.artifact ?? (await findSnapArtifact(ws.root, r)));
  const meta = await readSnapMeta(file);
  const { missing } = await storeReadiness(env);
  return planSnapUpload({ resolved: r, snapName: r.snap.name, file, meta, missing });
}

export async function applySnapPublish(plan: SnapPlan, env: NodeJS.ProcessEnv): Promise<SnapResult> {
  const refusal = snapRefusal(plan);
  if (refusal) throw refusal;
  return applySnapUpload(plan, env);
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
