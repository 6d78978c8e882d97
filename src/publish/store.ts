/**
 * Snap → Snap Store, plan → apply. The channel (`<track>/<risk>`) comes from the matrix; promotion
 * between risks is a separate, explicit command.
 *
 *   planSnapUpload(...)   pure: the file, its name/version (checked against the matrix), the channel,
 *                         the exact snapcraft command, and what is missing to run it
 *   applySnapUpload(...)  I/O: refuses with one line when snapcraft or credentials are missing
 *   planPromote(...)      pure: `snapcraft release <name> <rev> <track>/<risk>` or `snapcraft promote`
 */
import { promises as fs } from 'node:fs';
import { catFile } from '../lib/tools/squashfs.ts';
import { parse as parseYaml } from 'yaml';
import type { ResolvedLine, Risk } from '../config/types.ts';
import { AggregateUserError, UserError } from '../lib/errors.ts';
import { formatCommand, parseUploadRevision, promoteCommand, releaseCommand, runStore, uploadCommand, type Command } from '../lib/tools/snapcraft-store.ts';
import { findArtifact } from './artifact.ts';

export const RISKS: Risk[] = ['edge', 'beta', 'candidate', 'stable'];

export interface SnapMeta {
  name: string;
  version: string;
  grade?: string;
  confinement?: string;
  /** meta/snap.yaml's `architectures` (the store files an upload under each). */
  architectures?: string[];
}

export interface SnapPlan {
  kind: 'sparkcraft.publish.snap/plan';
  version: 1;
  snap: string;
  file: string;
  meta: SnapMeta;
  channel: string;
  command: string;
  argv: string[];
  /** What prevents running it here (empty = ready). */
  missing: string[];
  /** Mismatches between the file and the matrix (always fatal). */
  problems: string[];
}

/** Pure. */
export function planSnapUpload(i: { resolved: ResolvedLine; snapName: string; file: string; meta: SnapMeta; missing: string[] }): SnapPlan {
  const channel = i.resolved.snap.channel;
  const cmd = uploadCommand(i.file, channel);
  const problems: string[] = [];
  if (i.meta.name !== i.snapName) problems.push(`${i.file} is snap "${i.meta.name}", the matrix publishes "${i.snapName}"`);
  if (i.meta.version !== i.resolved.snap.version)
    problems.push(`${i.file} has version ${i.meta.version}, line ${i.resolved.line.track} is ${i.resolved.snap.version}`);
  if (i.meta.architectures && !i.meta.architectures.includes(i.resolved.arch))
    problems.push(`${i.file} is built for ${i.meta.architectures.join(', ')}, the upload of ${i.resolved.arch}`);
  if (i.resolved.risk === 'stable' || i.resolved.risk === 'candidate') {
    if (i.meta.grade && i.meta.grade !== 'stable') problems.push(`${i.file} has grade ${i.meta.grade}; ${i.resolved.risk} needs grade stable`);
  }
  return {
    kind: 'sparkcraft.publish.snap/plan',
    version: 1,
    snap: i.snapName,
    file: i.file,
    meta: i.meta,
    channel,
    command: formatCommand(cmd),
    argv: [cmd[0], ...cmd[1]],
    missing: i.missing,
    problems,
  };
}

export function formatSnapPlan(p: SnapPlan): string {
  const arch = p.meta.architectures ? ` (${p.meta.architectures.join(', ')})` : '';
  const lines = [`plan: upload snap ${p.snap} ${p.meta.version}${arch} → Snap Store channel ${p.channel}`, `  file     ${p.file}`, `  command  ${p.command}`];
  for (const m of p.missing) lines.push(`  missing: ${m}`);
  for (const pr of p.problems) lines.push(`  problem: ${pr}`);
  return lines.join('\n');
}

/** I/O: read meta/snap.yaml out of the squashfs with unsquashfs (no snapd needed). */
export async function readSnapMeta(file: string): Promise<SnapMeta> {
  try {
    await fs.access(file);
  } catch {
    throw new UserError('E_ARTIFACT', `no snap at ${file}`, { hint: 'run npm run build:snap first, or pass --artifact FILE' });
  }
  const r = await catFile(file, 'meta/snap.yaml');
  if (!r.ok) {
    throw new UserError('E_ARTIFACT', `${file} is not a readable snap (unsquashfs: ${r.why})`, {
      hint: 'rebuild it with npm run build:snap',
    });
  }
  const doc = parseYaml(r.text) as Record<string, unknown> | null;
  if (!doc || typeof doc.name !== 'string' || doc.version === undefined) {
    throw new UserError('E_ARTIFACT', `${file}: meta/snap.yaml lacks name or version`, { hint: 'rebuild it with npm run build:snap' });
  }
  return {
    name: doc.name,
    version: String(doc.version),
    ...(typeof doc.grade === 'string' ? { grade: doc.grade } : {}),
    ...(typeof doc.confinement === 'string' ? { confinement: doc.confinement } : {}),
    ...(Array.isArray(doc.architectures) ? { architectures: doc.architectures.map(String) } : {}),
  };
}

/** Default artifact: the line's dist/<snap>_<version>_<arch>.snap (host arch first, then any arch). */
export async function findSnapArtifact(root: string, r: ResolvedLine): Promise<string> {
  return findArtifact(root, r.paths.snap, 'snap', 'npm run build:snap');
}

/** Problems that stop an upload (reported together). */
export function snapRefusal(p: SnapPlan): UserError | null {
  const errs = [
    ...p.problems.map((m) => new UserError('E_SNAP_MISMATCH', m)),
    ...p.missing.map((m) => new UserError('E_STORE_UNAVAILABLE', `cannot upload to the Snap Store: ${m}`)),
  ];
  if (errs.length === 0) return null;
  return errs.length === 1 ? errs[0]! : new AggregateUserError(errs);
}

export interface SnapResult {
  kind: 'sparkcraft.publish.snap/result';
  version: 1;
  channel: string;
  revision: number | null;
  output: string;
}

export async function applyStoreCommand(cmd: Command, env: NodeJS.ProcessEnv, what: string): Promise<{ revision: number | null; output: string }> {
  const r = await runStore(cmd, env);
  if (r.exitCode !== 0) {
    const line = r.output.trim().split('\n').filter(Boolean).at(-1) ?? `exit ${r.exitCode}`;
    const auth = /credentials|login|unauthori[sz]ed|macaroon|401|403/i.test(r.output);
    throw new UserError(auth ? 'E_STORE_AUTH' : 'E_STORE', `${what} failed: ${line}`);
  }
  return { revision: parseUploadRevision(r.output), output: r.output };
}

export async function applySnapUpload(p: SnapPlan, env: NodeJS.ProcessEnv): Promise<SnapResult> {
  const refusal = snapRefusal(p);
  if (refusal) throw refusal;
  const { revision, output } = await applyStoreCommand([p.argv[0]!, p.argv.slice(1)], env, `snapcraft upload to ${p.channel}`);
  return { kind: 'sparkcraft.publish.snap/result', version: 1, channel: p.channel, revision, output };
}

export interface PromotePlan {
  kind: 'sparkcraft.publish.promote/plan';
  version: 1;
  snap: string;
  from: string | null;
  to: string;
  revision: number | null;
  command: string;
  argv: string[];
  missing: string[];
}

/** Pure: an explicit revision → `snapcraft release`; otherwise promote what `from` holds. */
export function planPromote(i: { snapName: string; track: string; to: Risk; from?: Risk; revision?: number; missing: string[] }): PromotePlan {
  const to = `${i.track}/${i.to}`;
  if (i.revision === undefined && i.from === undefined) {
    throw new UserError('E_USAGE', 'promote needs --revision N or --from RISK', { hint: 'e.g. --from edge --to beta' });
  }
  if (i.from !== undefined && RISKS.indexOf(i.from) >= RISKS.indexOf(i.to)) {
    throw new UserError('E_USAGE', `promote goes from a less stable risk to a more stable one, not ${i.from} → ${i.to}`, {
      hint: `risks in order: ${RISKS.join(', ')}`,
    });
  }
  const cmd = i.revision !== undefined ? releaseCommand(i.snapName, i.revision, to) : promoteCommand(i.snapName, `${i.track}/${i.from}`, to);
  return {
    kind: 'sparkcraft.publish.promote/plan',
    version: 1,
    snap: i.snapName,
    from: i.revision !== undefined ? null : `${i.track}/${i.from}`,
    to,
    revision: i.revision ?? null,
    command: formatCommand(cmd),
    argv: [cmd[0], ...cmd[1]],
    missing: i.missing,
  };
}
