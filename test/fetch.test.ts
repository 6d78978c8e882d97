/**
 * The download cache (pure of tools: loopback HTTP servers in this process, a cache directory of the
 * test's own): re-verification of what may have changed, retries with backoff, and the patch-release
 * check of `npm run lock`. Moved out of cache-verify.test.ts and stage.test.ts, whose set-up stages
 * the real line first.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { flipByte, sha } from './support/bytes.ts';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { casPath, fetchAllVerified, fetchVerified, recheckCached } from '../src/stage/fetch.ts';
import { newerPatches } from '../src/stage/lock.ts';

describe('the download cache re-verifies what may have changed', () => {
  const body = Buffer.from('x'.repeat(4096) + 'sparkcraft cache entry');
  const want = sha(body);
  let server: Server;
  let url = '';
  let hits = 0;
  const cache = mkdtempSync(join(tmpdir(), 'cache-verify-'));

  beforeAll(async () => {
    server = createServer((_, res) => {
      hits++;
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/entry`;
  });
  afterAll(() => {
    server.close();
    rmSync(cache, { recursive: true, force: true });
  });

  it('an unchanged entry is used without downloading; a byte flipped in place is found, removed with one warning and fetched again', async () => {
    const p = await fetchVerified(cache, 'entry', url, want);
    expect(p).toBe(casPath(cache, want));
    expect(hits).toBe(1);
    expect(await fetchVerified(cache, 'entry', url, want)).toBe(p);
    expect(hits).toBe(1);
    flipByte(p);
    expect(statSync(p).size).toBe(body.length);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    let warned: string[] = [];
    try {
      expect(await fetchVerified(cache, 'entry', url, want)).toBe(p);
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
    const p = casPath(cache, want);
    const t = 1_700_000_000; // a whole second, so that utimes can put it back exactly
    utimesSync(p, t, t);
    expect(await recheckCached(cache, 'entry', want)).toBe('verified'); // rehashed once (mtime changed), recorded
    flipByte(p, 7);
    utimesSync(p, t, t);
    expect(await recheckCached(cache, 'entry', want)).toBe('verified');
    expect(await recheckCached(cache, 'entry', want, { rehash: true })).toBe('removed');
    expect(await recheckCached(cache, 'entry', want)).toBe('absent');
  });
});

describe('downloads', () => {
  it('network failures are retried with backoff, then one clear line naming the input', async () => {
    let connections = 0;
    const srv = createTcpServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as { port: number }).port;
    const cache = mkdtempSync(join(tmpdir(), 'retry-'));
    let err: Error | undefined;
    const t0 = Date.now();
    try {
      await fetchVerified(cache, 'test-input', `http://127.0.0.1:${port}/x.jar`, 'a'.repeat(64), { attempts: 3, baseDelayMs: 100, maxDelayMs: 1000 });
    } catch (e) {
      err = e as Error;
    } finally {
      srv.close();
      rmSync(cache, { recursive: true, force: true });
    }
    expect(err?.message).toMatch(/^cannot download test-input after 3 attempts: .*\(http:\/\/127\.0\.0\.1:\d+\/x\.jar\)$/);
    expect(connections).toBe(3);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300); // waited 100 + 200 ms between them
  });
  it('reports newer patch releases of a line', () => {
    expect(newerPatches(['1.2.8', '1.2.9', '1.2.10', '1.3.0', '2.0.0.dev1'], { track: '1.2', spark: '1.2.9' } as never)).toEqual(['1.2.10']);
  });
});

describe('a stage downloads its inputs a few at a time', () => {
  const cache = mkdtempSync(join(tmpdir(), 'fetch-all-'));
  const bodies = Array.from({ length: 9 }, (_, i) => Buffer.from(`input ${i} `.repeat(100 + i)));
  let server: Server;
  let base = '';
  let open = 0;
  let most = 0;
  const asked: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      const n = Number(req.url!.slice(1));
      asked.push(req.url!);
      open++;
      most = Math.max(most, open);
      // Each answer waits a little, so that downloads overlap when they run at once.
      setTimeout(() => {
        open--;
        if (n === 99) res.end('not what the lock pins');
        else res.end(bodies[n]);
      }, 60);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => {
    server.close();
    rmSync(cache, { recursive: true, force: true });
  });

  it('at most PARALLEL at once, each sha256 once, the paths in the inputs order; a bad one stops the queue with its error', async () => {
    const inputs = bodies.map((b, i) => ({ id: `in-${i}`, url: `${base}/${i}`, sha256: sha(b) }));
    // The same bytes under another name (another id, another URL) are fetched once.
    const twin = { id: 'in-0-again', url: `${base}/0`, sha256: sha(bodies[0]!) };
    const paths = await fetchAllVerified(cache, [...inputs, twin], 3);
    expect([...paths.keys()]).toEqual([...inputs.map((i) => i.id), 'in-0-again']);
    for (const i of inputs) expect(sha(readFileSync(paths.get(i.id)!))).toBe(i.sha256);
    expect(paths.get('in-0-again')).toBe(paths.get('in-0'));
    expect(asked).toHaveLength(9);
    expect(most).toBe(3);
    // A checksum failure (no retry: it is the input that is wrong) ends the run with its one-line error;
    // the inputs after it in the queue are not asked for.
    asked.length = 0;
    const bad = [
      { id: 'bad', url: `${base}/99`, sha256: 'a'.repeat(64) },
      ...Array.from({ length: 5 }, (_, i) => ({ id: `late-${i}`, url: `${base}/${i + 1}`, sha256: 'b'.repeat(63) + i })),
    ];
    await expect(fetchAllVerified(cache, bad, 1)).rejects.toThrow(/checksum mismatch for bad: expected sha256 a{64}/);
    expect(asked).toEqual(['/99']);
  });
});
