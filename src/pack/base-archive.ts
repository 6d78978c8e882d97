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
import { GZIP_LAYERS, indexTar, readMember, walkLayer, type TarMember } from '../lib/tar-read.ts';
import { cachedLayer, layerCacheDir, recordLayer, type LayerBlob } from './layer.ts';
import { MT, type Image } from './oci.ts';
import { FORMAT, type RockBuild } from './rock.ts';
import { temporary } from '../lib/interrupt.ts';

const MANIFESTS = new Set([MT.manifest, 'application/vnd.docker.distribution.manifest.v2+json']);
const INDEXES = new Set([MT.index, 'application/vnd.docker.distribution.manifest.list.v2+json']);
/** The most an index, manifest or config read into memory may be (real ones are a few KiB). */
const MAX_JSON = 8 << 20;

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
  let members: Map<string, TarMember>;
  try {
    members = indexTar(file);
  } catch (e) {
    throw bad(`not an oci-archive (${(e as Error).message})`);
  }
  // A JSON document of the archive, read whole: within MAX_JSON, and what went wrong naming this file.
  const readSmall = (member: TarMember, what: string): Buffer => {
    if (member.size > MAX_JSON) throw bad(`${what} is ${member.size} bytes, more than ${MAX_JSON} (an index, manifest or config is a few KiB)`);
    try {
      return readMember(file, member);
    } catch (e) {
      throw bad(`${what}: ${(e as Error).message}`);
    }
  };
  const blobOf = (digest: string, what: string): Buffer => {
    const m = /^sha256:([0-9a-f]{64})$/.exec(String(digest));
    const member = m && members.get(`blobs/sha256/${m[1]}`);
    if (!member) throw bad(`${what} ${digest} is not in the archive`);
    const b = readSmall(member, what);
    if (createHash('sha256').update(b).digest('hex') !== m[1]) throw bad(`${what} ${digest} does not match its digest`);
    return b;
  };
  const json = <T>(b: Buffer, what: string): T => {
    try {
      return JSON.parse(b.toString('utf8')) as T;
    } catch {
      throw bad(`${what} is not JSON`);
    }
  };
  const indexMember = members.get('index.json');
  if (!indexMember) throw bad('not an oci-archive (no index.json)');
  const index = readSmall(indexMember, 'index.json');
  type Descriptor = { mediaType?: string; digest: string; size?: number; platform?: { architecture?: string } };
  let entries = json<{ manifests?: Descriptor[] }>(index, 'index.json').manifests ?? [];
  // A multi-architecture index inside: the manifest for this architecture.
  for (let depth = 0; entries.length === 1 && INDEXES.has(entries[0]!.mediaType ?? '') && depth < 2; depth++) {
    entries = (json<{ manifests?: Descriptor[] }>(blobOf(entries[0]!.digest, 'index'), 'nested index').manifests ?? []).filter(
      (d) => !d.platform?.architecture || d.platform.architecture === want.arch,
    );
  }
  if (entries.length !== 1 || !MANIFESTS.has(entries[0]!.mediaType ?? MT.manifest)) throw bad(`holds ${entries.length} images, not one`);
  const manifestDigest = entries[0]!.digest;
  const manifest = blobOf(manifestDigest, 'manifest');
  const mf = json<{ config?: Descriptor; layers?: Descriptor[] }>(manifest, 'the manifest');
  if (!mf.config || !mf.layers?.length) throw bad('its manifest has no config or no layers');
  const config = blobOf(mf.config.digest, 'config');
  const cfg = json<OciConfig>(config, 'the image config');

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
  const image: Image = { config, configDigest: mf.config.digest, manifest, manifestDigest, index, layers };
  return { artifact: file, image, layers, reused: true };
}
