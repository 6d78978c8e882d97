/** What the benchmarks share: statistics, timing, scratch caches. */
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheDir } from '../src/lib/paths.ts';

/** `fn`'s result and its wall time in seconds. */
export async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const r = await fn();
  return [r, (performance.now() - t) / 1000];
}

/** A new empty cache directory (for a cold build) holding links to the shared cache's `shared` folders. */
export function scratchCache(prefix: string, shared: string[]): string {
  const cache = mkdtempSync(join(tmpdir(), prefix));
  for (const d of shared) symlinkSync(join(cacheDir(), d), join(cache, d));
  return cache;
}

/** The median (the upper one of an even count). */
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
