/**
 * The image inside an oci-archive (a `.rock`), read in place: the tar's headers are indexed by offset
 * (tar-read.ts; no extraction, no tool), and only the small JSON blobs are read (index.json, the
 * manifest, the config), each within MAX_JSON and checked against its digest. An index inside the
 * archive (a multi-architecture layout) is followed to the manifest of the architecture asked for.
 * Errors are ArchiveError, whose message says what is wrong without the file's name (callers add it).
 */
import { createHash } from 'node:crypto';
import { indexTar, readMember, type TarMember } from './tar-read.ts';

export const MANIFEST_TYPES = new Set(['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json']);
export const INDEX_TYPES = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);
/** The most an index, manifest or config read into memory may be (real ones are a few KiB). */
export const MAX_JSON = 8 << 20;

export class ArchiveError extends Error {}

export interface Descriptor {
  mediaType?: string;
  digest: string;
  size?: number;
  platform?: { architecture?: string; os?: string; variant?: string };
}

export interface ArchiveImage {
  members: Map<string, TarMember>;
  /** index.json's bytes. */
  indexRaw: Buffer;
  /** The manifest's digest, bytes (exactly as stored: what `--preserve-digests` pushes) and parsed form. */
  manifestDigest: string;
  manifestRaw: Buffer;
  manifest: { mediaType?: string; config?: Descriptor; layers?: Descriptor[] };
  /** The image config: its bytes and parsed form. */
  configRaw: Buffer;
  config: {
    architecture?: string;
    os?: string;
    variant?: string;
    config?: { Labels?: Record<string, string> };
    rootfs?: { diff_ids?: string[] };
    history?: Array<Record<string, unknown>>;
  };
}

/** I/O: the one image of `file` (of an index inside it, the manifest for `arch`). Throws ArchiveError. */
export function readArchiveImage(file: string, o: { arch?: string } = {}): ArchiveImage {
  let members: Map<string, TarMember>;
  try {
    members = indexTar(file);
  } catch (e) {
    throw new ArchiveError(`not an oci-archive (${(e as Error).message})`);
  }
  const readSmall = (member: TarMember, what: string): Buffer => {
    if (member.size > MAX_JSON) throw new ArchiveError(`${what} is ${member.size} bytes, more than ${MAX_JSON} (an index, manifest or config is a few KiB)`);
    try {
      return readMember(file, member);
    } catch (e) {
      throw new ArchiveError(`${what}: ${(e as Error).message}`);
    }
  };
  const blobOf = (digest: string, what: string): Buffer => {
    const m = /^sha256:([0-9a-f]{64})$/.exec(String(digest));
    const member = m && members.get(`blobs/sha256/${m[1]}`);
    if (!member) throw new ArchiveError(`${what} ${digest} is not in the archive`);
    const b = readSmall(member, what);
    if (createHash('sha256').update(b).digest('hex') !== m[1]) throw new ArchiveError(`${what} ${digest} does not match its digest`);
    return b;
  };
  const json = <T>(b: Buffer, what: string): T => {
    try {
      return JSON.parse(b.toString('utf8')) as T;
    } catch {
      throw new ArchiveError(`${what} is not JSON`);
    }
  };
  const indexMember = members.get('index.json');
  if (!indexMember) throw new ArchiveError('not an oci-archive (no index.json)');
  const indexRaw = readSmall(indexMember, 'index.json');
  let entries = json<{ manifests?: Descriptor[] }>(indexRaw, 'index.json').manifests ?? [];
  // A multi-architecture index inside: the manifest for this architecture.
  for (let depth = 0; entries.length === 1 && INDEX_TYPES.has(entries[0]!.mediaType ?? '') && depth < 2; depth++) {
    entries = (json<{ manifests?: Descriptor[] }>(blobOf(entries[0]!.digest, 'index'), 'nested index').manifests ?? []).filter(
      (d) => !o.arch || !d.platform?.architecture || d.platform.architecture === o.arch,
    );
  }
  if (entries.length !== 1 || !MANIFEST_TYPES.has(entries[0]!.mediaType ?? 'application/vnd.oci.image.manifest.v1+json'))
    throw new ArchiveError(`holds ${entries.length} images, not one`);
  const manifestDigest = entries[0]!.digest;
  const manifestRaw = blobOf(manifestDigest, 'manifest');
  const manifest = json<ArchiveImage['manifest']>(manifestRaw, 'the manifest');
  if (!manifest.config) throw new ArchiveError('its manifest has no config');
  const configRaw = blobOf(manifest.config.digest, 'config');
  const config = json<ArchiveImage['config']>(configRaw, 'the image config');
  return { members, indexRaw, manifestDigest, manifestRaw, manifest, configRaw, config };
}
