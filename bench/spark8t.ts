/**
 * npm run bench:spark8t — our executable against Python spark8t 1.6 on the same local apiserver:
 * `list` with 50 accounts, `get-config`, and `--help` start-up. Prints medians and ratios.
 * Targets: ours ≥ 10× faster on each; `--help` ≤ 50 ms.
 */
import { median } from './stats.ts';
import { execa } from 'execa';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ensureCluster, ROOT } from '../test/support/k8s.ts';
import { PY_SAR, reference } from '../test/spark8t/support.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const N = 50;

/** Wall time of one run of `cmd args`, spawned without a shell (spawnSync: the least overhead Node offers). */
function once(cmd: string, args: string[], env: Record<string, string>): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr.toString().trim().split('\n').pop()}`);
  return ms;
}

/**
 * Medians of ours and the reference, run alternately (ours, python, ours, ...) after two warm-up
 * rounds, so both meet the same machine: a burst of load elsewhere falls on both, not on one.
 */
function compare(a: [string, string[]], b: [string, string[]], env: Record<string, string>): [number, number] {
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < RUNS + 2; i++) {
    const x = once(a[0], a[1], env);
    const y = once(b[0], b[1], env);
    if (i >= 2) {
      ta.push(x);
      tb.push(y);
    }
  }
  return [median(ta), median(tb)];
}

async function main() {
  const info = await ensureCluster();
  await execa('bash', [join(ROOT, 'scripts/build-spark8t.sh')]);
  await reference(['--help']);
  const env = { KUBECONFIG: info.adminKubeconfig, PATH: process.env.PATH ?? '' };
  const ns = 'bench-spark8t';
  const exe = join(ROOT, 'dist/spark8t');
  const have = (await execa(exe, ['service-account-registry', 'list'], { env })).stdout.split('\n').filter((l) => l.startsWith(`${ns}:`)).length;
  for (let i = have; i < N; i++) {
    await execa(exe, ['service-account-registry', 'create', '--username', `u${i}`, '--namespace', ns, '--conf', `spark.k${i}=v`], { env });
  }
  // Every account on the cluster is listed (earlier test runs leave theirs): say how many.
  const all = (await execa(exe, ['service-account-registry', 'list'], { env })).stdout.split('\n').filter(Boolean);
  const total = all.length;
  const namespaces = new Set(all.map((l) => l.split(':')[0])).size;
  console.log(`cluster: ${total} spark8t accounts in ${namespaces} namespaces (${N} in ${ns})`);
  const cases: Array<[string, string[]]> = [
    [`list (${total} accounts)`, ['list']],
    ['get-config', ['get-config', '--username', 'u1', '--namespace', ns]],
    ['--help', ['--help']],
  ];
  console.log(`runs per case: ${RUNS} each, ours and python alternately (median)`);
  console.log('case'.padEnd(22) + 'ours ms'.padStart(10) + 'python ms'.padStart(12) + 'ratio'.padStart(9));
  for (const [name, args] of cases) {
    const [o, p] = compare([exe, ['service-account-registry', ...args]], [PY_SAR, args], env);
    console.log(name.padEnd(22) + o.toFixed(1).padStart(10) + p.toFixed(1).padStart(12) + `${(p / o).toFixed(1)}x`.padStart(9));
  }
  const help = median(Array.from({ length: RUNS + 2 }, () => once(exe, ['--help'], env)).slice(2));
  console.log(`spark8t --help: ${help.toFixed(1)} ms (target ≤ 50 ms)`);
}

main().catch((e) => {
  console.error(`error: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
