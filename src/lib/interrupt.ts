/**
 * What SIGINT, SIGTERM or SIGHUP leaves behind: nothing but resumable partial downloads (whose
 * records say their URL, ETag and size; src/stage/fetch.ts).
 *
 * Code that makes a temporary file or folder (a `.tmp-<pid>` beside its destination, a mkdtemp work
 * folder, a credential file, a folder with a squashfs mounted under it) registers it with
 * `temporary(path)` when it makes it. Its own `finally` still removes it, or renames it into place;
 * a registered path that is gone by then costs nothing. The CLIs call `exitOnSignals()` once: on a
 * signal the child processes (mksquashfs, tar, go, Spark) get it and are waited for (then killed),
 * every registered path that still exists is removed newest first (mounts under it taken down),
 * one line says so, and the process exits 128 + the signal's number. A second signal while that runs
 * exits at once. SIGKILL cannot be caught: the pid in each name lets the next run sweep those.
 */
import { existsSync } from 'node:fs';
import { removeTree } from './mounts.ts';
import { alive, descendants } from './procs.ts';

const registered = new Set<string>();

/** Register a temporary path (file or folder); answers it. */
export function temporary(path: string): string {
  registered.add(path);
  return path;
}

/** Forget a registered path (when it was renamed into place, so another run's file may take its name). */
export function keep(path: string): void {
  registered.delete(path);
}

const NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Signal every descendant, wait up to `graceMs` for them to go, then SIGKILL what is left. */
export async function stopChildren(sig: NodeJS.Signals, graceMs = 10_000): Promise<number> {
  const pids = descendants(process.pid);
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  }
  for (let waited = 0; waited < graceMs && pids.some(alive); waited += 100) await sleep(100);
  for (const pid of pids.filter(alive)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  // A killed child's own children (pigz under tar) are reparented to init: not ours to wait for.
  for (let waited = 0; waited < 2000 && pids.some(alive); waited += 100) await sleep(100);
  return pids.length;
}

/** Remove every registered path that exists, newest first; answers how many were removed. */
export async function removeTemporaries(): Promise<number> {
  let n = 0;
  for (const p of [...registered].reverse()) {
    if (!existsSync(p)) continue;
    try {
      await removeTree(p);
      n++;
    } catch (e) {
      process.stderr.write(`warning: could not remove ${p}: ${(e as Error).message}\n`);
    }
  }
  registered.clear();
  return n;
}

let installed = false;
let stopping = false;

/**
 * A signal is being handled: the work under way fails as its children are stopped (mksquashfs
 * "failed"), and that failure is not the story; the handler says what happened and exits.
 */
export function isStopping(): boolean {
  return stopping;
}

/** Exit with `code`, unless a signal is being handled: then its handler exits, when it is done. */
export function exitUnlessStopping(code: number): void {
  if (!stopping) process.exit(code);
}

export function exitOnSignals(name = 'sparkcraft'): void {
  if (installed) return;
  installed = true;
  for (const sig of Object.keys(NUMBERS) as NodeJS.Signals[]) {
    process.on(sig, () => {
      const code = 128 + NUMBERS[sig]!;
      if (stopping) process.exit(code);
      stopping = true;
      void (async () => {
        const children = await stopChildren(sig);
        const removed = await removeTemporaries();
        process.stderr.write(`${name}: stopped by ${sig}${children ? `; ${children} child process(es) stopped` : ''}; ${removed} temporary path(s) removed\n`);
        process.exit(code);
      })();
    });
  }
}
