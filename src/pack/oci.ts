/** OCI image layout and oci-archive writing (the `.rock` format), deterministic. */
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UserError } from '../lib/errors.ts';
import { sweepLeftovers } from '../lib/fsx.ts';
import type { Workspace } from '../lib/workspace.ts';
import { writeTar, type TarEntry } from './tar.ts';
import type { LayerBlob } from './layer.ts';
import { temporary } from '../lib/interrupt.ts';

export const MT = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  index: 'application/vnd.oci.image.index.v1+json',
};

export interface ImageConfig {
  /** Debian architecture name (`amd64`): what the layers were built for. */
  architecture: string;
  created: string;
  user: string;
  env: string[];
  entrypoint: string[];
  cmd: string[];
  workingDir: string;
  labels: Record<string, string>;
}

export interface Image {
  config: Buffer;
  configDigest: string;
  manifest: Buffer;
  manifestDigest: string;
  index: Buffer;
  layers: LayerBlob[];
}

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const canonical = (o: unknown) => Buffer.from(JSON.stringify(o));

/** Pure: config, manifest and index of an image from its layers. */
export function assembleImage(layers: LayerBlob[], c: ImageConfig, refName: string): Image {
  const config = canonical({
    created: c.created,
    architecture: c.architecture,
    os: 'linux',
    config: { User: c.user, Env: c.env, Entrypoint: c.entrypoint, Cmd: c.cmd, WorkingDir: c.workingDir, Labels: c.labels },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((l) => l.history ?? { created: c.created, created_by: `sparkcraft: ${l.comment}` }),
  });
  const configDigest = sha(config);
  const manifest = canonical({
    schemaVersion: 2,
    mediaType: MT.manifest,
    config: { mediaType: MT.config, digest: configDigest, size: config.length },
    layers: layers.map((l) => ({ mediaType: MT.layer, digest: l.digest, size: l.size })),
    annotations: { 'org.opencontainers.image.created': c.created },
  });
  const manifestDigest = sha(manifest);
  const index = canonical({
    schemaVersion: 2,
    mediaType: MT.index,
    manifests: [{ mediaType: MT.manifest, digest: manifestDigest, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': refName } }],
  });
  return { config, configDigest, manifest, manifestDigest, index, layers };
}

/**
 * Artifacts are written under the workspace's tmp folder (build/.tmp, same file system) and renamed
 * into dist/, so a build killed at any moment (even its child processes carrying on) never leaves a
 * partial file in dist/.
 */
export function tmpArtifact(ws: Workspace, file: string): string {
  mkdirSync(ws.tmp, { recursive: true });
  return temporary(join(ws.tmp, `${basename(file)}.tmp-${process.pid}`));
}

/** Remove the partial artifacts of builds killed meanwhile (their children may have written on for a while). */
export function sweepTmpArtifacts(ws: Workspace): Promise<number> {
  return sweepLeftovers(ws.tmp, /\.tmp-(\d+)$/);
}

/** Where the build remembers what an artifact in dist/ was made from. */
export function artifactStamp(ws: Workspace, file: string, kind: string): string {
  mkdirSync(ws.stamps, { recursive: true });
  return join(ws.stamps, `${basename(file)}.${kind}`);
}

/** Write the image as an oci-archive (a tar of the OCI layout) to `file`, via a temporary name. */
export async function writeOciArchive(ws: Workspace, img: Image, file: string, mtime: number): Promise<void> {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = tmpArtifact(ws, file);
  const blob = (digest: string) => `blobs/sha256/${digest.slice(7)}`;
  const entries: TarEntry[] = [
    { path: 'blobs', type: 'dir', mode: 0o755, uid: 0, gid: 0 },
    { path: 'blobs/sha256', type: 'dir', mode: 0o755, uid: 0, gid: 0 },
  ];
  const blobs: TarEntry[] = [
    { path: blob(img.configDigest), type: 'file', mode: 0o644, uid: 0, gid: 0, data: img.config },
    { path: blob(img.manifestDigest), type: 'file', mode: 0o644, uid: 0, gid: 0, data: img.manifest },
    ...img.layers.map((l) => ({ path: blob(l.digest), type: 'file' as const, mode: 0o644, uid: 0, gid: 0, source: l.path, size: statSync(l.path).size })),
  ];
  const seen = new Set<string>();
  for (const b of blobs.sort((a, b) => a.path.localeCompare(b.path))) if (!seen.has(b.path)) seen.add(b.path), entries.push(b);
  entries.push({ path: 'index.json', type: 'file', mode: 0o644, uid: 0, gid: 0, data: img.index });
  entries.push({ path: 'oci-layout', type: 'file', mode: 0o644, uid: 0, gid: 0, data: Buffer.from('{"imageLayoutVersion":"1.0.0"}') });
  const out = createWriteStream(tmp);
  try {
    await writeTar(out, entries, mtime);
    await new Promise<void>((res, rej) => out.end((e?: Error | null) => (e ? rej(e) : res())));
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    if ((e as NodeJS.ErrnoException).code === 'ENOSPC') throw new UserError('E_DISK_FULL', `no space left on device writing ${file}`);
    throw e;
  } finally {
    if (existsSync(tmp)) rmSync(tmp, { force: true });
  }
}
