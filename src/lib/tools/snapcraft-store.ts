/**
 * snapcraft, for the Snap Store only (upload, release, promote). Pure argument builders return
 * `[cli, args]` data (printed in dry runs, asserted in tests); `runStore` runs one with the store
 * credentials left in the environment (SNAPCRAFT_STORE_CREDENTIALS is read by snapcraft itself, never
 * passed as an argument). Building with snapcraft is src/pack/craft.ts.
 */
import { execa } from 'execa';
import { UserError } from '../errors.ts';
import { mask, registerSecret } from '../secrets.ts';

export const SNAPCRAFT = 'snapcraft';
import type { Command } from './run.ts';

export { formatCommand, type Command } from './run.ts';

const CHANNEL = /^[a-z0-9][a-z0-9.-]*\/(edge|beta|candidate|stable)(\/[a-z0-9-]+)?$/;
const SNAP_NAME = /^[a-z0-9](?:-?[a-z0-9])*$/;

function check(channel: string, what: string): void {
  if (!CHANNEL.test(channel)) throw new UserError('E_USAGE', `invalid ${what} channel "${channel}" (want <track>/<risk>)`);
}

/** `snapcraft upload --release=<track>/<risk> <file>` */
export function uploadCommand(file: string, channel: string): Command {
  check(channel, 'release');
  return [SNAPCRAFT, ['upload', `--release=${channel}`, file]];
}

/** `snapcraft release <name> <revision> <track>/<risk>` — an exact revision into a channel. */
export function releaseCommand(name: string, revision: number, channel: string): Command {
  if (!SNAP_NAME.test(name)) throw new UserError('E_USAGE', `invalid snap name "${name}"`);
  if (!Number.isInteger(revision) || revision < 1) throw new UserError('E_USAGE', `invalid revision ${revision}`);
  check(channel, 'target');
  return [SNAPCRAFT, ['release', name, String(revision), channel]];
}

/** `snapcraft promote <name> --from-channel A --to-channel B --yes` — whatever A holds now. */
export function promoteCommand(name: string, from: string, to: string): Command {
  if (!SNAP_NAME.test(name)) throw new UserError('E_USAGE', `invalid snap name "${name}"`);
  check(from, 'source');
  check(to, 'target');
  if (from === to) throw new UserError('E_USAGE', `cannot promote ${from} to itself`);
  return [SNAPCRAFT, ['promote', name, '--from-channel', from, '--to-channel', to, '--yes']];
}

/** What is missing to talk to the store (empty = ready). */
export async function storeReadiness(env: NodeJS.ProcessEnv): Promise<{ snapcraft: string | null; missing: string[] }> {
  const missing: string[] = [];
  let version: string | null = null;
  try {
    const r = await execa(SNAPCRAFT, ['--version'], { env, timeout: 60_000, reject: false, stdin: 'ignore' });
    if (r.exitCode === 0) version = String(r.stdout).trim();
  } catch {
    /* not installed */
  }
  if (!version) missing.push('snapcraft is not installed (snap install snapcraft --classic)');
  if (!env.SNAPCRAFT_STORE_CREDENTIALS) missing.push('SNAPCRAFT_STORE_CREDENTIALS is not set (snapcraft export-login, stored as a CI secret)');
  else registerSecret(env.SNAPCRAFT_STORE_CREDENTIALS);
  return { snapcraft: version, missing };
}

export interface StoreRun {
  exitCode: number;
  output: string;
}

/** Run a store command; output is masked before it is returned. */
export async function runStore(c: Command, env: NodeJS.ProcessEnv, timeoutMs = 30 * 60_000): Promise<StoreRun> {
  if (env.SNAPCRAFT_STORE_CREDENTIALS) registerSecret(env.SNAPCRAFT_STORE_CREDENTIALS);
  const r = await execa(c[0], [...c[1]], { env, timeout: timeoutMs, reject: false, all: true, stdin: 'ignore' });
  return { exitCode: r.exitCode ?? 1, output: mask(String(r.all ?? r.message ?? '')) };
}

/** `Revision 42 created for 'spark-client'` / `Revision 42 of 'spark-client' created.` → 42 */
export function parseUploadRevision(output: string): number | null {
  const m = /Revision (\d+)\b/.exec(output);
  return m ? Number(m[1]) : null;
}
