/**
 * The content-addressed download cache: `<cache>/downloads/sha256/<hex>`. A file enters it only
 * after its sha256 matched; downloads go to a temporary name first. Network failures are retried
 * with the one backoff policy (lib/retry.ts), then reported in one line naming the input.
 *
 * A cached file is trusted only while it is the file that was verified: `<hex>.verified` records
 * its size, mtime and inode at verification. When any of them differ (or the record is missing),
 * the file is hashed again before use; a mismatch removes it, with one warning, and it is fetched
 * again.
 */
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { UserError } from '../lib/errors.ts';
import { log } from '../lib/log.ts';
import { fileIdentity, writeFileAtomic } from '../lib/fsx.ts';
import { sha256File } from '../lib/hash.ts';
import { RetriesExhausted, withRetry, type RetryPolicy } from '../lib/retry.ts';

/** Downloads: 4 attempts, 0.5 s, 1 s, 2 s between them (the one retry policy, lib/retry.ts). */
export const DOWNLOAD_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 500, maxDelayMs: 8_000 };

/** Where the download of `sha256` is kept under `cache` (the workspace's). */
export function casPath(cache: string, sha256: string): string {
  return join(cache, 'downloads', 'sha256', sha256);
}

class Transient extends Error {}

async function downloadOnce(url: string, dest: string): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow', signal: AbortSignal.timeout(600_000) });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).name;
    throw new Transient(`network error (${cause})`);
  }
  if (res.status >= 500 || res.status === 429) throw new Transient(`HTTP ${res.status}`);
  if (!res.ok || !res.body)
    throw new UserError('E_DOWNLOAD', `HTTP ${res.status} for ${url}`, { hint: 'check the URL in the lock file (npm run lock refreshes it)' });
  try {
    await pipeline(Readable.fromWeb(res.body as never), createWriteStream(dest));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC') throw new UserError('E_DISK_FULL', `no space left on device downloading ${url}`, { hint: `free space under ${dirname(dest)}` });
    throw new Transient(`transfer interrupted (${code ?? (e as Error).message})`);
  }
}

/**
 * Download `url` to `tmp` and hand it to `accept` (which verifies and moves it), retrying
 * transient failures with exponential backoff; `tmp` never survives a failed attempt.
 */
async function download<T>(name: string, url: string, tmp: string, retry: RetryPolicy, accept: () => Promise<T>): Promise<T> {
  try {
    const { value } = await withRetry(
      async () => {
        try {
          log.info(`downloading ${name} (${url})`);
          await downloadOnce(url, tmp);
          return await accept();
        } catch (e) {
          rmSync(tmp, { force: true });
          throw e;
        }
      },
      retry,
      (e) => e instanceof Transient,
      ({ attempt, error, delayMs }) => log.warn(`${name}: ${(error as Error).message}; retrying in ${delayMs} ms (${attempt}/${retry.attempts})`),
    );
    return value;
  } catch (e) {
    if (!(e instanceof RetriesExhausted)) throw e;
    throw new UserError('E_DOWNLOAD', `cannot download ${name} after ${e.attempts} attempts: ${(e.last as Error).message} (${url})`);
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
export async function fetchVerified(cache: string, name: string, url: string, sha256: string, retry: RetryPolicy = DOWNLOAD_RETRY): Promise<string> {
  const dest = casPath(cache, sha256);
  if ((await recheckCached(cache, name, sha256)) === 'verified') return dest;
  mkdirSync(join(dest, '..'), { recursive: true });
  const tmp = `${dest}.part-${process.pid}`;
  return download(name, url, tmp, retry, async () => {
    const got = await sha256File(tmp);
    if (got !== sha256) {
      rmSync(tmp, { force: true });
      throw new UserError('E_CHECKSUM', `checksum mismatch for ${name}: expected sha256 ${sha256}, got ${got} (${url})`);
    }
    renameSync(tmp, dest);
    await recordVerified(dest);
    return dest;
  });
}

/** Download without a known checksum (lock refresh only) and return its cache path and sha256. */
export async function fetchUnpinned(cache: string, name: string, url: string, retry: RetryPolicy = DOWNLOAD_RETRY): Promise<{ path: string; sha256: string }> {
  const dir = join(cache, 'downloads', 'tmp');
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `${process.pid}-${Date.now()}`);
  return download(name, url, tmp, retry, async () => {
    const sha256 = await sha256File(tmp);
    const dest = casPath(cache, sha256);
    mkdirSync(join(dest, '..'), { recursive: true });
    if (existsSync(dest)) rmSync(tmp);
    else renameSync(tmp, dest);
    return { path: dest, sha256 };
  });
}
