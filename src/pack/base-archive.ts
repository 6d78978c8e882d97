/**
 * A layered flavour over a given base image (`build rock --flavour X --base-archive FILE`): the
 * oci-archive the release publishes as the line's base, whichever backend made it (rockcraft's or
 * ours). Its manifest, config and layer blobs are taken as they are, so the flavour's image lists the
 * base's layer digests byte for byte and a registry holding both stores the base once.
 *
 * The archive is read in place: its tar headers are indexed by offset (the data is not read), the
 * small JSON blobs are read and checked against their digests, the image is checked to be the line's
 * base (name, version, architecture) before anything is copied, and only then are the layer blobs
 * the layer cache does not hold yet copied into it (hashed on the way: a blob that does not match its
 * digest is refused). The directories each layer writes (which later layers' parents inherit) are
 * read once per blob and kept with it in the cache.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { UserError } from '../lib/errors.ts';
import { log } from '../lib/log.ts';
import { sha256File } from '../lib/hash.ts';
import { GZIP_LAYERS, walkLayer } from '../lib/tar-read.ts';
import { ArchiveError, readArchiveImage, type ArchiveImage } from '../lib/oci-archive.ts';
import { cachedLayer, layerCacheDir, recordLayer, type LayerBlob } from './layer.ts';
import { MT, type Image } from './oci.ts';
import { FORMAT, type RockBuild } from './rock.ts';
import { temporary } from '../lib/interrupt.ts';

/**
 * The directories a gzip-compressed layer writes, with their metadata (a later entry wins). Reading
 * stops at the end-of-archive marker: what is compressed after it is never inflated.
 */
export async function layerDirs(blob: string): Promise<LayerBlob['dirs']> {
  const dirs: LayerBlob['dirs'] = {};
  await walkLayer(blob, (h) => {
    if (h.type === '5' && h.name && !h.name.split('/').pop()!.startsWith('.wh.')) dirs[h.name] = { mode: h.mode & 0o7777, uid: h.uid, gid: h.gid };
  });
  return dirs;
}

/**
 * Copy `length` bytes at `offset` of `file` to `dest` (via a temporary name), hashing them on the way;
 * returns their sha256, and leaves `dest` in place only when it is `wantHex`.
 */
async function copyRange(file: string, offset: number, length: number, dest: string, wantHex: string): Promise<string> {
  const tmp = temporary(`${dest}.tmp-${process.pid}`);
  const h = createHash('sha256');
  try {
    await pipeline(
      createReadStream(file, { start: offset, end: offset + length - 1 }),
      new Transform({
        transform(c: Buffer, _e, done) {
          h.update(c);
          done(null, c);
        },
      }),
      createWriteStream(tmp),
    );
    const got = h.digest('hex');
    if (got === wantHex) renameSync(tmp, dest);
    return got;
  } finally {
    rmSync(tmp, { force: true });
  }
}

export interface BaseWanted {
  /** The image the flavour is layered over: name, version (`charmed-spark`, `3.5.9`) and architecture. */
  name: string;
  version: string;
  arch: string;
  /** For messages: `3.5/gpu`. */
  what: string;
}

interface OciConfig {
  architecture?: string;
  config?: { User?: string; Env?: string[]; Entrypoint?: string[]; Labels?: Record<string, string> };
  rootfs?: { diff_ids?: string[] };
  history?: Array<{ created?: string; created_by?: string; comment?: string; author?: string; empty_layer?: boolean }>;
}

/**
 * Pure: what the archive's config says the image is. rockcraft labels its rocks with the name as
 * `org.opencontainers.image.ref.name` (the title may be the manifest's human title); the built-in
 * backend with the name as the title.
 */
export function imageIdentity(config: OciConfig): { name?: string; version?: string; arch?: string } {
  const labels = config.config?.Labels ?? {};
  return {
    name: labels['org.opencontainers.image.ref.name'] ?? labels['org.opencontainers.image.title'],
    version: labels['org.opencontainers.image.version'],
    arch: config.architecture,
  };
}

/** The base image in `file`, checked to be `want`, its layers in the layer cache: what buildFlavourRock layers over. */
export async function importBaseArchive(cache: string, file: string, want: BaseWanted): Promise<RockBuild> {
  const bad = (
    why: string,
    hint = `pass the ${want.name} ${want.version} rock the release publishes (an oci-archive, e.g. dist/${want.name}_${want.version}_${want.arch}.rock)`,
  ) => new UserError('E_BASE_ARCHIVE', `--base-archive ${file}: ${why}`, { hint });
  if (!existsSync(file) || !statSync(file).isFile()) throw bad('no such file');
  let img: ArchiveImage;
  try {
    img = readArchiveImage(file, { arch: want.arch });
  } catch (e) {
    if (e instanceof ArchiveError) throw bad(e.message);
    throw e;
  }
  const { members, manifestDigest, manifest: mf } = img;
  if (!mf.layers?.length) throw bad('its manifest has no config or no layers');
  const cfg = img.config as OciConfig;

  const got = imageIdentity(cfg);
  if (got.name !== want.name || got.version !== want.version || got.arch !== want.arch) {
    throw bad(
      `is ${got.name ?? '(no name label)'} ${got.version ?? '(no version label)'} for ${got.arch ?? '(no architecture)'}, not ${want.name} ${want.version} for ${want.arch}, which ${want.what} is layered over`,
    );
  }
  const diffIds = cfg.rootfs?.diff_ids ?? [];
  if (diffIds.length !== mf.layers.length) throw bad(`its config lists ${diffIds.length} layers, its manifest ${mf.layers.length}`);
  const history = (cfg.history ?? []).filter((x) => !x.empty_layer);
  for (const [i, l] of mf.layers.entries()) {
    if (!GZIP_LAYERS.has(l.mediaType ?? '')) throw bad(`layer ${i + 1} is ${l.mediaType}; only gzip layers can be layered over here`);
    if (!/^sha256:[0-9a-f]{64}$/.test(l.digest) || !Number.isSafeInteger(l.size)) throw bad(`layer ${i + 1} has no sha256 digest or size`);
    if (!members.has(`blobs/sha256/${l.digest.slice(7)}`)) throw bad(`layer ${i + 1} ${l.digest} is not in the archive`);
  }

  // The layers, in the layer cache under a key of their digest (copied from the archive once).
  const dir = layerCacheDir(cache);
  mkdirSync(dir, { recursive: true });
  const layers: Array<LayerBlob & { cached: boolean }> = [];
  for (const [i, l] of mf.layers.entries()) {
    const hex = l.digest.slice(7);
    const key = `f${FORMAT}-import-${hex}`;
    // Its history entry as the base has it (when the base lists one per layer), so the flavour's
    // config tells the same story of those layers.
    const hist = history.length === mf.layers.length ? (history[i] as Record<string, unknown>) : undefined;
    const comment = String(hist?.created_by ?? `layer ${i + 1} of ${want.name}`)
      .replace(/^sparkcraft: /, '')
      .slice(0, 200);
    const hit = await cachedLayer(cache, key);
    if (hit && hit.digest === l.digest && hit.diffId === diffIds[i]) {
      layers.push({ ...hit, comment, history: hist, cached: true });
      continue;
    }
    const path = join(dir, `${hex}.tar.gz`);
    // A blob of this digest already in the cache (the built-in backend made the same layer) is used
    // once it still hashes to its name; otherwise it is copied from the archive.
    if (!(existsSync(path) && statSync(path).size === l.size && (await sha256File(path)) === hex)) {
      const member = members.get(`blobs/sha256/${hex}`);
      if (!member) throw bad(`layer ${i + 1} ${l.digest} is not in the archive`);
      if (member.size !== l.size) throw bad(`layer ${i + 1} ${l.digest} is ${member.size} bytes, its manifest says ${l.size}`);
      const sha = await copyRange(file, member.offset, member.size, path, hex);
      if (sha !== hex) throw bad(`layer ${i + 1} does not match its digest ${l.digest} (sha256:${sha})`);
    }
    log.info(`base layer ${i + 1}/${mf.layers.length} (${(l.size / 1048576).toFixed(0)} MiB): reading its directories`);
    let dirs: LayerBlob['dirs'];
    try {
      dirs = await layerDirs(path);
    } catch (e) {
      throw bad(`layer ${i + 1} ${l.digest} is not a gzip-compressed tar (${(e as Error).message.split('\n')[0]})`);
    }
    const blob: LayerBlob = { key, digest: l.digest, diffId: diffIds[i]!, size: l.size!, path, comment, dirs };
    await recordLayer(cache, blob);
    layers.push({ ...blob, history: hist, cached: false });
  }
  const image: Image = { config: img.configRaw, configDigest: mf.config!.digest, manifest: img.manifestRaw, manifestDigest, index: img.indexRaw, layers };
  return { artifact: file, image, layers, reused: true };
}
