/** `npm run smoke`: build (cached) and really run the rock and the snap of a line. */
import { execa } from 'execa';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sweepLeftovers } from '../lib/fsx.ts';
import { log } from '../lib/log.ts';
import { projectRoot } from '../lib/paths.ts';
import { build } from '../build/build.ts';
import { RockRunner, SnapRunner } from './runner.ts';
import { rockChecks, runCheck, snapChecks, type CheckResult, type Cluster } from './checks.ts';

export async function localCluster(): Promise<Cluster> {
  await execa('bash', [join(projectRoot, 'scripts/local-k8s.sh'), 'start'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const { stdout } = await execa('bash', [join(projectRoot, 'scripts/local-k8s.sh'), 'env']);
  const env = Object.fromEntries([...stdout.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
  return { apiUrl: env.K8S_API_URL!, adminKubeconfig: env.KUBECONFIG_ADMIN!, kubectl: env.KUBECTL! };
}

export async function smoke(o: { artifact?: 'rock' | 'snap' | 'all'; line?: string; only?: RegExp } = {}): Promise<CheckResult[]> {
  const which = o.artifact ?? 'all';
  const cluster = await localCluster();
  const results: CheckResult[] = [];
  const run = async (checks: Array<[string, () => Promise<string>]>) => {
    for (const [name, fn] of checks) {
      if (o.only && !o.only.test(name)) continue;
      log.info(`check: ${name}`);
      const r = await runCheck(name, fn);
      results.push(r);
      log.info(`${r.ok ? 'ok' : 'FAILED'} ${name} (${r.seconds.toFixed(1)} s)${r.ok ? `: ${r.detail}` : ''}`);
      if (!r.ok) process.stderr.write(`${r.detail}\n`);
    }
  };
  // The unpacked snap (~1 GB) and a kubeconfig with the cluster's credentials: removed however the
  // checks end (the next smoke sweeps what a killed one left).
  await sweepLeftovers(tmpdir(), /^sparkcraft-smoke-(\d+)-\w+$/);
  const work = mkdtempSync(join(tmpdir(), `sparkcraft-smoke-${process.pid}-`));
  try {
    if (which === 'rock' || which === 'all') {
      const b = await build('rock', { line: o.line, backend: 'builtin' });
      const { loadMatrix, resolveLine } = await import('../config/matrix.ts');
      const r = resolveLine(loadMatrix(), { line: o.line });
      const rock = await RockRunner.load(b.artifact, `${r.flavour.image}:smoke`);
      const sparkJars = join(projectRoot, r.paths.inputs, 'spark', 'jars');
      await run(rockChecks(rock, cluster, { sparkJars, imageRef: r.image.ref, work: join(work, 'rock') }));
    }
    if (which === 'snap' || which === 'all') {
      const b = await build('snap', { line: o.line, backend: 'builtin' });
      const snap = await SnapRunner.unpack(b.artifact, join(work, 'snap'));
      await run(snapChecks(snap, cluster));
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return results;
}
