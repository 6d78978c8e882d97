/**
 * Mounts the toolchain makes under its own work directories (a snap's squashfs, mounted read-only as
 * snapd mounts it): found in /proc/self/mountinfo and taken down before such a directory is removed.
 */
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { run } from './tools/run.ts';

/** The mount points at or under `dir` in a mountinfo text, deepest first (pure). */
export function mountsUnder(mountinfo: string, dir: string): string[] {
  const base = resolve(dir).replace(/\/+$/, '');
  const unescapeOctal = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  const points = mountinfo
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => !!p)
    .map(unescapeOctal)
    .filter((p) => p === base || p.startsWith(`${base}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** I/O: unmount everything at or under `dir` (lazily, should a process still hold it). */
export async function unmountUnder(dir: string): Promise<void> {
  let info: string;
  try {
    info = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return;
  }
  for (const p of mountsUnder(info, dir)) {
    const r = await run(['umount', [p]]);
    if (r.exitCode !== 0) await run(['umount', ['-l', p]]);
  }
}

/** I/O: remove `dir` and everything under it, its mounts taken down first (rm would meet a read-only mount). */
export async function removeTree(dir: string): Promise<void> {
  await unmountUnder(dir);
  await rm(dir, { recursive: true, force: true });
}
