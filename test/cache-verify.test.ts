import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { closeSync, copyFileSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { casPath, fetchVerified, recheckCached } from '../src/stage/fetch.ts';
import { buildLayer } from '../src/pack/layer.ts';
import { stage } from '../src/pipeline.ts';
import { readLock } from '../src/stage/lock.ts';

/** Flip one byte in place: the size stays, the content does not. */
function flipByte(file: string, at = 100): void {
  const b = readFileSync(file)[at]!;
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.from([b ^ 0xff]), 0, 1, at);
  closeSync(fd);
}
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('the download cache re-verifies what may have changed', () => {
  const body = Buffer.from('x'.repeat(4096) + 'sparkcraft cache entry');
  const want = sha(body);
  let server: Server;
  let url = '';
  let hits = 0;
  let cache = '';
  const saved = process.env.SPARKCRAFT_CACHE;

  beforeAll(async () => {
    cache = mkdtempSync(join(tmpdir(), 'cache-verify-'));
    process.env.SPARKCRAFT_CACHE = cache;
    server = createServer((_, res) => {
      hits++;
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/entry`;
  });
  afterAll(() => {
    server.close();
    if (saved === undefined) delete process.env.SPARKCRAFT_CACHE;
    else process.env.SPARKCRAFT_CACHE = saved;
    rmSync(cache, { recursive: true, force: true });
  });

  it('an unchanged entry is used without downloading; a byte flipped in place is found, removed with one warning and fetched again', async () => {
    const p = await fetchVerified('entry', url, want);
    expect(hits).toBe(1);
    expect(await fetchVerified('entry', url, want)).toBe(p);
    expect(hits).toBe(1);
    flipByte(p);
    expect(statSync(p).size).toBe(body.length);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    let warned: string[] = [];
    try {
      expect(await fetchVerified('entry', url, want)).toBe(p);
      warned = stderr.mock.calls.map((c) => String(c[0])).filter((l) => l.includes('WARN'));
    } finally {
      stderr.mockRestore();
    }
    expect(hits).toBe(2);
    expect(sha(readFileSync(p))).toBe(want);
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatch(/cached entry was changed on disk .*removed, it will be downloaded again/);
  });

  it('a flip hidden by restoring the mtime passes the cheap check, and a rehash (stage --verify) still finds it', async () => {
    const p = casPath(want);
    const t = 1_700_000_000; // a whole second, so that utimes can put it back exactly
    utimesSync(p, t, t);
    expect(await recheckCached('entry', want)).toBe('verified'); // rehashed once (mtime changed), recorded
    flipByte(p, 7);
    utimesSync(p, t, t);
    expect(await recheckCached('entry', want)).toBe('verified');
    expect(await recheckCached('entry', want, { rehash: true })).toBe('removed');
    expect(await recheckCached('entry', want)).toBe('absent');
  });
});

describe('the layer cache re-verifies a blob before it goes into an image', () => {
  it('a byte flipped in a cached layer blob is found by its digest: removed with one warning, the layer built again identically', async () => {
    const saved = process.env.SPARKCRAFT_CACHE;
    const cache = mkdtempSync(join(tmpdir(), 'layer-verify-'));
    process.env.SPARKCRAFT_CACHE = cache;
    const entries = async () => [
      { path: 'opt', type: 'dir' as const, mode: 0o755, uid: 0, gid: 0 },
      { path: 'opt/hello', type: 'file' as const, mode: 0o644, uid: 0, gid: 0, data: Buffer.from('hello '.repeat(2000)) },
    ];
    try {
      const first = await buildLayer('verify-test', 'a test layer', entries, 1_700_000_000);
      expect(first.cached).toBe(false);
      expect((await buildLayer('verify-test', 'a test layer', entries, 1_700_000_000)).cached).toBe(true);
      flipByte(first.path, 20);
      const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
      let again: Awaited<ReturnType<typeof buildLayer>> | undefined;
      let warned: string[] = [];
      try {
        again = await buildLayer('verify-test', 'a test layer', entries, 1_700_000_000);
        warned = stderr.mock.calls.map((c) => String(c[0])).filter((l) => l.includes('WARN'));
      } finally {
        stderr.mockRestore();
      }
      expect(again.cached).toBe(false);
      expect(again.digest).toBe(first.digest);
      expect(`sha256:${sha(readFileSync(again.path))}`).toBe(first.digest);
      expect(warned).toHaveLength(1);
      expect(warned[0]).toMatch(/cached layer a test layer was changed on disk/);
    } finally {
      if (saved === undefined) delete process.env.SPARKCRAFT_CACHE;
      else process.env.SPARKCRAFT_CACHE = saved;
      rmSync(cache, { recursive: true, force: true });
    }
  });
});

/**
 * Give the cache entry an inode of its own before changing it: every checkout's staged jars are hard
 * links of the shared cache, and a test must not change another checkout's inputs.
 */
function detach(file: string): void {
  copyFileSync(file, `${file}.detach`);
  renameSync(`${file}.detach`, file);
}

describe('stage with a changed cached download (default line, real inputs)', () => {
  const id = 'maven:io.prometheus.jmx:jmx_prometheus_javaagent@1.0.1';
  const staged = (inputs: string) => join(inputs, 'jars', 'jmx_prometheus_javaagent-1.0.1.jar');

  it('restages with a fresh copy instead of believing its stamp', async () => {
    const { inputs } = await stage();
    const { sha256 } = readLock().inputs[id]!;
    const cached = casPath(sha256);
    detach(cached);
    flipByte(cached);
    const r = await stage();
    expect(r.skipped).toBe(false);
    expect(sha(readFileSync(cached))).toBe(sha256);
    expect(sha(readFileSync(staged(inputs)))).toBe(sha256);
    expect((await stage()).skipped).toBe(true);
  }, 900_000);

  it('a staged jar that is no longer the cache entry is checked by its content: a changed one is restaged, an intact one kept', async () => {
    const { inputs } = await stage();
    const { sha256 } = readLock().inputs[id]!;
    // As when another checkout refetched the entry: the staged file is no longer the cache's inode.
    detach(staged(inputs));
    flipByte(staged(inputs));
    expect((await stage()).skipped).toBe(false);
    expect(sha(readFileSync(staged(inputs)))).toBe(sha256);
    // And with the cache entry replaced under an unchanged staged link: its content still decides.
    detach(casPath(sha256));
    expect((await stage()).skipped).toBe(true);
  }, 900_000);
});
