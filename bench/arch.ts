/**
 * npm run bench:arch — the default line's rock on the host's architecture against arm64 (emulated
 * here: its Debian root is bootstrapped, and its JVM runs, under qemu-user-static), same run, same
 * machine:
 *  - cold build: a fresh Debian-root, layer and parts cache (downloads and tools shared) per
 *    architecture, through the CLI; the arm64 / amd64 ratio;
 *  - no-op rebuild, the median of BENCH_NOOP_RUNS (default 3), each architecture;
 *  - compressed size of each rock;
 *  - the documented SparkPi (examples jar, local[2]) in each rock with podman: wall time and ratio.
 * BENCH_COLD=0 leaves out the cold builds (minutes under emulation).
 */
import { execa } from 'execa';
import { rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { build } from '../src/pipeline.ts';
import { projectRoot } from '../src/lib/paths.ts';
import { loadMatrix, resolveLine, hostArch } from '../src/config/matrix.ts';
import { artifactStamp } from '../src/pack/oci.ts';
import { workspace } from '../src/lib/workspace.ts';
import { RockRunner } from '../src/smoke/runner.ts';
import { sparkPiFromExamplesJar } from '../src/smoke/checks.ts';
import { setLogLevel } from '../src/lib/log.ts';
import { median, scratchCache, timed } from './stats.ts';

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  execa('node', ['--import', 'tsx', join(projectRoot, 'src/cli/main.ts'), ...args], { env: { ...process.env, ...env } });
const secs = async (fn: () => Promise<unknown>) => (await timed(fn))[1];
const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

async function main() {
  setLogLevel('WARN');
  const host = hostArch();
  const arches = [host, 'arm64'].filter((a, i, all) => all.indexOf(a) === i);
  if (arches.length < 2) throw new Error('bench:arch compares the host with arm64: run it on an amd64 host');
  await execa('bash', [join(projectRoot, 'scripts/binfmt.sh'), 'register']);
  const m = loadMatrix();
  const rows: Record<string, { cold?: number; noop: number; size: number; pi: number }> = {};
  for (const arch of arches) {
    const cell = resolveLine(m, { arch });
    let cold: number | undefined;
    let coldDigest: string | undefined;
    if (process.env.BENCH_COLD !== '0') {
      // A cache of its own for the Debian roots, layers and parts; downloads, extracted inputs and tools shared.
      const cache = scratchCache(`bench-arch-${arch}-`, ['downloads', 'extract', 'bin', 'go', 'bun', 'maven-repo']);
      const built = await build('rock', { backend: 'builtin', arch });
      rmSync(artifactStamp(workspace(), built.artifact, 'state.json'), { force: true });
      cold = await secs(async () => {
        const out = await cli(['build', 'rock', '--backend', 'builtin', '--arch', arch, '--json'], { SPARKCRAFT_CACHE: cache });
        coldDigest = (JSON.parse(out.stdout) as { digest: string }).digest;
      });
      rmSync(cache, { recursive: true, force: true });
    }
    const b = await build('rock', { backend: 'builtin', arch });
    const runs = Math.max(1, Number(process.env.BENCH_NOOP_RUNS) || 3);
    const noops: number[] = [];
    for (let i = 0; i < runs; i++) noops.push(await secs(() => cli(['build', 'rock', '--backend', 'builtin', '--arch', arch])));
    const rock = await RockRunner.load(b.artifact, `charmed-spark:bench-${arch}`);
    const pi = await secs(() => sparkPiFromExamplesJar(rock, cell.paths.examplesJar));
    rows[arch] = { ...(cold === undefined ? {} : { cold }), noop: median(noops), size: b.size, pi };
    console.log(
      `${cell.line.spark} ${arch}${arch === host ? ' (native)' : ' (emulated)'}: ${cold === undefined ? '' : `cold build ${cold.toFixed(1)} s (${coldDigest === b.digest ? 'the same archive as' : `NOT the same archive (${coldDigest}) as`} the build from the shared cache), `}no-op ${median(noops).toFixed(2)} s (median of ${runs}), rock ${mib(b.size)}, SparkPi ${pi.toFixed(1)} s (load average ${loadavg()[0]!.toFixed(1)})`,
    );
  }
  const [a, e] = [rows[host]!, rows.arm64!];
  const ratio = (x: number, y: number) => `${(x / y).toFixed(2)}x`;
  console.log(
    `arm64 / ${host}: ${a.cold && e.cold ? `cold build ${ratio(e.cold, a.cold)}, ` : ''}no-op ${ratio(e.noop, a.noop)}, size ${ratio(e.size, a.size)}, SparkPi ${ratio(e.pi, a.pi)}`,
  );
}

main().catch((e) => {
  console.error(`bench:arch: ${(e as Error).message}`);
  process.exit(1);
});
