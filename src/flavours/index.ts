/**
 * Flavours as registered extensions (the way rockcraft registers its extensions): a flavour is data
 * in matrix.yaml (image, jars, wheels, services, version rule, per-line additions) plus, optionally,
 * a module `src/flavours/<name>.ts` exporting a `FlavourModule`. Generic code asks the registry for a
 * flavour's module by the name the matrix gives and never names a flavour itself. A flavour module
 * imports only config/ and lib/ (and types); its scenarios get their tools from the smoke step's kit.
 */
import { UserError } from '../lib/errors.ts';
import type { ResolvedLine } from '../config/types.ts';

type Json = Record<string, any>;

/** What a flavour's scenarios may ask of the cluster (the smoke step's kubectl client as the admin). */
export interface KubeKit {
  run(args: string[], opts?: { input?: string; reject?: boolean }): Promise<{ stdout: string; stderr: string; exitCode?: number }>;
  json(args: string[]): Promise<Json>;
  apply(objects: Json[]): Promise<void>;
  create(objects: Json[]): Promise<void>;
  pods(ns: string, selector?: string): Promise<Json[]>;
  logs(ns: string, pod: string, lines?: number): Promise<string>;
}

/** The tools a flavour's cluster scenarios get from the smoke step (one namespace and account, shared). */
export interface ScenarioKit {
  k: KubeKit;
  ns: string;
  /** The spark8t account scenario 1 makes; `account()` makes it (once). */
  user: string;
  account: () => Promise<void>;
  /** Puts this flavour's image of the line on the node (built through the pipeline and imported on first use); its reference. */
  image: () => Promise<string>;
  /** A scenario's failure: message and log (masked, tailed) with the namespace's diagnosis. */
  fail: (what: string, log?: string, lines?: number) => Promise<Error>;
  /** Confs every submission uses (small requests, so two jobs fit on 2 cores). */
  small: string[];
  sleep: (ms: number) => Promise<unknown>;
}

export type Scenario = [name: string, run: () => Promise<string>];

export interface FlavourModule {
  /** Problems with the flavour's data on this cell (its `settings`, its inputs), each naming its matrix key. */
  validate?(cell: ResolvedLine): string[];
  /** Values its templates use beyond the generic context, under `ext` (pure). */
  context?(cell: ResolvedLine): Record<string, unknown>;
  /** Its scenarios on the local node, run after the data scenarios (names `<flavour> N. …`). */
  scenarios?(kit: ScenarioKit): Scenario[];
}

/** Finds a flavour's module by name: the registry every step uses (tests pass their own). */
export type FlavourRegistry = (name: string) => Promise<FlavourModule | undefined>;

/** The modules under src/flavours/ (esbuild bundles every `./<name>.ts` this pattern can reach). */
export const flavourModules: FlavourRegistry = async (name) => {
  if (!/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(name) || name === 'index') return undefined;
  try {
    return ((await import(`./${name}.ts`)) as { flavour?: FlavourModule }).flavour;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || /Cannot find module|Could not resolve|Module not found in bundle/.test(String((e as Error).message)))
      return undefined;
    throw e;
  }
};

/** The module of a cell's flavour, with its checks of the cell run: a problem is refused before any step. */
export async function flavourOf(cell: ResolvedLine, registry: FlavourRegistry = flavourModules): Promise<FlavourModule> {
  const mod = (await registry(cell.flavour.name)) ?? {};
  const problems = mod.validate?.(cell) ?? [];
  if (problems.length) {
    throw new UserError('E_MATRIX', `flavour ${cell.flavour.name} on Spark ${cell.line.track}: ${problems.join('; ')}`, { hint: 'fix matrix.yaml' });
  }
  return mod;
}

/** What a cell's templates see as `ext`: its flavour module's context, after the module's checks. */
export async function flavourContext(cell: ResolvedLine, registry: FlavourRegistry = flavourModules): Promise<Record<string, unknown>> {
  return (await flavourOf(cell, registry)).context?.(cell) ?? {};
}
