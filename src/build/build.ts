/** Build the rock or the snap of a line: render → stage → pack with rockcraft/snapcraft or the built-in backend. */
import { statSync } from 'node:fs';
import { UserError } from '../lib/errors.ts';
import { log } from '../lib/log.ts';
import { at, workspace, type Workspace } from '../lib/workspace.ts';
import { stage } from '../stage/stage.ts';
import { craftPack, onPath } from './craft.ts';
import { buildRock, gitRevision, layersInUse } from './rock.ts';
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

export interface BuildSummary {
  artifact: string;
  kind: 'rock' | 'snap';
  backend: 'craft' | 'builtin';
  size: number;
  seconds: number;
  reused: boolean;
  manifestDigest?: string;
  layers?: Array<{ digest: string; size: number; comment: string; cached: boolean }>;
  sha256?: string;
}

export async function build(kind: 'rock' | 'snap', o: BuildOptions = {}, ws: Workspace = workspace()): Promise<BuildSummary> {
  const started = Date.now();
  const tool = kind === 'rock' ? 'rockcraft' : 'snapcraft';
  const backend = o.backend === 'craft' || ((o.backend ?? 'auto') === 'auto' && (await onPath(tool))) ? 'craft' : 'builtin';
  if (o.backend && !['auto', 'craft', 'builtin'].includes(o.backend)) throw new UserError('E_USAGE', `unknown backend ${o.backend}`, { hint: 'auto, craft or builtin', exitCode: 2 });
  const st = await stage({ line: o.line, flavour: o.flavour }, ws);
  const r = st.resolved;
  if (backend === 'craft') {
    const artifact = await craftPack(tool, st.dir, ws.dist, `.${kind}`);
    return { artifact, kind, backend, size: statSync(artifact).size, seconds: (Date.now() - started) / 1000, reused: false };
  }
  await sweepTmpArtifacts(ws);
  const meta = await gitRevision(ws.root);
  if (kind === 'rock') {
    const out = at(ws, r.paths.rock);
    const b = await buildRock(ws, st.dir, out, { epoch: meta.epoch, revision: meta.revision, source: st.matrix.project.source });
    const trimmed = trimLayerCache(layersInUse(ws));
    if (trimmed.layers || trimmed.bytes) log.info(`trimmed the layer cache: ${trimmed.layers} layers no artifact uses, ${(trimmed.bytes / 1048576).toFixed(0)} MiB`);
    return {
      artifact: out, kind, backend, size: statSync(out).size, seconds: (Date.now() - started) / 1000, reused: b.reused,
      manifestDigest: `sha256:${b.image.manifestDigest.slice(7)}`,
      layers: b.layers.map((l) => ({ digest: l.digest, size: l.size, comment: l.comment, cached: l.cached })),
    };
  }
  const out = at(ws, r.paths.snap);
  const b = await buildSnap(ws, st.dir, out, meta.epoch);
  return { artifact: out, kind, backend, size: statSync(out).size, seconds: (Date.now() - started) / 1000, reused: b.reused, sha256: b.sha256 };
}

