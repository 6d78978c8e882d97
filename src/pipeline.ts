/**
 * The pipeline in one place, in order. Each step takes the resolved line (every derived name), the
 * workspace and the previous step's result, and returns its own:
 *
 *   render   (r, ws)                → Rendered   the build folder build/<track>/<flavour>
 *   stage    (r, ws, Rendered)      → Staged     verified inputs in <build folder>/inputs, SBOM
 *   pack     (r, ws, Staged)        → Packed     dist/<image>_<version>_<arch>.rock or the snap: path, digest, size
 *   smoke    (r, ws, Packed[])      → checks     the artifacts run for real
 *   publish  (r, ws, Packed)        → plan       registry tags (signed, with SBOM and provenance) / store channel, then apply
 *
 * Each step's operation lives in src/<step>/<step>.ts (src/pack/pack.ts for pack); its
 * src/<step>/cli.ts only parses options and prints. Modules load when their step runs.
 */
import type { Command } from 'commander';
import type { ResolvedLine } from './config/types.ts';
import type { Workspace } from './lib/workspace.ts';
import type { Rendered } from './render/render.ts';
import type { Staged } from './stage/stage.ts';
import type { Packed, PackOptions } from './pack/pack.ts';
import type { CheckResult } from './smoke/checks.ts';
import type { RockPlan } from './publish/registry.ts';
import type { RockPublishOptions } from './publish/publish.ts';

export type StepName = 'render' | 'stage' | 'pack' | 'smoke' | 'publish';

export interface Step<In, Out, Opts> {
  name: StepName;
  /** What the step makes. */
  makes: string;
  run(r: ResolvedLine, ws: Workspace, prev: In, o: Opts): Promise<Out>;
  /** The step's subcommands (src/<step>/cli.ts). */
  cli(): Promise<{ register(program: Command, ws: Workspace): void }>;
}

const render: Step<void, Rendered, object> = {
  name: 'render',
  makes: 'the build folder build/<track>/<flavour>: manifests and their files',
  run: async (r, ws) => (await import('./render/render.ts')).render(r, ws),
  cli: () => import('./render/cli.ts'),
};

const stage: Step<Rendered, Staged, { lockFile?: string; spark8t?: string; force?: boolean }> = {
  name: 'stage',
  makes: 'verified inputs in <build folder>/inputs with an SPDX SBOM',
  run: async (r, ws, rendered, o) => (await import('./stage/stage.ts')).stageLine(r, ws, rendered, o),
  cli: () => import('./stage/cli.ts'),
};

const pack: Step<Staged, Packed, PackOptions> = {
  name: 'pack',
  makes: 'the rock or the snap in dist/: path, digest, size',
  run: async (r, ws, staged, o) => (await import('./pack/pack.ts')).pack(r, ws, staged, o),
  cli: () => import('./pack/cli.ts'),
};

const smoke: Step<Packed[], CheckResult[], { only?: RegExp }> = {
  name: 'smoke',
  makes: 'the results of running the artifacts for real',
  run: async (r, ws, packed, o) => (await import('./smoke/smoke.ts')).smokeArtifacts(r, ws, packed, o),
  cli: () => import('./smoke/cli.ts'),
};

const publish: Step<Packed, RockPlan, Omit<RockPublishOptions, 'packed'>> = {
  name: 'publish',
  makes: 'the rock in its registry under every tag of the line (plan, then apply), the snap in its channel',
  run: async (r, ws, packed, o) => {
    const { planRockPublish } = await import('./publish/publish.ts');
    const { plan, session } = await planRockPublish(r, ws, { ...o, packed }, process.env);
    await session.close();
    return plan;
  },
  cli: () => import('./publish/cli.ts'),
};

/** The steps in pipeline order. */
export const STEPS = [render, stage, pack, smoke, publish] as const;
