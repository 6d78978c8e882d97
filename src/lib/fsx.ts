import { promises as fs, statSync } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { UserError } from './errors.ts';
import { removeTree } from './mounts.ts';
import { keep, temporary } from './interrupt.ts';
import { alive } from './procs.ts';
import { escapeRegExp } from './regexp.ts';

/** Write a file atomically: temp file in the same directory, fsync, rename. */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode?: number): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = temporary(`${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  const fh = await fs.open(tmp, 'w', mode ?? 0o644);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    if (mode !== undefined) await fs.chmod(tmp, mode);
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
}

/** Replace a directory atomically: build into `<dir>.new-*`, then swap with rename. */
export async function replaceDirAtomic(dir: string, fill: (tmpDir: string) => Promise<void>): Promise<void> {
  const parent = path.dirname(dir);
  await fs.mkdir(parent, { recursive: true });
  const base = escapeRegExp(path.basename(dir));
  await sweepLeftovers(parent, new RegExp(`^${base}\\.(?:new|old)-(\\d+)-[0-9a-f]+$`));
  const tmp = temporary(`${dir}.new-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await fs.mkdir(tmp);
    await fill(tmp);
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw e;
  }
  // From here on the new tree is complete: a signal must not remove it while the old one is moved away.
  keep(tmp);
  // Another run may put its own tree in place between our two renames (20 renders at once): that one
  // is moved aside in turn and ours goes in; the last run's tree stays, whole.
  for (let attempt = 1; ; attempt++) {
    const old = `${dir}.old-${process.pid}-${randomBytes(4).toString('hex')}`;
    let hadOld = false;
    try {
      await fs.rename(dir, old);
      hadOld = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    try {
      await fs.rename(tmp, dir);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (hadOld) await fs.rm(old, { recursive: true, force: true });
      if ((code === 'ENOTEMPTY' || code === 'EEXIST') && attempt < 50) continue;
      await fs.rm(tmp, { recursive: true, force: true });
      throw e;
    }
    if (hadOld) await fs.rm(old, { recursive: true, force: true });
    return;
  }
}

export async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Remove what killed processes left in `dir` (kill -9 and power loss skip every cleanup): entries
 * whose name matches `leftover`, its first group being the pid of a process that no longer runs.
 * A reused pid only keeps a leftover longer. Returns how many entries went.
 */
export async function sweepLeftovers(dir: string, leftover: RegExp): Promise<number> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return 0;
  }
  let n = 0;
  for (const name of names) {
    const m = leftover.exec(name);
    if (!m || alive(Number(m[1]))) continue;
    await removeTree(path.join(dir, name)); // with a snap a killed smoke left mounted
    n++;
  }
  return n;
}

/**
 * What identifies a file's content on disk without reading it: a write in place changes the mtime, a
 * replacement the inode. A verified file whose identity is unchanged need not be hashed again.
 */
export function fileIdentity(file: string): string {
  const st = statSync(file, { bigint: true });
  return JSON.stringify({ size: String(st.size), mtimeNs: String(st.mtimeNs), ino: String(st.ino) });
}

/**
 * Hard-link `src` at `dst` (no copy, one inode), or copy it where a link cannot cross: the cache and
 * the project on different file systems or mounts (EXDEV). Returns whether it linked.
 */
export async function linkOrCopy(src: string, dst: string): Promise<boolean> {
  try {
    await fs.link(src, dst);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
    await fs.cp(src, dst, { preserveTimestamps: true });
    return false;
  }
}

/** `cp -al` of a tree (every file hard-linked), or `cp -a` where links cannot cross (EXDEV). */
export async function linkTreeOrCopy(src: string, dst: string): Promise<boolean> {
  const { execa } = await import('execa');
  const r = await execa('cp', ['-al', src, dst], { reject: false });
  if (r.exitCode === 0) return true;
  if (/No space left/i.test(r.stderr)) throw new UserError('E_DISK_FULL', `no space left on device linking ${src} to ${dst}`);
  if (!/cross-device/i.test(r.stderr)) throw new Error(`cp -al ${src} ${dst} failed: ${r.stderr.split('\n')[0]}`);
  await fs.rm(dst, { recursive: true, force: true });
  await execa('cp', ['-a', src, dst]);
  return false;
}
