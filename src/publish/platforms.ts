/**
 * A multi-architecture publish: one cell's rock for each architecture of the matrix, named by one tag
 * through an OCI image index (application/vnd.oci.image.index.v1+json).
 *
 *   matchPlatforms(cells, found)     pure: which file is which cell's platform; every architecture
 *                                    present exactly once, or the problems (all of them, before any push)
 *   imageIndex(platforms)            pure: the index's exact bytes and digest (canonical JSON, platforms
 *                                    in the matrix's order), so a plan knows the digest it will push
 *   readPlatformArchive(file)        I/O: an oci-archive's manifest (digest, size, media type) and platform
 *   assembleIndexLayout(...)         I/O: an OCI layout holding every platform's blobs and the index,
 *                                    what `skopeo copy --all --preserve-digests` pushes unchanged
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ResolvedLine } from '../config/types.ts';
import { temporary } from '../lib/interrupt.ts';
import { readArchiveImage } from '../lib/oci-archive.ts';
import { run, sha256Digest, SKOPEO, type Command } from '../lib/tools/skopeo-registry.ts';

export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
/** The layout's name for the index (`oci:DIR:index`). */
export const INDEX_REF = 'index';

/** One platform's image as its archive holds it. */
export interface PlatformImage {
  file: string;
  /** The manifest's digest (what `--preserve-digests` pushes). */
  digest: string;
  size: number;
  mediaType: string;
  /** From the image config. */
  architecture: string;
  os: string;
  variant?: string;
}

/** A platform of the publish: the cell (its architecture, SBOM, tags) and its image. */
export interface Platform extends PlatformImage {
  arch: string;
  /** `linux/arm64` (with `/variant` when the config names one). */
  name: string;
}

export const platformName = (p: Pick<PlatformImage, 'os' | 'architecture' | 'variant'>): string =>
  `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;

/**
 * Pure: each cell's one file, by what the file says it is built for (never its name): a file no cell
 * takes, several files for one cell and a cell without a file are each a problem, all named at once.
 * The rock's platforms and the snap's uploads are matched by it; each names its own problems.
 */
export function matchCells<C, F>(
  cells: C[],
  files: F[],
  o: { fits: (c: C, f: F) => boolean; foreign: (f: F) => string; several: (c: C, fs: F[]) => string; missing: (c: C) => string },
): { matched: Array<[C, F]>; problems: string[] } {
  const problems = files.filter((f) => !cells.some((c) => o.fits(c, f))).map(o.foreign);
  const matched: Array<[C, F]> = [];
  for (const c of cells) {
    const mine = files.filter((f) => o.fits(c, f));
    if (mine.length > 1) problems.push(o.several(c, mine));
    else if (!mine.length) problems.push(o.missing(c));
    else matched.push([c, mine[0]!]);
  }
  return { matched: problems.length ? [] : matched, problems };
}

/**
 * Pure: the files found (each with its config's architecture) matched to the cells (one per architecture
 * of the matrix, in its order). Problems: a file whose platform no cell publishes, two files for one
 * platform, a cell with no file (naming the command that builds it).
 */
export function matchPlatforms(cells: ResolvedLine[], found: PlatformImage[]): { platforms: Platform[]; problems: string[] } {
  const { matched, problems } = matchCells(cells, found, {
    fits: (c, f) => c.platform.oci === f.architecture,
    foreign: (f) => `${f.file} is an image for ${f.architecture}, which the matrix does not build (architectures: ${cells.map((c) => c.arch).join(', ')})`,
    several: (c, fs) => `${fs.length} files are images for ${c.platform.oci}: ${fs.map((f) => f.file).join(', ')}`,
    missing: (c) =>
      `no ${c.arch} rock of ${c.key} (${c.paths.rock}): build it with npm run build:rock -- --arch ${c.arch}${c.defaultJava ? '' : ` --java ${c.java}`}`,
  });
  return { platforms: matched.map(([c, f]) => ({ ...f, arch: c.arch, name: platformName(f) })), problems };
}

/** Pure: the image index naming each platform's manifest, as bytes, with its digest. */
export function imageIndex(platforms: Platform[]): { json: string; digest: string; size: number } {
  const json = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: platforms.map((p) => ({
      mediaType: p.mediaType,
      digest: p.digest,
      size: p.size,
      platform: { architecture: p.architecture, os: p.os, ...(p.variant ? { variant: p.variant } : {}) },
    })),
  });
  return { json, digest: sha256Digest(json), size: Buffer.byteLength(json) };
}

/** I/O: the archive's manifest and platform (its tar headers and small blobs, read in place). */
export async function readPlatformArchive(file: string): Promise<PlatformImage> {
  const { manifestDigest, manifestRaw, manifest, config } = readArchiveImage(file);
  return {
    file,
    digest: manifestDigest,
    size: manifestRaw.length,
    mediaType: manifest.mediaType ?? OCI_MANIFEST,
    architecture: config.architecture ?? 'unknown',
    os: config.os ?? 'linux',
    ...(config.variant ? { variant: config.variant } : {}),
  };
}

/** `skopeo copy --preserve-digests oci-archive:FILE oci:DIR:NAME`: one platform's blobs into the layout. */
export function archiveToLayoutCommand(file: string, dir: string, name: string): Command {
  return [SKOPEO, ['copy', '-q', '--preserve-digests', `oci-archive:${file}`, `oci:${dir}:${name}`]];
}

/**
 * I/O: an OCI layout in a new temporary folder with every platform's image and the index as `index`
 * (its digest checked against the plan's). The caller removes the folder.
 */
export async function assembleIndexLayout(platforms: Platform[], expected: string): Promise<string> {
  const dir = temporary(await fs.mkdtemp(path.join(os.tmpdir(), 'sparkcraft-index-')));
  for (const p of platforms) await run(archiveToLayoutCommand(p.file, dir, p.arch));
  const index = imageIndex(platforms);
  if (index.digest !== expected) throw new Error(`the index of ${platforms.map((p) => p.file).join(', ')} is ${index.digest}, the plan said ${expected}`);
  await fs.writeFile(path.join(dir, 'blobs', 'sha256', index.digest.slice('sha256:'.length)), index.json);
  const top = {
    schemaVersion: 2,
    manifests: [{ mediaType: OCI_INDEX, digest: index.digest, size: index.size, annotations: { 'org.opencontainers.image.ref.name': INDEX_REF } }],
  };
  await fs.writeFile(path.join(dir, 'index.json'), JSON.stringify(top));
  return dir;
}
