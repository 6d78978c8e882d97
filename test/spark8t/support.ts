import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../support/k8s.ts';

export const CACHE = process.env.SPARKCRAFT_CACHE ?? join(homedir(), '.cache', 'sparkcraft');
export const PY_SAR = join(CACHE, 'venv-spark8t', 'bin', 'service-account-registry');

export type Runtime = 'exe' | 'node';
let exe: Promise<string> | undefined;

/**
 * Ours: the shipped executable (dist/spark8t, bun-compiled, rebuilt when its sources change), or
 * with `runtime` 'node' the TypeScript sources under Node (the node:https transport).
 */
export async function ours(tool: string, args: string[], env: Record<string, string> = {}, runtime: Runtime = 'exe', input?: string) {
  // `input` becomes stdin (a pipe, not a terminal); without it stdin is an empty pipe as before.
  const opts = { reject: false, env: { ...env }, extendEnv: true, ...(input === undefined ? {} : { input }) };
  if (runtime === 'node') {
    return execa('node', ['--import', 'tsx', join(ROOT, 'src/spark8t/entry.ts'), tool, ...args], opts);
  }
  exe ??= import('../../src/spark8t/build/build.ts').then((m) => m.ensureSpark8t());
  return execa(await exe, [tool, ...args], opts);
}

/** The Python reference (spark8t 1.6 from PyPI, installed by scripts/setup.d/30-spark8t-py.sh). */
export async function reference(args: string[], env: Record<string, string> = {}) {
  if (!existsSync(PY_SAR)) await execa('bash', [join(ROOT, 'scripts/setup.d/30-spark8t-py.sh')]);
  return execa(PY_SAR, args, { reject: false, env });
}
