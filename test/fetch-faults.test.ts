/**
 * Downloads under faults, against a loopback server (test/support/range-server.ts): a slow link that
 * cuts twice still delivers the file, each retry resuming with a Range request where the last
 * stopped and saying how far it got; a stalled connection ends by the idle timeout (not a whole-body
 * one) and resumes; a partial a killed run left is resumed, not restarted (bytes served counted);
 * a server that ignores ranges, or a file changed upstream, starts cleanly from the first byte; and
 * only stale partials are swept.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { execa } from 'execa';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { casPath, contentRange, fetchUnpinned, fetchVerified } from '../src/stage/fetch.ts';
import { RangeServer } from './support/range-server.ts';
import { ROOT } from './support/k8s.ts';

const MB = 1 << 20;
const body = randomBytes(5 * MB);
const sha = createHash('sha256').update(body).digest('hex');
const fast = { attempts: 4, baseDelayMs: 100, maxDelayMs: 400 };
const deadPid = () => spawnSync('true').pid!;

let cache = '';
let server: RangeServer | undefined;
let warnings: string[] = [];
beforeEach(() => {
  cache = mkdtempSync(join(tmpdir(), 'fetch-'));
  warnings = [];
  const write = process.stderr.write.bind(process.stderr);
  vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array, ...rest: unknown[]) => {
    if (String(c).includes('WARN')) warnings.push(String(c).trim());
    return write(c as string, ...(rest as []));
  });
});
afterEach(async () => {
  vi.restoreAllMocks();
  await server?.stop();
  server = undefined;
  rmSync(cache, { recursive: true, force: true });
});
const shaDir = () => join(cache, 'downloads', 'sha256');
const leftovers = () => readdirSync(shaDir()).filter((n) => n.includes('.part'));

describe('downloads on a bad link', () => {
  it('a 5 MB file over a link throttled to 200 KB/s that cuts twice arrives whole, each retry resuming where the last stopped', async () => {
    server = new RangeServer(body, { bytesPerSec: 200 * 1024, cutAt: [1.5 * MB, 3.5 * MB] });
    const url = await server.start();
    const p = await fetchVerified(cache, 'big', url, sha, fast);
    expect(createHash('sha256').update(readFileSync(p)).digest('hex')).toBe(sha);
    expect(server.requests).toBe(3);
    expect(server.ranges[0]).toBeUndefined();
    expect(server.ranges.slice(1)).toEqual([expect.stringMatching(/^bytes=\d+-$/), expect.stringMatching(/^bytes=\d+-$/)]);
    // Resumed, not restarted: the server sent the file about once (what was in flight at a cut is lost).
    expect(server.bytesSent).toBeGreaterThanOrEqual(body.length);
    expect(server.bytesSent).toBeLessThan(body.length + 512 * 1024);
    const retries = warnings.filter((w) => w.includes('big: '));
    expect(retries).toHaveLength(2);
    for (const w of retries) expect(w).toMatch(/big: transfer interrupted .* after \d+\.\d MB of 5\.0 MB; resuming in \d+ ms \(\d\/4\)/);
    expect(leftovers()).toEqual([]);
  }, 90_000);

  it('a connection that stalls ends by the idle timeout and the next attempt resumes (no whole-body timeout)', async () => {
    server = new RangeServer(body, { stallAt: [1 * MB] });
    const url = await server.start();
    const p = await fetchVerified(cache, 'stalled', url, sha, fast, { idleMs: 1000 });
    expect(createHash('sha256').update(readFileSync(p)).digest('hex')).toBe(sha);
    expect(server.ranges).toEqual([undefined, `bytes=${1 * MB}-`]);
    expect(warnings.find((w) => w.includes('stalled: '))).toMatch(/stalled: no data for 1 s after 1\.0 MB of 5\.0 MB; resuming in/);
  }, 30_000);

  it('a partial a killed run left is resumed by the next run, not restarted (bytes served counted), and nothing is left', async () => {
    server = new RangeServer(body, { bytesPerSec: 1 * MB });
    const url = await server.start();
    const script = `import { fetchVerified } from ${JSON.stringify(join(ROOT, 'src/stage/fetch.ts'))};
      await fetchVerified(${JSON.stringify(cache)}, 'big', ${JSON.stringify(url)}, '${sha}');`;
    const child = execa('node', ['--import', 'tsx', '--input-type=module', '-e', script], { reject: false });
    const part = `${casPath(cache, sha)}.part-${child.pid}`;
    for (let waited = 0; waited < 60_000 && !(existsSync(`${part}.json`) && server.bytesSent >= 1.5 * MB); waited += 50)
      await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGKILL');
    await child;
    const left = statSync(part).size;
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(body.length);
    server.bytesSent = 0;
    server.ranges = [];
    server.o.bytesPerSec = undefined;
    const p = await fetchVerified(cache, 'big', url, sha, fast);
    expect(createHash('sha256').update(readFileSync(p)).digest('hex')).toBe(sha);
    expect(server.ranges).toEqual([`bytes=${left}-`]);
    expect(server.bytesSent).toBe(body.length - left);
    expect(readdirSync(shaDir()).sort()).toEqual([sha, `${sha}.verified`]);
  }, 90_000);

  it('a server that ignores the range (200) restarts the file cleanly from its first byte', async () => {
    server = new RangeServer(body, { ignoreRange: true, cutAt: [1 * MB] });
    const url = await server.start();
    const p = await fetchVerified(cache, 'no-ranges', url, sha, fast);
    expect(createHash('sha256').update(readFileSync(p)).digest('hex')).toBe(sha);
    expect(server.ranges).toEqual([undefined, expect.stringMatching(/^bytes=\d+-$/)]);
    expect(leftovers()).toEqual([]);
  }, 30_000);

  it('a partial of a file that changed upstream (another ETag) is not spliced: If-Range gets the new file whole', async () => {
    const v2 = randomBytes(2 * MB);
    const sha2 = createHash('sha256').update(v2).digest('hex');
    server = new RangeServer(v2, { etag: '"v2"' });
    const url = await server.start();
    mkdirSync(shaDir(), { recursive: true });
    const part = `${casPath(cache, sha2)}.part-${deadPid()}`;
    writeFileSync(part, body.subarray(0, MB));
    writeFileSync(`${part}.json`, JSON.stringify({ url, etag: '"v1"', size: body.length }));
    await fetchVerified(cache, 'changed', url, sha2, fast);
    expect(server.ranges).toEqual([`bytes=${MB}-`]);
    expect(server.bytesSent).toBe(v2.length);
    expect(leftovers()).toEqual([]);
  });

  it('a resumed partial whose bytes are wrong starts once more from the first byte, not a checksum error', async () => {
    server = new RangeServer(body);
    const url = await server.start();
    mkdirSync(shaDir(), { recursive: true });
    const part = `${casPath(cache, sha)}.part-${deadPid()}`;
    writeFileSync(part, randomBytes(MB));
    writeFileSync(`${part}.json`, JSON.stringify({ url, etag: '"v1"', size: body.length }));
    await fetchVerified(cache, 'corrupt', url, sha, fast);
    expect(server.ranges).toEqual([`bytes=${MB}-`, undefined]);
    expect(warnings.find((w) => w.includes('corrupt: '))).toMatch(/does not match its sha256; starting again/);
  });

  it('only stale partials are swept: a dead run without a record or untouched for 8 days; a live run keeps its own', async () => {
    server = new RangeServer(body);
    const url = await server.start();
    mkdirSync(shaDir(), { recursive: true });
    mkdirSync(join(cache, 'downloads', 'tmp'), { recursive: true });
    const other = 'e'.repeat(64);
    const dead = deadPid();
    const sleeper = execa('sleep', ['60']);
    try {
      const noRecord = `${casPath(cache, other)}.part-${dead}`; // what an older sparkcraft's killed run left
      const old = `${casPath(cache, 'd'.repeat(64))}.part-${dead}`;
      const fresh = `${casPath(cache, 'c'.repeat(64))}.part-${dead}`; // resumable: kept for the run that wants it
      const live = `${casPath(cache, 'b'.repeat(64))}.part-${sleeper.pid}`;
      for (const f of [noRecord, old, fresh, live]) writeFileSync(f, 'x');
      for (const f of [old, fresh, live]) writeFileSync(`${f}.json`, JSON.stringify({ url: 'https://example.invalid/x', etag: '"x"' }));
      const longAgo = (Date.now() - 8 * 24 * 3600_000) / 1000;
      utimesSync(old, longAgo, longAgo);
      const unpinned = join(cache, 'downloads', 'tmp', `${dead}-1700000000000`);
      writeFileSync(unpinned, 'x');
      await fetchVerified(cache, 'sweeper', url, sha, fast);
      expect(leftovers().sort()).toEqual([fresh, `${fresh}.json`, live, `${live}.json`].map((f) => f.split('/').pop()).sort());
      const got = await fetchUnpinned(cache, 'unpinned', url, fast);
      expect(got.sha256).toBe(sha);
      expect(existsSync(unpinned)).toBe(false);
      expect(readdirSync(join(cache, 'downloads', 'tmp'))).toEqual([]);
    } finally {
      sleeper.kill();
      await sleeper.catch(() => undefined);
    }
  });

  it("reads a 206 answer's Content-Range", () => {
    expect(contentRange('bytes 100-199/200')).toEqual({ start: 100, total: 200 });
    expect(contentRange('bytes 0-9/*')).toEqual({ start: 0, total: undefined });
    expect(contentRange('items 0-9/10')).toBeUndefined();
    expect(contentRange(null)).toBeUndefined();
  });
});
