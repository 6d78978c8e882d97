/** mmdebstrap: a Debian root file system in a directory, built once per package set and cached. */
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.ts';
import { log } from '../log.ts';
import { cacheDir } from '../paths.ts';
import { normalizeJks } from '../jks.ts';

export const SUITE = 'bookworm';
/**
 * The time every Debian root is made at (bookworm's release, 2023-06-10): mmdebstrap and the
 * packages' scripts take it from SOURCE_DATE_EPOCH (e.g. the last password change in /etc/shadow),
 * so the same packages give the same bytes on any day, and a root stays cached across commits.
 */
export const ROOTFS_EPOCH = 1686355200;

export function rootfsKey(variant: string, packages: string[]): string {
  return createHash('sha256').update(JSON.stringify({ SUITE, variant, packages: [...packages].sort(), epoch: ROOTFS_EPOCH, v: 3 })).digest('hex').slice(0, 24);
}

/** A cached rootfs directory (`--mode=root`, so ownership is real). */
export async function rootfs(variant: 'minbase', packages: string[]): Promise<string> {
  const key = rootfsKey(variant, packages);
  const dir = join(cacheDir(), 'rootfs', key);
  if (existsSync(join(dir, '.complete'))) return join(dir, 'root');
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `root.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  log.info(`bootstrapping Debian ${SUITE} (${variant}${packages.length ? ` + ${packages.join(', ')}` : ''})`);
  try {
    await execa('mmdebstrap', [`--variant=${variant}`, '--mode=root', '--format=directory', '--aptopt=Acquire::Retries "3"', '--dpkgopt=path-exclude=/usr/share/doc/*', '--dpkgopt=path-exclude=/usr/share/locale/*', ...(packages.length ? [`--include=${packages.join(',')}`] : []), SUITE, tmp], { stdio: ['ignore', 'ignore', 'pipe'], env: { SOURCE_DATE_EPOCH: String(ROOTFS_EPOCH) } });
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    const err = e as { code?: string; stderr?: string };
    if (err.code === 'ENOENT') throw new UserError('E_TOOL', 'mmdebstrap is not installed', { hint: 'run `npm run setup`' });
    const lines = (err.stderr ?? '').split('\n').filter((l) => /^E: |Errors were|error processing/.test(l));
    throw new UserError('E_BOOTSTRAP', `mmdebstrap failed: ${lines.slice(0, 2).join(' / ').slice(0, 300) || 'see its output'}`, { hint: 'check that the Debian mirror is reachable' });
  }
  // The one file the packages' scripts make differently every time: Java's trust store (JKS with the
  // time of writing in every entry). Its entries get the root's time.
  const cacerts = join(tmp, 'etc/ssl/certs/java/cacerts');
  if (existsSync(cacerts)) writeFileSync(cacerts, normalizeJks(readFileSync(cacerts), 'changeit', ROOTFS_EPOCH * 1000));
  rmSync(join(dir, 'root'), { recursive: true, force: true });
  renameSync(tmp, join(dir, 'root'));
  writeFileSync(join(dir, '.complete'), '');
  return join(dir, 'root');
}

/**
 * Files of `full` whose content differs from `base` (rsync --compare-dest, by checksum: a file
 * written at another second with the same bytes is not a difference), cached next to `full`.
 */
export async function rootfsDiff(base: string, full: string): Promise<string> {
  const out = `${full}.diff`;
  if (existsSync(`${out}.complete`)) return out;
  const tmp = `${out}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  await execa('rsync', ['-a', '--checksum', '--numeric-ids', `--compare-dest=${base}/`, `${full}/`, `${tmp}/`]);
  rmSync(out, { recursive: true, force: true });
  rmSync(`${out}.complete`, { force: true });
  renameSync(tmp, out);
  writeFileSync(`${out}.complete`, '');
  return out;
}
