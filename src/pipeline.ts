/**
 * The pipeline in one place, in order, and the only place that chains steps. Each step takes the
 * release cell (every derived name, src/config), the workspace and the previous step's result, and
 * returns its own:
 *
 *   render   (cell, ws, ext)            → Rendered   the build folder build/<track>/<flavour>/<arch>-java<N>
 *   stage    (cell, ws, Rendered)       → Staged     verified inputs in <build folder>/inputs, SBOM
 *   pack     (cell, ws, Staged, base?)  → Packed     dist/<image>_<version>_<arch>.rock or the snap: path, digest, size
 *   smoke    (cell, ws, Packed[])       → checks     the artifacts run for real
 *   publish  (cell, ws, Packed)         → plan       registry tags (signed, with SBOM and provenance) / store channel, then apply
 *
 * `runPipeline` walks render → stage → pack for one cell, a layered flavour's base cell first (its
 * Packed is what the flavour's layers go on); the CLI, smoke, the benches and the release all come
 * this way. A step's module imports config/, lib/, flavours/ and only the types of earlier steps'
 * results (test/layers.test.ts enforces it); its src/<step>/cli.ts parses options, is handed this
 * road, and prints. Step modules load when their step runs.
 */
import type { Command } from 'commander';
import type { CellSelector } from './config/matrix.ts';
import type { Matrix, ResolvedLine } from './config/types.ts';
import type { FlavourRegistry } from './flavours/index.ts';
import { workspace, type Workspace } from './lib/workspace.ts';
import type { Rendered } from './render/render.ts';
import type { StageOptions, Staged } from './stage/stage.ts';
import type { Backend, Packed } from './pack/pack.ts';

export type StepName = 'render' | 'stage' | 'pack' | 'smoke' | 'publish';

/** How far `runPipeline` goes, and what the steps on the way are asked for. */
export interface RoadOptions {
  until: 'render' | 'stage' | 'pack';
  /** pack: the rock or the snap. */
  kind?: 'rock' | 'snap';
  backend?: Backend;
  /** pack, a layered flavour: layer it over this oci-archive of its base instead of building the base. */
  baseArchive?: string;
  /** stage: another lock file, a given spark8t, restage, rehash downloads. */
  stage?: Pick<StageOptions, 'lockFile' | 'spark8t' | 'force' | 'verify'>;
  /** Where flavour modules are found (tests register their own). */
  flavours?: FlavourRegistry;
}

/** What the road made for one cell: each step's result up to `until`, and the base cell's road. */
export interface RoadResult {
  cell: ResolvedLine;
  rendered: Rendered;
  staged?: Staged;
  packed?: Packed;
  base?: RoadResult;
}

/** The road: render → stage → pack for `cell`, the base cell of a layered rock first. */
export async function runPipeline(cell: ResolvedLine, ws: Workspace, o: RoadOptions): Promise<RoadResult> {
  const started = Date.now();
  const ext = await (await import('./flavours/index.ts')).flavourContext(cell, o.flavours);
  const kind = o.kind ?? 'rock';
  // A layered rock goes on its base's Packed image; with --base-archive the given archive is the base.
  const base =
    o.until === 'pack' && kind === 'rock' && cell.base && !o.baseArchive ? await runPipeline(cell.base, ws, { ...o, baseArchive: undefined }) : undefined;
  const rendered = await (await import('./render/render.ts')).render(cell, ws, { ext });
  if (o.until === 'render') return { cell, rendered, ...(base ? { base } : {}) };
  const staged = await (await import('./stage/stage.ts')).stageLine(cell, ws, rendered, o.stage ?? {});
  if (o.until === 'stage') return { cell, rendered, staged, ...(base ? { base } : {}) };
  const { pack, chooseBackend } = await import('./pack/pack.ts');
  const backend = await chooseBackend(kind, o.backend);
  const packed = await pack(cell, ws, staged, { kind, backend, ...(o.baseArchive ? { baseArchive: o.baseArchive } : {}) }, base?.packed);
  return { cell, rendered, staged, packed: { ...packed, seconds: (Date.now() - started) / 1000 }, ...(base ? { base } : {}) };
}

/** The road as the steps' CLIs are handed it: select a cell from the workspace's matrix, and run. */
export interface Road {
  select(sel: CellSelector & { matrix?: string }): Promise<{ matrix: Matrix; cell: ResolvedLine }>;
  run(cell: ResolvedLine, o: RoadOptions): Promise<RoadResult>;
}

export function road(ws: Workspace, flavours?: FlavourRegistry): Road {
  return {
    async select(sel) {
      const { selectLine } = await import('./config/matrix.ts');
      const { matrix, resolved } = selectLine(sel.matrix ?? ws.matrixFile, sel);
      return { matrix, cell: resolved };
    },
    run: (cell, o) => runPipeline(cell, ws, { ...(flavours ? { flavours } : {}), ...o }),
  };
}

type BuildSelector = CellSelector & { matrix?: string; backend?: Backend; baseArchive?: string };

/** `sparkcraft build rock|snap`: select the cell, then the road until pack; its Packed (the benches and tests come this way too). */
export async function build(kind: 'rock' | 'snap', o: BuildSelector = {}, ws: Workspace = workspace(), flavours?: FlavourRegistry): Promise<Packed> {
  const r = road(ws, flavours);
  const { cell } = await r.select(o);
  return (await r.run(cell, { until: 'pack', kind, backend: o.backend, ...(o.baseArchive ? { baseArchive: o.baseArchive } : {}) })).packed!;
}

/** `sparkcraft stage`: select the cell, then the road until stage; its Staged with the cell and the matrix. */
export async function stage(
  o: CellSelector & { matrix?: string } & NonNullable<RoadOptions['stage']> = {},
  ws: Workspace = workspace(),
  flavours?: FlavourRegistry,
): Promise<Staged & { resolved: ResolvedLine; matrix: Matrix }> {
  const r = road(ws, flavours);
  const { matrix, cell } = await r.select(o);
  const staged = (await r.run(cell, { until: 'stage', stage: { lockFile: o.lockFile, spark8t: o.spark8t, force: o.force, verify: o.verify } })).staged!;
  return { ...staged, resolved: cell, matrix };
}

/** A step's command-line module: registers its subcommands, handed the workspace and the road. */
export interface StepCli {
  register(program: Command, ws: Workspace, road: Road): void;
}

export interface Step {
  name: StepName;
  /** What the step makes. */
  makes: string;
  /** The step's subcommands (src/<step>/cli.ts). */
  cli(): Promise<StepCli>;
}

/** The steps in pipeline order: what `sparkcraft --help` lists, in this order. */
export const STEPS: readonly Step[] = [
  { name: 'render', makes: 'the build folder build/<track>/<flavour>/<arch>-java<N>: manifests and their files', cli: () => import('./render/cli.ts') },
  { name: 'stage', makes: 'verified inputs in <build folder>/inputs with an SPDX SBOM', cli: () => import('./stage/cli.ts') },
  { name: 'pack', makes: 'the rock or the snap in dist/: path, digest, size', cli: () => import('./pack/cli.ts') },
  { name: 'smoke', makes: 'the results of running the artifacts for real', cli: () => import('./smoke/cli.ts') },
  {
    name: 'publish',
    makes: 'the rock in its registry under every tag of the line (plan, then apply), the snap in its channel',
    cli: () => import('./publish/cli.ts'),
  },
];
