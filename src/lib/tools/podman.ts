/**
 * podman, to run the rock: on runc with limits that work on this kind of host (crun and podman's
 * default ulimits fail here; see containersConf). Pure argument builders; `podman()` runs one.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from '../paths.ts';
import { run, type Command, type RunResult } from './run.ts';

export const PODMAN = 'podman';

/** The containers.conf every podman call of ours uses (written into the cache). */
export function containersConf(): string {
  const dir = join(cacheDir(), 'podman');
  mkdirSync(dir, { recursive: true });
  const f = join(dir, 'containers.conf');
  writeFileSync(f, '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n[engine]\nruntime = "runc"\n');
  return f;
}

export interface RunSpec {
  entrypoint?: string;
  volumes?: string[];
  envs?: Record<string, string>;
  rm?: boolean;
  name?: string;
  detach?: boolean;
}

/** `podman run` with host networking; `entrypoint` overrides the image's (pebble). */
export function runCommand(image: string, args: string[], o: RunSpec = {}): Command {
  return [
    PODMAN,
    [
      'run',
      ...(o.rm ? ['--rm'] : []),
      ...(o.detach ? ['-d'] : []),
      ...(o.name ? ['--name', o.name] : []),
      '--network',
      'host',
      ...(o.entrypoint ? ['--entrypoint', o.entrypoint] : []),
      ...(o.volumes ?? []).flatMap((v) => ['-v', v]),
      ...Object.entries(o.envs ?? {}).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
      image,
      ...args,
    ],
  ];
}

export const execCommand = (name: string, cmd: string[]): Command => [PODMAN, ['exec', name, ...cmd]];
export const logsCommand = (name: string): Command => [PODMAN, ['logs', name]];
export const removeCommand = (name: string): Command => [PODMAN, ['rm', '-f', name]];

/** Run a podman command with our containers.conf. */
export function podman(c: Command, o: { timeoutMs?: number } = {}): Promise<RunResult> {
  return run(c, { env: { CONTAINERS_CONF: containersConf() }, timeoutMs: o.timeoutMs ?? 600_000 });
}
