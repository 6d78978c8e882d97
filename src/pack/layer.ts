/**
 * Layers: a tar of entries, gzip-compressed with pigz (-n: no name or time, so deterministic),
 * hashed on the way (diff_id of the tar, digest of the blob) and kept in a cache keyed by what
 * went in, so an unchanged layer is never rebuilt.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { UserError } from '../lib/errors.ts';
import { fileIdentity, writeFileAtomic } from '../lib/fsx.ts';
import { alive } from '../lib/procs.ts';
import { log } from '../lib/log.ts';
import { sha256File } from '../lib/hash.ts';
import { cacheLock, FORMATS, readRecord, staleFormat, withLock } from '../lib/state.ts';
import { writeTar, type TarEntry } from './tar.ts';
import { temporary } from '../lib/interrupt.ts';

export interface LayerBlob {
  key: string;
  digest: string; // sha256:... of the compressed blob
  diffId: string; // sha256:... of the tar
  size: number;
  path: string; // the blob in the cache
  comment: string;
  /** Directories the layer writes, with their metadata (later layers repeat them unchanged). */
  dirs: Record<string, { mode: number; uid: number; gid: number }>;
  /** The image history entry of a layer taken from another image (kept verbatim); ours are made from `comment`. */
  history?: Record<string, unknown>;
}

/** The layer cache under the download/build cache `cache` (the workspace's `cache`). */
export function layerCacheDir(cache: string): string {
  return join(cache, 'layers');
}

/**
 * A layer's record in the cache (`<key>.json`): versioned (lib/state.ts FORMATS.layer; the key
 * carries the format too), the blob's fields, and the blob's identity when it was recorded.
 */
interface LayerRecord {
  kind: 'layer';
  format: number;
  key: string;
  identity: string;
  data: LayerBlob;
}

/**
 * Record a layer blob in the cache under its key, with the blob's identity (size, mtime, inode) at
 * this moment; written to a temporary name and renamed, so a reader never meets half a record.
 */
export async function recordLayer(cache: string, blob: LayerBlob): Promise<void> {
  const rec: LayerRecord = { kind: 'layer', format: FORMATS.layer, key: blob.key, identity: fileIdentity(blob.path), data: blob };
  await writeFileAtomic(join(layerCacheDir(cache), `${blob.key}.json`), JSON.stringify(rec));
}

/**
 * The cached layer under `key`, if it is still the blob that was made: its digest is its name, so a
 * blob whose size, mtime or inode changed since it was recorded is hashed again before it goes into
 * an image; one that no longer matches is removed (with one warning) and the layer is built anew.
 */
export async function cachedLayer(cache: string, key: string): Promise<LayerBlob | undefined> {
  const meta = join(layerCacheDir(cache), `${key}.json`);
  const rec = readRecord(meta) as LayerRecord | undefined;
  // No record, or one of another format (never trusted: the layer is built again).
  if (rec === undefined || staleFormat('layer', rec)) return undefined;
  const l = rec.data;
  if (!l || !existsSync(l.path) || !l.dirs) return undefined;
  if (rec.identity !== fileIdentity(l.path)) {
    const got = `sha256:${await sha256File(l.path)}`;
    if (got !== l.digest) {
      log.warn(`cached layer ${l.comment} was changed on disk (${got}, expected ${l.digest}): removed, it will be built again`);
      rmSync(l.path, { force: true });
      rmSync(meta, { force: true });
      return undefined;
    }
    await recordLayer(cache, l);
  }
  const now = new Date();
  utimesSync(meta, now, now); // last use, for trimLayerCache
  return l;
}

/** trimLayerCache under the layer cache's lock (one trim at a time, across checkouts sharing the cache). */
export async function trimLayerCacheLocked(cache: string, keep: Set<string>): Promise<{ layers: number; bytes: number }> {
  return withLock(cacheLock(cache, 'layers-trim'), 'trimming the layer cache', async () => trimLayerCache(cache, keep));
}

/**
 * Every change of a part (a new Spark, a new spark8t) adds layers, so the cache is trimmed after
 * each build. A layer stays while `keep` names it (the artifacts of this checkout use it) or while
 * it was used within `graceMs` (a build running meanwhile, another checkout or worktree sharing the
 * cache, whose dist/ this run cannot see: a day, so that a checkout built this morning still finds
 * its layers tonight); a blob stays while a remaining layer points at it. Temporaries of builds
 * that died go too.
 */
export const LAYER_GRACE_MS = 24 * 3_600_000;
export function trimLayerCache(cache: string, keep: Set<string>, graceMs = LAYER_GRACE_MS, now = Date.now()): { layers: number; bytes: number } {
  const dir = layerCacheDir(cache);
  if (!existsSync(dir)) return { layers: 0, bytes: 0 };
  const names = readdirSync(dir);
  const recent = (p: string) => now - statSync(p).mtimeMs < graceMs;
  const kept = new Set<string>();
  let layers = 0;
  let bytes = 0;
  for (const n of names.filter((x) => x.endsWith('.json'))) {
    const meta = join(dir, n);
    const key = n.slice(0, -'.json'.length);
    let blob: string | undefined;
    try {
      // A record of any format (those of older formats go as no artifact names them).
      const r = JSON.parse(readFileSync(meta, 'utf8')) as { path?: string; data?: { path?: string } };
      blob = r.data?.path ?? r.path;
    } catch {
      blob = undefined; // unreadable: not a layer anyone can use
    }
    if (blob && (keep.has(key) || recent(meta))) {
      kept.add(blob);
      continue;
    }
    rmSync(meta, { force: true });
    layers++;
  }
  for (const n of names) {
    const p = join(dir, n);
    const tmp = /\.tmp-(\d+)(?:-[0-9a-f]+)?$/.exec(n); // ours, and writeFileAtomic's (a record)
    const drop = tmp ? !alive(Number(tmp[1])) : n.endsWith('.tar.gz') && !kept.has(p) && !recent(p);
    if (!drop || !existsSync(p)) continue;
    bytes += statSync(p).size;
    rmSync(p, { force: true });
  }
  return { layers, bytes };
}

/** Compress a tar of `entries` into the cache under `key` (skipped when already there). */
export async function buildLayer(
  cache: string,
  key: string,
  comment: string,
  entries: () => Promise<TarEntry[]>,
  mtime: number,
): Promise<LayerBlob & { cached: boolean }> {
  const hit = await cachedLayer(cache, key);
  if (hit) return { ...hit, cached: true };
  const dir = layerCacheDir(cache);
  mkdirSync(dir, { recursive: true });
  const tmp = temporary(join(dir, `${key}.tar.gz.tmp-${process.pid}`));
  const list = await entries();
  const diffHash = createHash('sha256');
  const blobHash = createHash('sha256');
  let size = 0;
  const pigz = spawn('pigz', ['-n', '-6', '-c'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out = createWriteStream(tmp);
  const tee = new PassThrough();
  // Any failure of the pipeline (pigz missing, a full disk, pigz dying) ends the whole layer.
  const failure = new Promise<never>((_, rej) => {
    pigz.on('error', (e) =>
      rej(new UserError('E_TOOL', `pigz could not run (${(e as NodeJS.ErrnoException).code})`, { hint: 'run `npm run setup` (installs pigz)' })),
    );
    out.on('error', rej);
    pigz.stdin.on('error', rej);
    tee.on('error', rej);
  });
  failure.catch(() => undefined); // observed below; never an unhandled rejection
  pigz.stdout.on('data', (c: Buffer) => {
    blobHash.update(c);
    size += c.length;
  });
  pigz.stdout.pipe(out);
  tee.on('data', (c: Buffer) => diffHash.update(c));
  tee.pipe(pigz.stdin);
  const finished = new Promise<void>((res) => out.on('finish', () => res()));
  const exited = new Promise<number>((res) => pigz.on('close', (code) => res(code ?? 1)));
  const writing = writeTar(tee, list, mtime).then(() => tee.end());
  writing.catch(() => undefined); // after a failure the tar writer may fail too: the first cause wins
  try {
    await Promise.race([writing, failure]);
    const code = await Promise.race([exited, failure]);
    await Promise.race([finished, failure]);
    if (code !== 0) throw new UserError('E_TOOL', `pigz failed with status ${code}`);
  } catch (e) {
    pigz.kill('SIGKILL');
    tee.destroy();
    out.destroy();
    rmSync(tmp, { force: true });
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOSPC')
      throw new UserError('E_DISK_FULL', `no space left on device while writing layer ${comment}`, { hint: `free space under ${dir}` });
    throw e;
  }
  const digest = `sha256:${blobHash.digest('hex')}`;
  const path = join(dir, `${digest.slice(7)}.tar.gz`);
  renameSync(tmp, path);
  const dirs: LayerBlob['dirs'] = {};
  for (const e of list) if (e.type === 'dir') dirs[e.path] = { mode: e.mode, uid: e.uid, gid: e.gid };
  const blob: LayerBlob = { key, digest, diffId: `sha256:${diffHash.digest('hex')}`, size, path, comment, dirs };
  await recordLayer(cache, blob);
  return { ...blob, cached: false };
}

export interface Owner {
  uid: number;
  gid: number;
}

/**
 * Entries for a host directory placed at `prefix` in the image, sorted; real modes, ownership from
 * the disk unless `owner` overrides it. `includeRoot` adds the prefix directory itself.
 */
export async function dirEntries(
  root: string,
  prefix: string,
  opts: { owner?: Owner; includeRoot?: boolean; skip?: (rel: string) => boolean } = {},
): Promise<TarEntry[]> {
  const out: TarEntry[] = [];
  const own = (st: { uid: number; gid: number }) => opts.owner ?? { uid: st.uid, gid: st.gid };
  const join2 = (a: string, b: string) => (a ? `${a}/${b}` : b);
  if (opts.includeRoot && prefix) {
    const st = await lstat(root);
    out.push({ path: prefix, type: 'dir', mode: st.mode & 0o7777, ...own(st) });
  }
  const walk = async (dir: string, rel: string) => {
    const names = (await readdir(dir)).sort((a, b) => (Buffer.from(a) < Buffer.from(b) ? -1 : a === b ? 0 : 1));
    for (const n of names) {
      const p = join(dir, n);
      const r = join2(rel, n);
      if (opts.skip?.(r)) continue;
      const st = await lstat(p);
      const path = join2(prefix, r);
      if (st.isDirectory()) {
        out.push({ path, type: 'dir', mode: st.mode & 0o7777, ...own(st) });
        await walk(p, r);
      } else if (st.isSymbolicLink()) {
        out.push({ path, type: 'symlink', mode: 0o777, ...own(st), linkname: await readlink(p) });
      } else if (st.isFile()) {
        out.push({ path, type: 'file', mode: st.mode & 0o7777, ...own(st), size: st.size, source: p });
      }
      // devices, fifos and sockets are the runtime's business
    }
  };
  await walk(root, '');
  return out;
}

/** fnmatch as craft-parts uses it: `*` and `?` also match `/`. */
export function fnmatch(pattern: string, path: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`).test(path);
}
