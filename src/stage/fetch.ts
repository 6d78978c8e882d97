/**
 * The content-addressed download cache: `<cache>/downloads/sha256/<hex>`. A file enters it only
 * after its sha256 matched; downloads go to a temporary name first. Network failures are retried
 * with the one backoff policy (lib/retry.ts), then reported in one line naming the input.
 *
 * A cached file is trusted only while it is the file that was verified: `<hex>.verified` records
 * its size, mtime and inode at verification. When any of them differ (or the record is missing),
 * the file is hashed again before use; a mismatch removes it, with one warning, and it is fetched
 * again.
 *
 * A download in progress is resumable state under the cache: `<hex>.part-<pid>` with
 * `<hex>.part-<pid>.json` beside it (the URL, the server's ETag, Last-Modified and size). An attempt
 * ends when nothing arrives for DOWNLOAD_IDLE_MS (there is no whole-body timeout); the next resumes
 * with a Range request (If-Range on the ETag). The next run takes over what a killed run left, and
 * only stale partials (no record, or untouched for PARTIAL_MAX_AGE_MS) are swept.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable, Transform } from 'node:stream';
import { UserError } from '../lib/errors.ts';
import { log } from '../lib/log.ts';
import { fileIdentity, sweepLeftovers, writeFileAtomic } from '../lib/fsx.ts';
import { alive } from '../lib/procs.ts';
import { sha256File } from '../lib/hash.ts';
import { RetriesExhausted, withRetry, type RetryPolicy } from '../lib/retry.ts';

/** Downloads: 4 attempts, 0.5 s, 1 s, 2 s between them (the one retry policy, lib/retry.ts). */
export const DOWNLOAD_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 500, maxDelayMs: 8_000 };

/** Where the download of `sha256` is kept under `cache` (the workspace's). */
export function casPath(cache: string, sha256: string): string {
  // The digest names a file: nothing but a digest may (the lock is validated; this guards every caller).
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new UserError('E_LOCK', `${JSON.stringify(sha256).slice(0, 80)} is not a sha256 (64 lower-case hex digits)`);
  return join(cache, 'downloads', 'sha256', sha256);
}

class Transient extends Error {}

/** A download may go this long without a byte arriving; then the attempt ends and the next resumes. */
export const DOWNLOAD_IDLE_MS = 60_000;
/** A partial download a dead run left is resumable this long after its last byte; then it is swept. */
export const PARTIAL_MAX_AGE_MS = 7 * 24 * 3600_000;

export interface DownloadOptions {
  /** Abandon (and resume) an attempt after this long without a byte (default DOWNLOAD_IDLE_MS). */
  idleMs?: number;
}

/** What is known of a partial download, beside it as `<partial>.json`: where it came from and what the server said. */
interface PartialMeta {
  url: string;
  etag?: string;
  lastModified?: string;
  /** The whole file's size, when the server said. */
  size?: number;
}

const metaOf = (part: string): PartialMeta | undefined => {
  try {
    const m = JSON.parse(readFileSync(`${part}.json`, 'utf8')) as PartialMeta;
    return typeof m.url === 'string' ? m : undefined;
  } catch {
    return undefined;
  }
};
const sizeOf = (f: string) => statSync(f, { throwIfNoEntry: false })?.size ?? 0;
const dropPartial = (part: string) => {
  rmSync(part, { force: true });
  rmSync(`${part}.json`, { force: true });
};
const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;

/**
 * Pure: the first byte and the whole size a 206 answer's Content-Range gives (`bytes 100-199/200`),
 * or undefined when it is not one.
 */
export function contentRange(v: string | null): { start: number; total?: number } | undefined {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(v?.trim() ?? '');
  return m ? { start: Number(m[1]), total: m[3] === '*' ? undefined : Number(m[3]) } : undefined;
}

/**
 * The partial download of `base` (`<base>-<pid>`, beside it `<base>-<pid>.json`) this process
 * writes: its own, or the one a dead run left (taken over by a rename, so two runs never share one).
 * Dead runs' partials in that folder that cannot be resumed (no record: killed before the server
 * answered, or an older sparkcraft's; or untouched for PARTIAL_MAX_AGE_MS) are swept.
 */
function claimPartial(base: string): string {
  const mine = `${base}-${process.pid}`;
  const dir = dirname(base);
  const now = Date.now();
  let best: { name: string; size: number } | undefined;
  for (const name of readdirSync(dir)) {
    const m = /^(.+\.part)-(\d+)(\.json)?$/.exec(name);
    if (!m || Number(m[2]) === process.pid || alive(Number(m[2]))) continue;
    const f = join(dir, name.replace(/\.json$/, ''));
    const st = statSync(f, { throwIfNoEntry: false });
    if (!st || !metaOf(f) || now - st.mtimeMs > PARTIAL_MAX_AGE_MS) dropPartial(f);
    else if (m[1] === basename(base) && !m[3] && (!best || st.size > best.size)) best = { name, size: st.size };
  }
  if (best && !existsSync(mine)) {
    const from = join(dir, best.name);
    try {
      renameSync(from, mine);
      renameSync(`${from}.json`, `${mine}.json`);
      log.info(`resuming ${basename(base)} from the ${mb(best.size)} a killed run left`);
    } catch {
      // another run took it first (or its record went): start afresh
      dropPartial(mine);
    }
  }
  return mine;
}

/**
 * One attempt: resume `part` from its size with a Range request when its record says it came from
 * `url` (and the server's ETag or Last-Modified is known), else fetch from the first byte. A 206 must
 * start where the partial ends and keep its ETag and size; a 200 (a server ignoring the range, or
 * If-Range finding a changed file) starts again from the first byte. Nothing arriving for `idleMs`
 * ends the attempt.
 */
async function downloadOnce(url: string, part: string, idleMs: number): Promise<number> {
  const meta = metaOf(part);
  const have = sizeOf(part);
  const resume = have > 0 && meta?.url === url && !!(meta.etag || meta.lastModified);
  if (!resume) dropPartial(part);
  const validator = meta?.etag && !meta.etag.startsWith('W/') ? meta.etag : meta?.lastModified;
  const headers: Record<string, string> = resume ? { range: `bytes=${have}-`, ...(validator ? { 'if-range': validator } : {}) } : {};
  const ac = new AbortController();
  let idle = false;
  const quit = () => {
    idle = true;
    ac.abort();
  };
  let timer = setTimeout(quit, idleMs);
  const touch = () => {
    clearTimeout(timer);
    timer = setTimeout(quit, idleMs);
  };
  const quiet = `no data for ${Math.round(idleMs / 1000)} s`;
  try {
    let res: Response;
    try {
      res = await fetch(url, { redirect: 'follow', signal: ac.signal, headers });
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).name;
      throw new Transient(idle ? quiet : `network error (${cause})`);
    }
    touch();
    if (resume && res.status === 416) {
      // The partial may already be whole (a run killed after its last byte).
      if (contentRange(res.headers.get('content-range')?.replace('*/', '0-0/') ?? null)?.total === have) return have;
      dropPartial(part);
      throw new Transient('the server refused to resume; starting again');
    }
    if (res.status >= 500 || res.status === 429) throw new Transient(`HTTP ${res.status}`);
    if (!res.ok || !res.body)
      throw new UserError('E_DOWNLOAD', `HTTP ${res.status} for ${url}`, { hint: 'check the URL in the lock file (npm run lock refreshes it)' });
    const etag = res.headers.get('etag') ?? undefined;
    let from = 0;
    let total = res.headers.has('content-length') ? Number(res.headers.get('content-length')) : undefined;
    if (res.status === 206) {
      const cr = contentRange(res.headers.get('content-range'));
      if (!resume || !cr || cr.start !== have || (meta?.etag && etag && etag !== meta.etag) || (meta?.size && cr.total && cr.total !== meta.size)) {
        await res.body.cancel().catch(() => undefined);
        dropPartial(part);
        throw new Transient(`the server resumed another range or file (${res.headers.get('content-range')}); starting again`);
      }
      from = have;
      total = cr.total;
    }
    await writeFileAtomic(
      `${part}.json`,
      JSON.stringify({ url, etag, lastModified: res.headers.get('last-modified') ?? undefined, size: total } satisfies PartialMeta),
    );
    try {
      await pipeline(
        Readable.fromWeb(res.body as never),
        new Transform({
          transform(c: Buffer, _e, done) {
            touch();
            done(null, c);
          },
        }),
        createWriteStream(part, from ? { flags: 'a' } : {}),
      );
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOSPC') {
        dropPartial(part);
        throw new UserError('E_DISK_FULL', `no space left on device downloading ${url}`, { hint: `free space under ${dirname(part)}` });
      }
      throw new Transient(idle ? quiet : `transfer interrupted (${code ?? (e as Error).message})`);
    }
    if (total !== undefined && sizeOf(part) !== total) throw new Transient(`transfer ended at ${mb(sizeOf(part))} of ${mb(total)}`);
    return from;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Download `url` into the partial file of `base` and hand it to `accept` (which verifies and moves
 * it). Transient failures are retried with the one backoff policy, each retry resuming where the last
 * stopped and saying how far it got; a round of attempts that moved the download on earns another.
 * A partial stays (resumable) after a transient failure or a kill; a permanent failure removes it.
 */
async function download<T>(
  name: string,
  url: string,
  base: string,
  retry: RetryPolicy,
  o: DownloadOptions,
  accept: (file: string, resumed: boolean) => Promise<T>,
): Promise<T> {
  mkdirSync(dirname(base), { recursive: true });
  const part = claimPartial(base);
  const progress = () => {
    const total = metaOf(part)?.size;
    return `after ${mb(sizeOf(part))}${total ? ` of ${mb(total)}` : ''}`;
  };
  for (;;) {
    const roundFrom = sizeOf(part);
    try {
      const { value } = await withRetry(
        async () => {
          log.info(`downloading ${name} (${url})${sizeOf(part) ? `, resuming from ${mb(sizeOf(part))}` : ''}`);
          try {
            const from = await downloadOnce(url, part, o.idleMs ?? DOWNLOAD_IDLE_MS);
            return await accept(part, from > 0);
          } catch (e) {
            if (!(e instanceof Transient)) dropPartial(part);
            throw e;
          }
        },
        retry,
        (e) => e instanceof Transient,
        ({ attempt, error, delayMs }) =>
          log.warn(
            `${name}: ${(error as Error).message} ${progress()}; ${sizeOf(part) ? 'resuming' : 'retrying'} in ${delayMs} ms (${attempt}/${retry.attempts})`,
          ),
      );
      return value;
    } catch (e) {
      if (!(e instanceof RetriesExhausted)) throw e;
      if (sizeOf(part) > roundFrom) {
        log.warn(`${name}: ${(e.last as Error).message} ${progress()}; the download moved on, so ${retry.attempts} more attempts`);
        continue;
      }
      // The catalog's hint, unless a partial waits: then where the next run resumes.
      const left = sizeOf(part);
      throw new UserError(
        'E_DOWNLOAD',
        `cannot download ${name} after ${e.attempts} attempts: ${(e.last as Error).message} (${url})`,
        left ? { hint: `check the network or proxy; the next run resumes from ${mb(left)}` } : {},
      );
    }
  }
}

async function recordVerified(dest: string): Promise<void> {
  await writeFileAtomic(`${dest}.verified`, fileIdentity(dest));
}

export type CacheCheck = 'absent' | 'verified' | 'removed';

/**
 * Is the cached copy of `sha256` still the file that was verified? Rehashes it when its size, mtime or
 * inode changed since (always with `rehash`); a file whose content no longer matches is removed.
 */
export async function recheckCached(cache: string, name: string, sha256: string, opts: { rehash?: boolean } = {}): Promise<CacheCheck> {
  const dest = casPath(cache, sha256);
  if (!existsSync(dest)) return 'absent';
  const record = `${dest}.verified`;
  if (!opts.rehash && existsSync(record) && readFileSync(record, 'utf8') === fileIdentity(dest)) return 'verified';
  const got = await sha256File(dest);
  if (got === sha256) {
    await recordVerified(dest);
    return 'verified';
  }
  rmSync(dest, { force: true });
  rmSync(record, { force: true });
  log.warn(`cached ${name} was changed on disk (sha256 ${got}, expected ${sha256}): removed, it will be downloaded again`);
  return 'removed';
}

/** Download `url` (when its sha256 is not cached yet), verify it, and return the cache path. */
export async function fetchVerified(
  cache: string,
  name: string,
  url: string,
  sha256: string,
  retry: RetryPolicy = DOWNLOAD_RETRY,
  o: DownloadOptions = {},
): Promise<string> {
  const dest = casPath(cache, sha256);
  if ((await recheckCached(cache, name, sha256)) === 'verified') return dest;
  return download(name, url, `${dest}.part`, retry, o, async (part, resumed) => {
    const got = await sha256File(part);
    if (got !== sha256) {
      dropPartial(part);
      // A resumed file may hold bytes of another version (a server without validators): once more from the first byte.
      if (resumed) throw new Transient(`the resumed download does not match its sha256; starting again`);
      throw new UserError('E_CHECKSUM', `checksum mismatch for ${name}: expected sha256 ${sha256}, got ${got} (${url})`);
    }
    renameSync(part, dest);
    rmSync(`${part}.json`, { force: true });
    await recordVerified(dest);
    return dest;
  });
}

/** How many verified downloads a stage runs at once (small files are mostly round trips; a large one is the link's). */
export const PARALLEL_DOWNLOADS = 4;

/**
 * fetchVerified for every input, PARALLEL at a time, each sha256 once (two inputs with the same bytes
 * would share one partial file): id → cache path, in the inputs' order. After a failure no new download
 * starts and the first error is thrown; the ones already running finish as resumable partials.
 */
export async function fetchAllVerified(
  cache: string,
  inputs: ReadonlyArray<{ id: string; url: string; sha256: string }>,
  parallel = PARALLEL_DOWNLOADS,
): Promise<Map<string, string>> {
  const bySha = new Map<string, { id: string; url: string; sha256: string }>();
  for (const i of inputs) if (!bySha.has(i.sha256)) bySha.set(i.sha256, i);
  const queue = [...bySha.values()];
  const got = new Map<string, string>();
  let failed = false;
  const worker = async () => {
    for (let i = queue.shift(); i && !failed; i = queue.shift()) {
      try {
        got.set(i.sha256, await fetchVerified(cache, i.id, i.url, i.sha256));
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(parallel, queue.length)) }, worker));
  return new Map(inputs.map((i) => [i.id, got.get(i.sha256)!]));
}

/** Download without a known checksum (lock refresh only) and return its cache path and sha256. */
export async function fetchUnpinned(
  cache: string,
  name: string,
  url: string,
  retry: RetryPolicy = DOWNLOAD_RETRY,
  o: DownloadOptions = {},
): Promise<{ path: string; sha256: string }> {
  // Partials of unpinned downloads are named by their URL, so a killed refresh resumes too.
  const base = join(cache, 'downloads', 'tmp', `${createHash('sha256').update(url).digest('hex').slice(0, 32)}.part`);
  await sweepLeftovers(dirname(base), /^(\d+)-\d+$/); // what an older sparkcraft's killed refresh left
  return download(name, url, base, retry, o, async (part) => {
    const sha256 = await sha256File(part);
    const dest = casPath(cache, sha256);
    mkdirSync(join(dest, '..'), { recursive: true });
    if (existsSync(dest)) rmSync(part);
    else renameSync(part, dest);
    rmSync(`${part}.json`, { force: true });
    return { path: dest, sha256 };
  });
}
