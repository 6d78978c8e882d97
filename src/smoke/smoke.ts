/** `npm run smoke`: build (cached) and really run the rock and the snap of a line. */
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sweepLeftovers } from '../lib/fsx.ts';
import { log } from '../lib/log.ts';
import { projectRoot } from '../lib/paths.ts';
import { importImage, startCluster } from '../lib/cluster.ts';
import { clusterScenarios, cleanupScenarios } from './cluster.ts';
import { build } from '../build/cli.ts';
import { examplesJar } from '../build/examples.ts';
import { RockRunner, SnapRunner } from './runner.ts';
import { rockChecks, runCheck, snapChecks, type CheckResult, type Cluster } from './checks.ts';

export async function localCluster(): Promise<Cluster> {
  const c = await startCluster({ quiet: true });
  return { apiUrl: c.apiUrl, adminKubeconfig: c.adminKubeconfig, kubectl: c.kubectlPath };
}

export async function smoke(o: { artifact?: 'rock' | 'snap' | 'all'; line?: string; only?: RegExp; cluster?: boolean } = {}): Promise<CheckResult[]> {
  const which = o.artifact ?? 'all';
  if (o.cluster) return smokeCluster(o);
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
      const sparkJars = join(projectRoot, 'build', r.line.track, r.flavour.name, 'inputs', 'spark', 'jars');
      await run(rockChecks(rock, cluster, { sparkJars, imageRef: r.image.ref, work: join(work, 'rock'), examplesJar: examplesJar(r.line).path }));
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

/**
 * `smoke --cluster`: issue 12's scenarios on the local node for one line: the rock imported into the
 * node's containerd under the line's image reference, the snap (with --artifact all|snap) on the host.
 */
async function smokeCluster(o: { artifact?: 'rock' | 'snap' | 'all'; line?: string; only?: RegExp }): Promise<CheckResult[]> {
  const { loadMatrix, resolveLine } = await import('../config/matrix.ts');
  const r = resolveLine(loadMatrix(), { line: o.line });
  const cluster = await startCluster({ quiet: true });
  const rock = await build('rock', { line: o.line, backend: 'builtin' });
  log.info(`importing ${rock.artifact} into the node as ${r.image.ref}`);
  await importImage(cluster, rock.artifact, r.image.ref);
  await sweepLeftovers(tmpdir(), /^sparkcraft-smoke-(\d+)-\w+$/);
  const work = mkdtempSync(join(tmpdir(), `sparkcraft-smoke-${process.pid}-`));
  const withSnap = (o.artifact ?? 'all') !== 'rock';
  const snap = withSnap ? async () => SnapRunner.unpack((await build('snap', { line: o.line, backend: 'builtin' })).artifact, join(work, 'snap')) : undefined;
  const { namespace, scenarios } = clusterScenarios({ cluster, imageRef: r.image.ref, spark: r.line.spark, scala: r.line.scala, snap });
  const results: CheckResult[] = [];
  try {
    for (const [name, fn] of scenarios) {
      if (o.only && !o.only.test(name)) continue;
      log.info(`scenario: ${name}`);
      const res = await runCheck(name, fn);
      results.push(res);
      log.info(`${res.ok ? 'ok' : 'FAILED'} ${name} (${res.seconds.toFixed(1)} s)${res.ok ? `: ${res.detail}` : ''}`);
      if (!res.ok) process.stderr.write(`${res.detail}\n`);
    }
  } finally {
    await cleanupScenarios(cluster, namespace);
    await rm(work, { recursive: true, force: true });
  }
  return results;
}
