/** The pack step: a staged build folder → the cell's rock or snap, with rockcraft/snapcraft or the built-in backend. */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { UserError } from '../lib/errors.ts';
import { log } from '../lib/log.ts';
import { at, workspace, type Workspace } from '../lib/workspace.ts';
import type { Staged } from '../stage/stage.ts';
import { sha256File } from '../lib/hash.ts';
import { readArchiveImage } from '../lib/oci-archive.ts';
import type { ResolvedLine } from '../config/types.ts';
import { craftPack, onPath } from './craft.ts';
import { buildFlavourRock, buildRock, gitRevision, layersInUse, type RockBuild } from './rock.ts';
import { trimLayerCacheLocked } from './layer.ts';
import { sweepTmpArtifacts } from './oci.ts';
import { buildSnap } from './snap.ts';

export type Backend = 'auto' | 'craft' | 'builtin';

/** What the pack step made: the artifact in dist/, its digest and size. */
export interface Packed {
  kind: 'rock' | 'snap';
  backend: 'craft' | 'builtin';
  artifact: string;
  /** The rock: its image manifest's digest (what a registry stores); the snap: the file's sha256. */
  digest: string;
  size: number;
  seconds: number;
  reused: boolean;
  manifestDigest?: string;
  layers?: Array<{ digest: string; size: number; comment: string; cached: boolean }>;
  /** A layered flavour's rock: the base image it is layered over (its manifest digest) and how many of `layers` are the base's. */
  base?: { manifestDigest: string; layers: number };
  sha256?: string;
  /** A rock of the built-in backend: the image itself, what a layered flavour's pack goes on (not serialised). */
  image?: RockBuild;
}
/** What the pack step is asked for. */
export interface PackOptions {
  kind: 'rock' | 'snap';
  backend: 'craft' | 'builtin';
  /**
   * A layered flavour only: layer it over this oci-archive of its base (the rock the release
   * publishes, from rockcraft or from us; relative to the project root) instead of the base's Packed.
   */
  baseArchive?: string;
}

/** The backend a build uses: the craft tool when asked, or on PATH with `auto`; else the built-in one. */
export function chooseBackend(kind: 'rock' | 'snap', backend: Backend | undefined): Promise<'craft' | 'builtin'> | 'craft' | 'builtin' {
  if (backend && !['auto', 'craft', 'builtin'].includes(backend))
    throw new UserError('E_USAGE', `unknown backend ${backend}`, { hint: 'auto, craft or builtin' });
  if (backend === 'craft' || backend === 'builtin') return backend;
  return onPath(kind === 'rock' ? 'rockcraft' : 'snapcraft').then((on) => (on ? 'craft' : 'builtin'));
}

/** A Packed as `--json` prints it and plans carry it: without the in-memory image. */
export function packedSummary(p: Packed): Omit<Packed, 'image'> {
  const { image: _image, ...rest } = p;
  return rest;
}

/** The pack step: the staged build folder → the line's rock or snap in dist/. */
export async function pack(r: ResolvedLine, ws: Workspace, st: Staged, o: PackOptions, base?: Packed): Promise<Packed> {
  const started = Date.now();
  const { kind, backend } = o;
  const seconds = () => (Date.now() - started) / 1000;
  if (o.baseArchive && !(r.flavour.over && kind === 'rock')) {
    throw new UserError(
      'E_USAGE',
      `--base-archive is for a layered image flavour; ${r.flavour.name} ${kind === 'rock' ? 'is built from its own manifest' : 'is a snap'}`,
      { hint: 'pass it with --flavour gpu, jupyter, ...' },
    );
  }
  if (r.flavour.over && kind === 'snap')
    throw new UserError('E_FLAVOUR', `flavour ${r.flavour.name} is an image flavour; the snap has none`, { hint: 'build the snap without --flavour' });
  if (r.flavour.over && backend === 'craft') {
    throw new UserError(
      'E_UNSUPPORTED',
      `flavour ${r.flavour.name} is layered over the ${r.flavour.over} rock, which rockcraft cannot start from (the reference builds its flavours with a Dockerfile FROM the base image)`,
      { hint: 'use --backend builtin' },
    );
  }
  if (backend === 'craft') {
    const artifact = await craftPack(kind === 'rock' ? 'rockcraft' : 'snapcraft', st.dir, ws.dist, `.${kind}`);
    const digest = kind === 'rock' ? readArchiveImage(artifact).manifestDigest : `sha256:${await sha256File(artifact)}`;
    return { kind, backend, artifact, digest, size: statSync(artifact).size, seconds: seconds(), reused: false };
  }
  await sweepTmpArtifacts(ws);
  const meta = await gitRevision(ws.root, ws.sourceDateEpoch);
  if (kind === 'rock') {
    const out = at(ws, r.paths.rock);
    const m = { epoch: meta.epoch, revision: meta.revision, source: r.project.source, arch: r.arch, java: r.java, suite: r.debianSuite };
    let b: RockBuild;
    // A layered flavour: the image it goes on (recorded in its Packed as `base`).
    let under: RockBuild | undefined;
    if (r.base && o.baseArchive) {
      // Over the given base image, its layers as they are.
      const { importBaseArchive } = await import('./base-archive.ts');
      under = await importBaseArchive(ws.cache, resolve(ws.root, o.baseArchive), {
        name: r.base.image.name,
        version: r.base.version,
        arch: r.arch,
        what: `${r.line.track}/${r.flavour.name}`,
      });
      b = await buildFlavourRock(ws, under, st.dir, out, m);
    } else if (r.base) {
      // The base rock the road packed first (pipeline.ts), then the flavour's layers on it.
      if (!base?.image)
        throw new UserError('E_USAGE', `${r.flavour.name} is layered over ${r.base.image.name}: pack it over that rock's Packed or --base-archive`);
      under = base.image;
      b = await buildFlavourRock(ws, under, st.dir, out, m);
    } else {
      b = await buildRock(ws, st.dir, out, m);
    }
    const trimmed = await trimLayerCacheLocked(ws.cache, layersInUse(ws));
    if (trimmed.layers || trimmed.bytes)
      log.info(`trimmed the layer cache: ${trimmed.layers} layers no artifact uses, ${(trimmed.bytes / 1048576).toFixed(0)} MiB`);
    const manifestDigest = `sha256:${b.image.manifestDigest.slice(7)}`;
    return {
      kind,
      backend,
      artifact: out,
      digest: manifestDigest,
      size: statSync(out).size,
      seconds: seconds(),
      reused: b.reused,
      manifestDigest,
      layers: b.layers.map((l) => ({ digest: l.digest, size: l.size, comment: l.comment, cached: l.cached })),
      image: b,
      ...(under ? { base: { manifestDigest: under.image.manifestDigest, layers: under.layers.length } } : {}),
    };
  }
  const out = at(ws, r.paths.snap);
  const b = await buildSnap(ws, st.dir, out, meta.epoch, r.arch, r.java, r.debianSuite);
  return { kind, backend, artifact: out, digest: `sha256:${b.sha256}`, size: statSync(out).size, seconds: seconds(), reused: b.reused, sha256: b.sha256 };
}
