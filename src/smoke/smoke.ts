/** `npm run smoke`: build (cached, through the road) and really run the rock and the snap of a line. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { projectRoot } from '../lib/paths.ts';
import { sweepLeftovers } from '../lib/fsx.ts';
import { removeTree } from '../lib/mounts.ts';
import { log } from '../lib/log.ts';
import { err } from '../lib/output.ts';
import type { Packed } from '../pack/pack.ts';
import { flavourAvailable, lineHasService, resolveLine } from '../config/matrix.ts';
import type { LineSpec, Matrix, ResolvedLine } from '../config/types.ts';
import semver from 'semver';
import type { Road } from '../pipeline.ts';
import { flavourModules, type FlavourRegistry } from '../flavours/index.ts';
import { at, type Workspace } from '../lib/workspace.ts';
import { importImage, publishToLocalRegistry, startCluster } from '../lib/cluster.ts';
import { clusterScenarios, cleanupScenarios, type ScenarioContext } from './cluster.ts';
import { RockRunner, SnapRunner } from './runner.ts';
import { rockChecks, runCheck, snapChecks, type CheckResult, type Cluster } from './checks.ts';
import { temporary } from '../lib/interrupt.ts';

export async function localCluster(): Promise<Cluster> {
  const c = await startCluster({ quiet: true });
  return { apiUrl: c.apiUrl, adminKubeconfig: c.adminKubeconfig, kubectl: c.kubectlPath };
}

/** Build (cached) and really run the rock and/or the snap of the selected line. */
export async function smoke(
  o: { artifact?: 'rock' | 'snap' | 'all'; line?: string; arch?: string; java?: number; only?: RegExp; cluster?: boolean; flavours?: FlavourRegistry },
  ws: Workspace,
  road: Road,
): Promise<CheckResult[]> {
  const which = o.artifact ?? 'all';
  const { matrix, cell: resolved } = await road.select({ line: o.line, arch: o.arch, java: o.java });
  if (o.cluster) return smokeCluster(matrix, resolved, ws, road, o);
  const packed: Packed[] = [];
  for (const kind of ['rock', 'snap'] as const) {
    if (which === kind || which === 'all') packed.push((await road.run(resolved, { until: 'pack', kind, backend: 'builtin' })).packed!);
  }
  return smokeArtifacts(resolved, ws, packed, { only: o.only });
}

/** Run each check (or scenario) that `only` selects, logging its outcome; a failure's detail goes out masked. */
async function runAll(what: string, checks: Array<[string, () => Promise<string>]>, only: RegExp | undefined, results: CheckResult[]): Promise<void> {
  for (const [name, fn] of checks) {
    if (only && !only.test(name)) continue;
    log.info(`${what}: ${name}`);
    const res = await runCheck(name, fn);
    results.push(res);
    log.info(`${res.ok ? 'ok' : 'FAILED'} ${name} (${res.seconds.toFixed(1)} s)${res.ok ? `: ${res.detail}` : ''}`);
    if (!res.ok) err(res.detail);
  }
}

/** The smoke step: the checks of each packed artifact, run for real against the local cluster. */
export async function smokeArtifacts(r: ResolvedLine, ws: Workspace, packed: Packed[], o: { only?: RegExp } = {}): Promise<CheckResult[]> {
  const cluster = await localCluster();
  const results: CheckResult[] = [];
  const run = (checks: Array<[string, () => Promise<string>]>) => runAll('check', checks, o.only, results);
  // The snap's mount (or unpacked copy, ~1 GB) and a kubeconfig with the cluster's credentials: removed however the
  // checks end (the next smoke sweeps what a killed one left).
  await sweepLeftovers(tmpdir(), /^sparkcraft-smoke-(\d+)-\w+$/);
  const work = temporary(mkdtempSync(join(tmpdir(), `sparkcraft-smoke-${process.pid}-`)));
  try {
    for (const p of packed) {
      if (p.kind === 'rock') {
        const rock = await RockRunner.load(p.artifact, `${r.image.name}:smoke`);
        const sparkJars = join(at(ws, r.paths.inputs), 'spark', 'jars');
        await run(
          rockChecks(rock, cluster, {
            archive: p.artifact,
            sparkJars,
            imageRef: r.image.ref,
            work: join(work, 'rock'),
            examplesJar: r.paths.examplesJar,
            python: r.python,
            java: r.java,
          }),
        );
      } else {
        const snap = await SnapRunner.open(p.artifact, join(work, 'snap'));
        await run(snapChecks(snap, cluster));
      }
    }
  } finally {
    await removeTree(work);
  }
  return results;
}

/**
 * `smoke --cluster`: issue 12's scenarios on the local node for one line: the rock imported into the
 * node's containerd under the line's image reference, the snap (with --artifact all|snap) on the host.
 */
/** The Spark-on-Kubernetes scenarios on the local node, every workload from the built rock. */
async function smokeCluster(
  m: Matrix,
  r: ResolvedLine,
  _ws: Workspace,
  road: Road,
  o: { artifact?: 'rock' | 'snap' | 'all'; line?: string; only?: RegExp; flavours?: FlavourRegistry },
): Promise<CheckResult[]> {
  const cluster = await startCluster({ quiet: true });
  const rock = (await road.run(r, { until: 'pack', kind: 'rock', backend: 'builtin' })).packed!;
  log.info(`importing ${rock.artifact} into the node as ${r.image.ref}`);
  await importImage(cluster, rock.artifact, r.image.ref);
  await sweepLeftovers(tmpdir(), /^sparkcraft-smoke-(\d+)-\w+$/);
  const work = temporary(mkdtempSync(join(tmpdir(), `sparkcraft-smoke-${process.pid}-`)));
  const withSnap = (o.artifact ?? 'all') !== 'rock';
  const snap = withSnap
    ? async () => SnapRunner.open((await road.run(r, { until: 'pack', kind: 'snap', backend: 'builtin' })).packed!.artifact, join(work, 'snap'))
    : undefined;
  const registry = {
    publish: async () => publishToLocalRegistry({ artifacts: await platformArtifacts(m, r, road, rock.artifact), line: r.line.track, imageRef: r.image.ref }),
    restore: () => importImage(cluster, rock.artifact, r.image.ref),
    emulated: emulation(m, r),
  };
  const flavours = await flavourScenarios(m, r, road, o.flavours ?? flavourModules, (p) => importImage(cluster, p.artifact, p.ref));
  const connect = connectLine(m, r, road, (p) => importImage(cluster, p.artifact, p.ref));
  const { namespace, scenarios } = clusterScenarios({ cluster, imageRef: r.image.ref, examplesJar: r.paths.examplesJar, snap, registry, flavours, connect });
  const results: CheckResult[] = [];
  try {
    await runAll('scenario', scenarios, o.only, results);
  } finally {
    await cleanupScenarios(cluster, namespace);
    await removeTree(work);
  }
  return results;
}

/**
 * Where the connect scenarios run: the cell's line when its rock has `spark-connect`, else the newest
 * line whose rock has (its base image built through the road and put on the node on first use); none
 * when no line has. The suite says which in the scenarios' names.
 */
export function connectLine(
  m: Matrix,
  r: ResolvedLine,
  road: Road,
  load: (p: { artifact: string; ref: string }) => Promise<unknown>,
): ScenarioContext['connect'] {
  const has = (l: LineSpec) => lineHasService(m, l, 'spark-connect');
  const line = has(r.line) ? r.line : [...m.lines].filter(has).sort((a, b) => semver.compare(b.spark, a.spark))[0];
  if (!line) return undefined;
  const cell = line === r.line ? r : resolveLine(m, { line: line.track, risk: r.risk, arch: r.arch });
  let done: Promise<string> | undefined;
  const image = () =>
    (done ??= (async () => {
      const p = (await road.run(cell, { until: 'pack', kind: 'rock', backend: 'builtin' })).packed!;
      if (cell !== r) await load({ artifact: p.artifact, ref: cell.image.ref });
      return cell.image.ref;
    })());
  return { track: line.track, image, cds: cell.cds };
}

/**
 * The scenarios of the line's other available flavours whose modules have some, each with a lazy
 * `image`: the flavour's cell built through the road and put on the node (`load`) on first use.
 */
export async function flavourScenarios(
  m: Matrix,
  r: ResolvedLine,
  road: Road,
  registry: FlavourRegistry,
  load: (p: { artifact: string; ref: string }) => Promise<unknown>,
): Promise<NonNullable<ScenarioContext['flavours']>> {
  const out: NonNullable<ScenarioContext['flavours']> = [];
  for (const name of r.line.flavours) {
    if (name === r.flavour.name || !flavourAvailable(m.flavours[name]!)) continue;
    const scenarios = (await registry(name))?.scenarios;
    if (!scenarios) continue;
    const cell = resolveLine(m, { line: r.line.track, flavour: name, risk: r.risk, arch: r.arch, java: r.java });
    let done: Promise<string> | undefined;
    const image = () =>
      (done ??= (async () => {
        const p = (await road.run(cell, { until: 'pack', kind: 'rock', backend: 'builtin' })).packed!;
        await load({ artifact: p.artifact, ref: cell.image.ref });
        return cell.image.ref;
      })());
    out.push({ image, scenarios });
  }
  return out;
}

/**
 * The cell's rock for every architecture of the matrix, the node's (`own`, already built) first: what
 * publish:rock names by one image index. The others come through the road (no-ops when built; an
 * emulated build otherwise).
 */
export async function platformArtifacts(m: Matrix, r: ResolvedLine, road: Road, own: string): Promise<string[]> {
  const others: string[] = [];
  for (const arch of m.architectures.filter((a) => a !== r.arch)) {
    const cell = resolveLine(m, { line: r.line.track, flavour: r.flavour.name, risk: r.risk, arch, java: r.java });
    others.push((await road.run(cell, { until: 'pack', kind: 'rock', backend: 'builtin' })).packed!.artifact);
  }
  return [own, ...others];
}

/**
 * The other architectures the cell's publish names (scenario 9 runs one under emulation), the binfmt_misc
 * entry that runs pebble (QEMU 10, scripts/binfmt.sh's `backports`) and the default one put back after.
 */
export function emulation(m: Matrix, r: ResolvedLine): { arches: string[]; register: () => Promise<unknown>; restore: () => Promise<unknown> } {
  const binfmt = (qemu: string) =>
    execa('bash', [join(projectRoot, 'scripts', 'binfmt.sh'), 'register'], { env: { SPARKCRAFT_QEMU: qemu }, stdio: ['ignore', 'ignore', 'inherit'] });
  return { arches: m.architectures.filter((a) => a !== r.arch), register: () => binfmt('backports'), restore: () => binfmt('debian') };
}
