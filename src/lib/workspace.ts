/**
 * The workspace: where one run of the pipeline reads its inputs (matrix, lock, templates) and writes
 * (work folders, partial artifacts, stamps, dist/). Made once in main and passed down, so nothing is
 * fixed when a module loads and a test can run the pipeline in a directory of its own. The download
 * and layer caches (`cache`) are shared between workspaces; they and SOURCE_DATE_EPOCH are read from
 * the environment once, here, so nothing below reads process.env for them and a test passes its own.
 */
import { join, resolve } from 'node:path';
import { parseSourceDateEpoch } from './epoch.ts';
import { cacheDir, projectRoot } from './paths.ts';

export interface Workspace {
  /** The project checkout: matrix.yaml, sparkcraft.lock.json, templates/, the committed manifests. */
  readonly root: string;
  readonly matrixFile: string;
  readonly lockFile: string;
  readonly templates: string;
  /** Finished artifacts (`dist/`). The resolved line's paths are relative to `root`. */
  readonly dist: string;
  /** Partial artifacts, renamed into dist/ when complete (same file system as dist/). */
  readonly tmp: string;
  /** What the build remembers about each artifact in dist/ (its digest, its layers, its key). */
  readonly stamps: string;
  /** Downloads, Debian roots, built tools, layers (SPARKCRAFT_CACHE, else ~/.cache/sparkcraft). */
  readonly cache: string;
  /** SOURCE_DATE_EPOCH when set: the time every file and record of a build gets (else the inputs' commit time). */
  readonly sourceDateEpoch: number | undefined;
}

export type WorkspaceOverrides = Partial<Pick<Workspace, 'matrixFile' | 'lockFile' | 'cache' | 'sourceDateEpoch'>>;

/** The workspace at `root`; `cache` and `sourceDateEpoch` come from `env` unless `over` names them. */
export function workspace(root: string = projectRoot, over: WorkspaceOverrides = {}, env: NodeJS.ProcessEnv = process.env): Workspace {
  const r = resolve(root);
  return {
    root: r,
    matrixFile: over.matrixFile ? resolve(over.matrixFile) : join(r, 'matrix.yaml'),
    lockFile: over.lockFile ? resolve(over.lockFile) : join(r, 'sparkcraft.lock.json'),
    templates: join(r, 'templates'),
    dist: join(r, 'dist'),
    tmp: join(r, 'build', '.tmp'),
    stamps: join(r, 'build', '.stamps'),
    cache: over.cache ? resolve(over.cache) : cacheDir(env),
    sourceDateEpoch: 'sourceDateEpoch' in over ? over.sourceDateEpoch : parseSourceDateEpoch(env.SOURCE_DATE_EPOCH),
  };
}

/** A path of the resolved line (relative to the root) in this workspace. */
export function at(ws: Workspace, rel: string): string {
  return join(ws.root, rel);
}
