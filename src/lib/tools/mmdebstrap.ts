/** mmdebstrap: a Debian root file system in a directory, built once per package set and cached. */
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.ts';
import { log } from '../log.ts';
import { normalizeJks } from '../jks.ts';

export const SUITE = 'bookworm';
/**
 * The time every Debian root is made at (bookworm's release, 2023-06-10): mmdebstrap and the
 * packages' scripts take it from SOURCE_DATE_EPOCH (e.g. the last password change in /etc/shadow),
 * so the same packages give the same bytes on any day, and a root stays cached across commits.
 */
export const ROOTFS_EPOCH = 1686355200;

export function rootfsKey(variant: string, packages: string[]): string {
  return createHash('sha256')
    .update(JSON.stringify({ SUITE, variant, packages: [...packages].sort(), epoch: ROOTFS_EPOCH, v: 4 }))
    .digest('hex')
    .slice(0, 24);
}

/** Recompiles every timestamp-based .pyc under /usr as a checked-hash .pyc (same source, same optimisation level). */
const PYC_HASH_CHECKED = `
import importlib.util, os, py_compile
for root, dirs, files in os.walk('/usr'):
    dirs.sort()
    if os.path.basename(root) != '__pycache__':
        continue
    for f in sorted(files):
        if not f.endswith('.pyc'):
            continue
        pyc = os.path.join(root, f)
        try:
            src = importlib.util.source_from_cache(pyc)
        except ValueError:
            continue
        if not os.path.exists(src):
            continue
        with open(pyc, 'rb') as fh:
            flags = int.from_bytes(fh.read(8)[4:8], 'little')
        if flags & 1:
            continue
        opt = 2 if '.opt-2.' in f else 1 if '.opt-1.' in f else 0
        py_compile.compile(src, cfile=pyc, optimize=opt, doraise=True, invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
`;

/** A cached rootfs directory (`--mode=root`, so ownership is real). */
export async function rootfs(cache: string, variant: 'minbase', packages: string[]): Promise<string> {
  const key = rootfsKey(variant, packages);
  const dir = join(cache, 'rootfs', key);
  if (existsSync(join(dir, '.complete'))) return join(dir, 'root');
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `root.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  log.info(`bootstrapping Debian ${SUITE} (${variant}${packages.length ? ` + ${packages.join(', ')}` : ''})`);
  try {
    await execa(
      'mmdebstrap',
      [
        `--variant=${variant}`,
        '--mode=root',
        '--format=directory',
        '--aptopt=Acquire::Retries "3"',
        '--dpkgopt=path-exclude=/usr/share/doc/*',
        '--dpkgopt=path-exclude=/usr/share/locale/*',
        ...(packages.length ? [`--include=${packages.join(',')}`] : []),
        SUITE,
        tmp,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { SOURCE_DATE_EPOCH: String(ROOTFS_EPOCH) } },
    );
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    const err = e as { code?: string; stderr?: string };
    if (err.code === 'ENOENT') throw new UserError('E_TOOL', 'mmdebstrap is not installed');
    const lines = (err.stderr ?? '').split('\n').filter((l) => /^E: |Errors were|error processing/.test(l));
    throw new UserError('E_BOOTSTRAP', `mmdebstrap failed: ${lines.slice(0, 2).join(' / ').slice(0, 300) || 'see its output'}`);
  }
  // The one file the packages' scripts make differently every time: Java's trust store (JKS with the
  // time of writing in every entry). Its entries get the root's time.
  const cacerts = join(tmp, 'etc/ssl/certs/java/cacerts');
  if (existsSync(cacerts)) writeFileSync(cacerts, normalizeJks(readFileSync(cacerts), 'changeit', ROOTFS_EPOCH * 1000));
  // Python byte code: the packages' scripts compile it hash-checked when SOURCE_DATE_EPOCH reaches
  // them and stamped with the sources' times when it does not (seen: a build in a clean root got the
  // latter, so its runtime layer differed in 5 .pyc files). Every .pyc is made hash-checked here.
  if (existsSync(join(tmp, 'usr/bin/python3')))
    await execa('chroot', [tmp, '/usr/bin/python3', '-c', PYC_HASH_CHECKED], { env: { SOURCE_DATE_EPOCH: String(ROOTFS_EPOCH) } });
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
