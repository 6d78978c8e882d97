/** squashfs-tools: mksquashfs packs a snap as snapcraft does; unsquashfs unpacks one or reads a file of it; mount mounts one. */
import { UserError } from '../errors.ts';
import { lastLine, run, type Command } from './run.ts';

/** `mksquashfs` with snapcraft's options and fixed timestamps (`epoch`). */
export function mksquashfsCommand(dir: string, file: string, epoch: number): Command {
  return [
    'mksquashfs',
    [
      dir,
      file,
      '-noappend',
      '-comp',
      'xz',
      '-all-root',
      '-no-xattrs',
      '-no-fragments',
      '-mkfs-time',
      String(epoch),
      '-all-time',
      String(epoch),
      '-quiet',
      '-no-progress',
    ],
  ];
}

export async function mksquashfs(dir: string, file: string, epoch: number): Promise<void> {
  // mksquashfs (4.5+) refuses -mkfs-time/-all-time while SOURCE_DATE_EPOCH is set ("can't be used
  // at the same time"); the times are given on its command line, from the same epoch.
  const { SOURCE_DATE_EPOCH: _, ...env } = process.env;
  const r = await run(mksquashfsCommand(dir, file, epoch), { env, extendEnv: false });
  if (r.missing) throw new UserError('E_TOOL', 'mksquashfs is not installed', { hint: 'run `npm run setup` (squashfs-tools)' });
  if (r.exitCode === 0) return;
  if (/No space left/.test(r.stderr)) throw new UserError('E_DISK_FULL', `no space left on device writing ${file}`);
  throw new UserError('E_SQUASHFS', `mksquashfs failed: ${lastLine(r.stderr)}`);
}

export const unpackCommand = (file: string, dir: string): Command => ['unsquashfs', ['-q', '-d', dir, file]];
export const catCommand = (file: string, path: string): Command => ['unsquashfs', ['-cat', file, path]];

/** Unpack the whole image into `dir` (which must not exist; its parent must). */
export async function unsquashfs(file: string, dir: string): Promise<void> {
  const r = await run(unpackCommand(file, dir));
  if (r.missing) throw new UserError('E_TOOL', 'unsquashfs is not installed', { hint: 'run `npm run setup` (squashfs-tools)' });
  if (r.exitCode !== 0) throw new UserError('E_SQUASHFS', `unsquashfs ${file} failed: ${lastLine(r.stderr)}`);
}

/**
 * Mount the image read-only on `dir` (which must exist), as snapd mounts a snap: nothing to unpack,
 * and a write into it fails as it would under snapd. Needs root and loop devices; `why` otherwise.
 */
export async function mountSquashfs(file: string, dir: string): Promise<{ ok: true } | { ok: false; why: string }> {
  const r = await run(['mount', ['-t', 'squashfs', '-o', 'loop,ro,nodev', file, dir]], { timeoutMs: 60_000 });
  if (r.exitCode === 0) return { ok: true };
  return { ok: false, why: r.missing ? 'mount is not installed' : lastLine(r.stderr) || `mount exited ${r.exitCode}` };
}

/** One file of the image, or the tool's first error line. */
export async function catFile(file: string, path: string): Promise<{ ok: true; text: string } | { ok: false; why: string }> {
  const r = await run(catCommand(file, path), { timeoutMs: 60_000 });
  if (r.exitCode === 0) return { ok: true, text: r.stdout };
  return { ok: false, why: r.stderr.split('\n')[0] ?? `exit ${r.exitCode}` };
}
