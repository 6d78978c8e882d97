/** mmdebstrap: a Debian root file system in a directory, built once per package set and cached. */
import { execa } from 'execa';
import { chownSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { hostArch } from '../arch.ts';
import { UserError } from '../errors.ts';
import { log } from '../log.ts';
import { normalizeJks } from '../jks.ts';
import { cacheLock, decide, makeRecord, stepKey, withLock, writeRecord, type Cell } from '../state.ts';
import { temporary } from '../interrupt.ts';

/**
 * The host's lock on binfmt_misc's emulation (scripts/binfmt.sh names the same file): host-wide, as the
 * kernel's entries are, whatever cache or checkout a build uses.
 */
export const BINFMT_LOCK = '/run/lock/sparkcraft-binfmt.lock';

/** The suite a Debian root is made from when the cell names none (the matrix gives one per Java). */
export const SUITE = 'bookworm';
/**
 * The time every Debian root is made at (bookworm's release, 2023-06-10): mmdebstrap and the
 * packages' scripts take it from SOURCE_DATE_EPOCH (e.g. the last password change in /etc/shadow),
 * so the same packages give the same bytes on any day, and a root stays cached across commits.
 */
export const ROOTFS_EPOCH = 1686355200;

/** The named inputs of a Debian root (its key adds the record format and the cell). */
function rootfsInputs(variant: string, packages: string[], suite: string): Record<string, string> {
  return { suite, variant, packages: [...packages].sort().join(' '), epoch: String(ROOTFS_EPOCH) };
}

export function rootfsKey(variant: string, packages: string[], cell: Cell): string {
  return stepKey('rootfs', cell, rootfsInputs(variant, packages, cell.suite ?? SUITE)).slice(0, 24);
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

/**
 * A cached rootfs directory (`--mode=root`, so ownership is real): `<cache>/rootfs/<key>/root`, its
 * record (`.state.json`, written last) vouching for its dpkg status file. Made under a cache lock,
 * so that concurrent builds bootstrap it once and none removes a tree another is packing.
 */
export async function rootfs(cache: string, variant: 'minbase', packages: string[], cell: Cell): Promise<string> {
  const key = rootfsKey(variant, packages, cell);
  const dir = join(cache, 'rootfs', key);
  const record = join(dir, '.state.json');
  const inputs = rootfsInputs(variant, packages, cell.suite ?? SUITE);
  const what = `Debian ${cell.suite ?? SUITE} (${variant}${packages.length ? ` + ${packages.length} packages` : ''})`;
  const current = async () => !(await decide(`debian root ${key}`, record, 'rootfs', cell, inputs)).decision.run;
  // Cheap and lock-free when current (the record is written last, atomically); else under the lock.
  if (existsSync(record) && (await current())) return join(dir, 'root');
  return withLock(cacheLock(cache, `rootfs-${key}`), what, async () => {
    if (await current()) return join(dir, 'root');
    await bootstrap(variant, packages, dir, cell);
    await writeRecord(record, makeRecord(record, 'rootfs', cell, inputs, ['root/var/lib/dpkg/status']));
    return join(dir, 'root');
  });
}

async function bootstrap(variant: 'minbase', packages: string[], dir: string, cell: Cell): Promise<void> {
  rmSync(join(dir, '.state.json'), { force: true });
  rmSync(join(dir, '.complete'), { force: true });
  mkdirSync(dir, { recursive: true });
  const tmp = temporary(join(dir, `root.tmp-${process.pid}`));
  rmSync(tmp, { recursive: true, force: true });
  log.info(`bootstrapping Debian ${cell.suite ?? SUITE} (${variant}${packages.length ? ` + ${packages.join(', ')}` : ''})`);
  // Another architecture's root runs its packages' scripts (and the byte-code step below) under
  // emulation: BINFMT_LOCK is held shared from the first to the last, so that `binfmt.sh unregister` (or
  // its test) waits instead of breaking dpkg or python3. (Held per command, a test's unregister once got
  // in between the two and the byte-code step failed with exit 126.)
  const foreign = cell.arch !== hostArch();
  const release = foreign ? await holdShared(BINFMT_LOCK) : undefined;
  try {
    await bootstrapIn(tmp, variant, packages, cell, foreign);
  } finally {
    await release?.();
  }
  rmSync(join(dir, 'root'), { recursive: true, force: true });
  renameSync(tmp, join(dir, 'root'));
}

/**
 * Hold LOCK shared (flock(1), in a child that keeps it until its stdin closes) until the returned
 * function is called; if this process dies, the pipe closes and the kernel releases the lock.
 */
export async function holdShared(lock: string): Promise<() => Promise<void>> {
  mkdirSync(dirname(lock), { recursive: true });
  const holder = execa('flock', ['-s', lock, 'sh', '-c', 'echo held; exec cat >/dev/null'], { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', reject: false });
  await new Promise<void>((resolve, reject) => {
    holder.stdout!.once('data', () => resolve());
    void holder.then((r) => reject(new UserError('E_TOOL', `could not hold ${lock} shared: ${r.stderr || `flock exited ${r.exitCode}`}`)));
  });
  return async () => {
    holder.stdin!.end();
    await holder;
  };
}

async function bootstrapIn(tmp: string, variant: 'minbase', packages: string[], cell: Cell, foreign: boolean): Promise<void> {
  try {
    await execa(
      'mmdebstrap',
      [
        `--variant=${variant}`,
        '--mode=root',
        '--format=directory',
        // Only for another architecture than the host's (the host's is mmdebstrap's default).
        ...(foreign ? [`--architectures=${cell.arch}`] : []),
        '--aptopt=Acquire::Retries "3"',
        '--dpkgopt=path-exclude=/usr/share/doc/*',
        '--dpkgopt=path-exclude=/usr/share/locale/*',
        ...(packages.length ? [`--include=${packages.join(',')}`] : []),
        cell.suite ?? SUITE,
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
  // apt downloads as its sandbox user `_apt` when `_apt` can reach the target directory (a cache under
  // /work, not under a 0700 ~/.cache) and then leaves its `partial` directories owned by `_apt`: they get
  // the owner apt gives them otherwise (root), so that the root does not depend on the cache's path. (An
  // aptopt would do it too, but mmdebstrap writes aptopts into the root's etc/apt/apt.conf.d/99mmdebstrap.)
  for (const d of ['var/cache/apt/archives/partial', 'var/lib/apt/lists/partial']) if (existsSync(join(tmp, d))) chownSync(join(tmp, d), 0, 0);
  // The one file the packages' scripts make differently every time: Java's trust store (JKS with the
  // time of writing in every entry). Its entries get the root's time.
  const cacerts = join(tmp, 'etc/ssl/certs/java/cacerts');
  if (existsSync(cacerts)) writeFileSync(cacerts, normalizeJks(readFileSync(cacerts), 'changeit', ROOTFS_EPOCH * 1000));
  // Python byte code: the packages' scripts compile it hash-checked when SOURCE_DATE_EPOCH reaches
  // them and stamped with the sources' times when it does not (seen: a build in a clean root got the
  // latter, so its runtime layer differed in 5 .pyc files). Every .pyc is made hash-checked here.
  if (existsSync(join(tmp, 'usr/bin/python3')))
    await execa('chroot', [tmp, '/usr/bin/python3', '-c', PYC_HASH_CHECKED], { env: { SOURCE_DATE_EPOCH: String(ROOTFS_EPOCH) } });
}

/**
 * The minbase root and the root with PACKAGES, [base, full], bootstrapped at the same time when both
 * are missing: each mmdebstrap runs one package script after another (under emulation for another
 * architecture), so two of them keep both cores of a small machine busy.
 */
export function rootfsPair(cache: string, packages: string[], cell: Cell): Promise<[string, string]> {
  return Promise.all([rootfs(cache, 'minbase', [], cell), rootfs(cache, 'minbase', packages, cell)]);
}

/**
 * Files of `full` whose content differs from `base` (rsync --compare-dest, by checksum: a file
 * written at another second with the same bytes is not a difference), cached next to `full` with
 * its record (`root.diff.state.json`); made under a cache lock.
 */
export async function rootfsDiff(cache: string, base: string, full: string, cell: Cell): Promise<string> {
  const out = `${full}.diff`;
  const record = `${out}.state.json`;
  const inputs = { base, full };
  const current = async () => !(await decide(`debian root diff ${full}`, record, 'rootfs-diff', cell, inputs)).decision.run;
  if (existsSync(record) && (await current())) return out;
  return withLock(cacheLock(cache, `rootfs-diff-${stepKey('rootfs-diff', cell, inputs).slice(0, 24)}`), `the Debian root's package files`, async () => {
    if (await current()) return out;
    rmSync(record, { force: true });
    const tmp = temporary(`${out}.tmp-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    await execa('rsync', ['-a', '--checksum', '--numeric-ids', `--compare-dest=${base}/`, `${full}/`, `${tmp}/`]);
    rmSync(out, { recursive: true, force: true });
    rmSync(`${out}.complete`, { force: true });
    renameSync(tmp, out);
    await writeRecord(record, makeRecord(record, 'rootfs-diff', cell, inputs));
    return out;
  });
}
