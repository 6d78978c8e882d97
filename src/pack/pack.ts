/** Build the rock or the snap of a line: render → stage → pack with rockcraft/snapcraft or the built-in backend. */
import { statSync } from 'node:fs';
import { UserError } from '../lib/errors.ts';
import { log } from '../lib/log.ts';
import { at, workspace, type Workspace } from '../lib/workspace.ts';
import { stage, type Staged } from '../stage/stage.ts';
import { sha256File } from '../stage/fetch.ts';
import { archiveDigest } from '../lib/tools/skopeo-registry.ts';
import type { ResolvedLine } from '../config/types.ts';
import { craftPack, onPath } from './craft.ts';
import { buildFlavourRock, buildRock, gitRevision, layersInUse, type RockBuild } from './rock.ts';
import { stageLine } from '../stage/stage.ts';
import { render } from '../render/render.ts';
import { trimLayerCache } from './layer.ts';
import { sweepTmpArtifacts } from './oci.ts';
import { buildSnap } from './snap.ts';

export type Backend = 'auto' | 'craft' | 'builtin';
export interface BuildOptions {
  line?: string;
  flavour?: string;
  backend?: Backend;
  json?: boolean;
}

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
  sha256?: string;
}
/** `--json` of `sparkcraft build`. */
export type BuildSummary = Packed;

function chooseBackend(kind: 'rock' | 'snap', backend: Backend | undefined): Promise<'craft' | 'builtin'> | 'craft' | 'builtin' {
  if (backend && !['auto', 'craft', 'builtin'].includes(backend)) throw new UserError('E_USAGE', `unknown backend ${backend}`, { hint: 'auto, craft or builtin', exitCode: 2 });
  if (backend === 'craft' || backend === 'builtin') return backend;
  return onPath(kind === 'rock' ? 'rockcraft' : 'snapcraft').then((on) => (on ? 'craft' : 'builtin'));
}

/** Render, stage and pack the selected line (what `sparkcraft build rock|snap` runs). */
export async function build(kind: 'rock' | 'snap', o: BuildOptions = {}, ws: Workspace = workspace()): Promise<Packed> {
  const started = Date.now();
  const backend = await chooseBackend(kind, o.backend);
  const st = await stage({ line: o.line, flavour: o.flavour }, ws);
  const p = await pack(st.resolved, ws, st, { kind, backend });
  return { ...p, seconds: (Date.now() - started) / 1000 };
}

/** The pack step: the staged build folder → the line's rock or snap in dist/. */
export async function pack(r: ResolvedLine, ws: Workspace, st: Staged, o: { kind: 'rock' | 'snap'; backend: 'craft' | 'builtin' }): Promise<Packed> {
  const started = Date.now();
  const { kind, backend } = o;
  const seconds = () => (Date.now() - started) / 1000;
  if (r.flavour.over && kind === 'snap') throw new UserError('E_FLAVOUR', `flavour ${r.flavour.name} is an image flavour; the snap has none`, { hint: 'build the snap without --flavour' });
  if (r.flavour.over && backend === 'craft') {
    throw new UserError('E_UNSUPPORTED', `flavour ${r.flavour.name} is layered over the ${r.flavour.over} rock, which rockcraft cannot start from (the reference builds its flavours with a Dockerfile FROM the base image)`, { hint: 'use --backend builtin' });
  }
  if (backend === 'craft') {
    const artifact = await craftPack(kind === 'rock' ? 'rockcraft' : 'snapcraft', st.dir, ws.dist, `.${kind}`);
    const digest = kind === 'rock' ? await archiveDigest(artifact) : `sha256:${await sha256File(artifact)}`;
    return { kind, backend, artifact, digest, size: statSync(artifact).size, seconds: seconds(), reused: false };
  }
  await sweepTmpArtifacts(ws);
  const meta = await gitRevision(ws.root);
  if (kind === 'rock') {
    const out = at(ws, r.paths.rock);
    const m = { epoch: meta.epoch, revision: meta.revision, source: r.project.source, arch: r.arch };
    let b: RockBuild;
    if (r.base) {
      // The base rock first (its stage and layers are cached when current), then the flavour's layers on it.
      const baseStaged = await stageLine(r.base, ws, await render(r.base, ws));
      const base = await buildRock(ws, baseStaged.dir, at(ws, r.base.paths.rock), m);
      b = await buildFlavourRock(ws, base, st.dir, out, m);
    } else {
      b = await buildRock(ws, st.dir, out, m);
    }
    const trimmed = trimLayerCache(layersInUse(ws));
    if (trimmed.layers || trimmed.bytes) log.info(`trimmed the layer cache: ${trimmed.layers} layers no artifact uses, ${(trimmed.bytes / 1048576).toFixed(0)} MiB`);
    const manifestDigest = `sha256:${b.image.manifestDigest.slice(7)}`;
    return {
      kind, backend, artifact: out, digest: manifestDigest, size: statSync(out).size, seconds: seconds(), reused: b.reused,
      manifestDigest,
      layers: b.layers.map((l) => ({ digest: l.digest, size: l.size, comment: l.comment, cached: l.cached })),
    };
  }
  const out = at(ws, r.paths.snap);
  const b = await buildSnap(ws, st.dir, out, meta.epoch, r.arch);
  return { kind, backend, artifact: out, digest: `sha256:${b.sha256}`, size: statSync(out).size, seconds: seconds(), reused: b.reused, sha256: b.sha256 };
}
