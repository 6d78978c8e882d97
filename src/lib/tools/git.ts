/** git: the revision of a checkout and when given files last changed. */
import { run, type Command } from './run.ts';

export const revParseCommand = (): Command => ['git', ['rev-parse', 'HEAD']];
export const statusCommand = (): Command => ['git', ['status', '--porcelain', '--untracked-files=no']];
export const lastChangeCommand = (files: string[]): Command => ['git', ['log', '-1', '--format=%ct', '--', ...files]];

/** HEAD of the checkout at `root`, or undefined outside one. */
export async function headRevision(root: string): Promise<string | undefined> {
  const r = await run(revParseCommand(), { cwd: root });
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}

/** Commit time (seconds) of the last change to `files`, or 0. */
export async function lastChange(root: string, files: string[]): Promise<number> {
  const r = await run(lastChangeCommand(files), { cwd: root });
  return r.exitCode === 0 ? Number(r.stdout.trim()) || 0 : 0;
}

/** Whether tracked files of the checkout at `root` differ from HEAD (undefined outside one). */
export async function hasLocalChanges(root: string): Promise<boolean | undefined> {
  const r = await run(statusCommand(), { cwd: root });
  return r.exitCode === 0 ? r.stdout.trim() !== '' : undefined;
}
