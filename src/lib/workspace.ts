/**
 * The workspace: where one run of the pipeline reads its inputs (matrix, lock, templates) and writes
 * (work folders, partial artifacts, stamps, dist/). Made once in main and passed down, so nothing is
 * fixed when a module loads and a test can run the pipeline in a directory of its own. The download
 * and layer caches are shared between workspaces (`cacheDir()`).
 */
import { join, resolve } from 'node:path';
import { projectRoot } from './paths.ts';

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
}

export function workspace(root: string = projectRoot, over: Partial<Pick<Workspace, 'matrixFile' | 'lockFile'>> = {}): Workspace {
  const r = resolve(root);
  return {
    root: r,
    matrixFile: over.matrixFile ? resolve(over.matrixFile) : join(r, 'matrix.yaml'),
    lockFile: over.lockFile ? resolve(over.lockFile) : join(r, 'sparkcraft.lock.json'),
    templates: join(r, 'templates'),
    dist: join(r, 'dist'),
    tmp: join(r, 'build', '.tmp'),
    stamps: join(r, 'build', '.stamps'),
  };
}

/** A path of the resolved line (relative to the root) in this workspace. */
export function at(ws: Workspace, rel: string): string {
  return join(ws.root, rel);
}
