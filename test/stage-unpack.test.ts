import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { sparkTree } from '../src/stage/stage.ts';
import { linkOrCopy, linkTreeOrCopy } from '../src/lib/fsx.ts';
import type { LockedInput } from '../src/stage/lock.ts';

/** A small archive shaped like the pyspark sdist (deps/bin, deps/jars, pyspark/, lib/py4j). */
async function fakeSdist(dir: string): Promise<string> {
  const top = join(dir, 'src', 'pyspark-0.0.1');
  for (const d of ['deps/bin', 'deps/sbin', 'deps/jars', 'pyspark', 'lib']) mkdirSync(join(top, d), { recursive: true });
  writeFileSync(join(top, 'deps/bin/spark-submit'), '#!/bin/sh\n');
  writeFileSync(join(top, 'deps/jars/a.jar'), 'jar');
  writeFileSync(join(top, 'pyspark/__init__.py'), '');
  writeFileSync(join(top, 'lib/py4j-0.0-src.zip'), 'zip');
  const archive = join(dir, 'pyspark-0.0.1.tar.gz');
  await execa('tar', ['-czf', archive, '-C', join(dir, 'src'), 'pyspark-0.0.1']);
  return archive;
}

describe('unpacking the Spark tree into the cache', () => {
  it('survives processes unpacking the same archive at once, and leaves no temporary tree (nor one a killed unpack left)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unpack-'));
    const archive = await fakeSdist(dir);
    const input = { id: 'spark', name: 'pyspark', version: '0.0.1', sha256: 'f'.repeat(64), url: 'file:///x', license: 'Apache-2.0' } as unknown as LockedInput;
    const cache = join(dir, 'cache');
    // What an unpack killed with -9 left behind (its pid no longer runs).
    mkdirSync(join(cache, 'extract', `spark-${'f'.repeat(64)}.tmp-999999999-0bad`, 'raw'), { recursive: true });
    const trees = await Promise.all([1, 2, 3, 4].map(() => sparkTree(cache, input, archive, 'py4j-0.0-src.zip', { arch: 'amd64', java: 17 })));
    expect(new Set(trees).size).toBe(1);
    expect(existsSync(join(trees[0]!, '.state.json'))).toBe(true);
    expect(existsSync(join(trees[0]!, 'bin/spark-submit'))).toBe(true);
    expect(existsSync(join(trees[0]!, 'python/lib/py4j-0.0-src.zip'))).toBe(true);
    expect(readdirSync(join(cache, 'extract'))).toEqual([basename(trees[0]!)]);
    expect(basename(trees[0]!)).toMatch(/^spark-[0-9a-f]{64}$/);
  });
});

describe('staging from a cache on another file system', () => {
  it('hard-links where it can, and copies where a link cannot cross (EXDEV)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xdev-'));
    const cache = join(dir, 'cache');
    mkdirSync(join(cache, 'tree', 'sub'), { recursive: true });
    writeFileSync(join(cache, 'a.jar'), 'jar bytes');
    writeFileSync(join(cache, 'tree', 'sub', 'f'), 'tree bytes');
    // Same file system: links (one inode).
    expect(await linkOrCopy(join(cache, 'a.jar'), join(dir, 'same.jar'))).toBe(true);
    expect(statSync(join(dir, 'same.jar')).ino).toBe(statSync(join(cache, 'a.jar')).ino);
    expect(await linkTreeOrCopy(join(cache, 'tree'), join(dir, 'same-tree'))).toBe(true);
    // Another file system (a tmpfs): copies with the same bytes.
    const other = join(dir, 'other');
    mkdirSync(other);
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', other]);
    try {
      expect(await linkOrCopy(join(cache, 'a.jar'), join(other, 'a.jar'))).toBe(false);
      expect(readFileSync(join(other, 'a.jar'), 'utf8')).toBe('jar bytes');
      expect(await linkTreeOrCopy(join(cache, 'tree'), join(other, 'tree'))).toBe(false);
      expect(readFileSync(join(other, 'tree', 'sub', 'f'), 'utf8')).toBe('tree bytes');
      // Other failures are not hidden behind a copy.
      await expect(linkOrCopy(join(cache, 'missing.jar'), join(other, 'm.jar'))).rejects.toThrow(/ENOENT/);
    } finally {
      await execa('umount', [other]);
    }
  });
});

describe('unpacking onto a full file system', () => {
  it('says what failed and what to do, and leaves nothing half-written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unpack-full-'));
    const archive = await fakeSdist(dir);
    // 1 MiB of random bytes: the archive no longer fits the 512 KiB cache below.
    const { randomBytes } = await import('node:crypto');
    writeFileSync(join(dir, 'src', 'pyspark-0.0.1', 'deps', 'jars', 'big.jar'), randomBytes(1 << 20));
    await execa('tar', ['-czf', archive, '-C', join(dir, 'src'), 'pyspark-0.0.1']);
    const cache = join(dir, 'cache');
    mkdirSync(cache);
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', cache]);
    try {
      const input = {
        id: 'spark',
        name: 'pyspark',
        version: '0.0.1',
        sha256: 'e'.repeat(64),
        url: 'file:///x',
        license: 'Apache-2.0',
      } as unknown as LockedInput;
      const err = await sparkTree(cache, input, archive, 'py4j-0.0-src.zip', { arch: 'amd64', java: 17 }).then(
        () => null,
        (e: Error & { hint?: string }) => e,
      );
      expect(err?.message).toMatch(/unpacking pyspark 0\.0\.1 into .* failed: .*No space left on device/);
      expect(String(err?.hint)).toMatch(/free space/);
      expect(readdirSync(join(cache, 'extract'))).toEqual([]);
    } finally {
      await execa('umount', [cache]);
    }
  });
});
