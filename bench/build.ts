/**
 * npm run bench:build — the built-in rock backend against plain tools on the same payload:
 *  - no-op rebuild time through scripts/sparkcraft.sh, the median of 5 (target < 2 s);
 *  - cold build (empty layer cache; downloads and the Debian bootstrap cached) against the time to
 *    verify the downloads, unpack Spark and compress the same files with tar | pigz (target ≤ 1.5×);
 *  - compressed size of the image against the compressed payload (target ≤ 10 % overhead);
 *  - per layered flavour (BENCH_FLAVOURS, default every available one the default line offers): a cold build over the already built
 *    base (a layer cache holding only the base's layers), a no-op rebuild (target < 2 s), and the
 *    bytes the flavour adds over the base;
 *  - per other line (BENCH_LINES, default every line of the matrix): its compressed rock size, and the bytes a
 *    node that already holds that line's rock must pull for the default line's (the layers it lacks, by digest)
 *    against what a cold node pulls.
 */
import { execa } from 'execa';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, mkdirSync } from 'node:fs';
import { layerCacheDir } from '../src/pack/layer.ts';
import { artifactStamp } from '../src/pack/oci.ts';
import { workspace } from '../src/lib/workspace.ts';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from '../src/pipeline.ts';
import { cacheDir, projectRoot } from '../src/lib/paths.ts';
import { readLock, lockedInputsFor } from '../src/stage/lock.ts';
import { flavourAvailable, loadMatrix, resolveLine } from '../src/config/matrix.ts';
import { casPath } from '../src/stage/fetch.ts';
import { sha256File } from '../src/lib/hash.ts';
import { rootfs } from '../src/lib/tools/mmdebstrap.ts';
import { planRock } from '../src/pack/rock.ts';
import { parse } from 'yaml';
import { setLogLevel } from '../src/lib/log.ts';
import { scratchCache, timed } from './stats.ts';

/**
 * A no-op rebuild through the npm script's entry point (scripts/sparkcraft.sh), run NOOP_RUNS times
 * (BENCH_NOOP_RUNS, default 5): one sample on a shared machine says more about its load than about
 * the build. Printed as the median, with the range and the load average.
 */
async function noopRebuild(args: string[]): Promise<string> {
  const runs = Math.max(1, Number(process.env.BENCH_NOOP_RUNS) || 5);
  const t: number[] = [];
  for (let i = 0; i < runs; i++)
    t.push((await timed(() => execa('bash', [join(projectRoot, 'scripts/sparkcraft.sh'), 'build', 'rock', '--backend', 'builtin', ...args])))[1]);
  t.sort((a, b) => a - b);
  const median = t[Math.floor((t.length - 1) / 2)]!;
  return `${median.toFixed(2)} s median of ${runs} (${t[0]!.toFixed(2)}-${t[t.length - 1]!.toFixed(2)} s, load average ${loadavg()[0]!.toFixed(1)})`;
}

/** The layered flavours benched: BENCH_FLAVOURS, or every available layered flavour of the default line (from the matrix). */
function benchedFlavours(): string[] {
  if (process.env.BENCH_FLAVOURS !== undefined) return process.env.BENCH_FLAVOURS.split(',').filter(Boolean);
  const m = loadMatrix();
  return resolveLine(m, {}).line.flavours.filter((f) => m.flavours[f]!.over && flavourAvailable(m.flavours[f]!));
}

/** `want`'s layers that a node holding `have`'s layers lacks (by digest): how many, and their compressed bytes. */
function toPull(want: Array<{ digest: string; size: number }>, have: Array<{ digest: string }>): { layers: number; bytes: number } {
  const held = new Set(have.map((l) => l.digest));
  const missing = want.filter((l) => !held.has(l.digest));
  return { layers: missing.length, bytes: missing.reduce((n, l) => n + l.size, 0) };
}

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

/** The rows of the other lines against the default line's rock `first` (built in dist/). */
async function lineRows(first: { size: number; layers?: Array<{ digest: string; size: number }> }) {
  const m = loadMatrix();
  const others = (process.env.BENCH_LINES?.split(',').filter(Boolean) ?? m.lines.map((l) => l.track)).filter((t) => t !== m.defaultLine);
  const cold = first.layers!.reduce((n, l) => n + l.size, 0);
  console.log(`line ${m.defaultLine}: rock ${mib(first.size)}; a cold node pulls ${mib(cold)} of layers (${first.layers!.length})`);
  for (const t of others) {
    const o = await build('rock', { backend: 'builtin', line: t });
    const pull = toPull(first.layers!, o.layers!);
    console.log(
      `line ${t}: rock ${mib(o.size)}; a node holding it pulls ${mib(pull.bytes)} for ${m.defaultLine}'s rock, ${((pull.bytes / cold) * 100).toFixed(1)} % of a cold pull (shares ${first.layers!.length - pull.layers} of ${first.layers!.length} layers)`,
    );
  }
}

async function main() {
  setLogLevel('WARN');
  const first = await build('rock', { backend: 'builtin' });
  if (process.env.BENCH_LINES_ONLY === '1') return lineRows(first);
  if (process.env.BENCH_BASE === '0') {
    // Only the flavour rows (the base's need a cold base build of their own).
    for (const f of benchedFlavours()) await flavourRows(f, first);
    return;
  }
  console.log(`no-op rebuild (whole CLI process): ${await noopRebuild([])} (target < 2 s)`);

  // Cold: a fresh layer cache, sharing downloads, extracted inputs and the Debian bootstrap.
  const cache = scratchCache('bench-cache-', ['downloads', 'extract', 'rootfs', 'bin', 'go']);
  // Forget that dist/ already holds this image, so the cold build writes the archive too.
  rmSync(artifactStamp(workspace(), first.artifact, 'state.json'), { force: true });
  const [coldOut, cold] = await timed(() =>
    execa('node', ['--import', 'tsx', join(projectRoot, 'src/cli/main.ts'), 'build', 'rock', '--backend', 'builtin', '--json'], {
      env: { SPARKCRAFT_CACHE: cache },
    }),
  );
  const summary = JSON.parse(coldOut.stdout) as { layers: Array<{ size: number }>; artifact: string; size: number };
  const imageBytes = summary.size;

  // Baseline: verify the same downloads, unpack Spark, compress the same payload with tar | pigz.
  const m = loadMatrix();
  const r = resolveLine(m, {});
  const inputs = lockedInputsFor(r.project, r.line, readLock());
  const plan = planRock(parse(readFileSync(join(projectRoot, 'rockcraft.yaml'), 'utf8')));
  const full = await rootfs(cacheDir(), 'minbase', plan.packages, { arch: r.arch, java: r.java });
  const work = mkdtempSync(join(tmpdir(), 'bench-base-'));
  const [, baseline] = await timed(async () => {
    for (const i of inputs) await sha256File(casPath(cacheDir(), i.sha256));
    const spark = inputs.find((i) => i.kind === 'pypi')!;
    mkdirSync(join(work, 'spark'));
    await execa('tar', ['-xzf', casPath(cacheDir(), spark.sha256), '-C', join(work, 'spark'), '--strip-components=1']);
    const b = join(projectRoot, r.paths.build);
    await execa('bash', [
      '-c',
      `tar -C / -cf - --one-file-system "${full.slice(1)}" "${b.slice(1)}/inputs/jars" "${b.slice(1)}/inputs/spark8t" "${b.slice(1)}/inputs/pebble" "${work.slice(1)}/spark/deps" "${work.slice(1)}/spark/pyspark" | pigz -6 > "${work}/payload.tar.gz"`,
    ]);
  });
  const payloadBytes = statSync(join(work, 'payload.tar.gz')).size;
  console.log(
    `cold build: ${cold.toFixed(1)} s; verify+unpack+compress the same payload: ${baseline.toFixed(1)} s; ratio ${(cold / baseline).toFixed(2)}x (target ≤ 1.5x)`,
  );
  console.log(
    `image ${(imageBytes / 1048576).toFixed(1)} MiB vs compressed payload ${(payloadBytes / 1048576).toFixed(1)} MiB: overhead ${(((imageBytes - payloadBytes) / payloadBytes) * 100).toFixed(1)} % (target ≤ 10 %)`,
  );
  await execa('rm', ['-rf', cache, work]);
  for (const f of benchedFlavours()) await flavourRows(f, first);
  await lineRows(first);
}

/** The rows of one layered flavour over the base rock `base` (already built in dist/). */
async function flavourRows(flavour: string, base: { artifact: string; size: number; layers?: Array<{ digest: string }> }) {
  const ws = workspace();
  const cli = (env: Record<string, string> = {}) =>
    execa('node', ['--import', 'tsx', join(projectRoot, 'src/cli/main.ts'), 'build', 'rock', '--flavour', flavour, '--backend', 'builtin', '--json'], { env });
  const warm = JSON.parse((await cli()).stdout) as { artifact: string; size: number; layers: Array<{ digest: string; size: number; comment: string }> };
  const noop = await noopRebuild(['--flavour', flavour]);
  // Cold over the built base: a layer cache holding only the base's layers (no flavour layer, no
  // cached part build), downloads and the Debian bootstrap shared.
  const cache = scratchCache(`bench-${flavour}-`, ['downloads', 'extract', 'rootfs', 'bin', 'go']);
  mkdirSync(join(cache, 'layers'));
  for (const key of (JSON.parse(readFileSync(artifactStamp(ws, base.artifact, 'state.json'), 'utf8')) as { data: { layers: string[] } }).data.layers) {
    const meta = join(layerCacheDir(ws.cache), `${key}.json`);
    if (existsSync(meta)) copyFileSync(meta, join(cache, 'layers', `${key}.json`));
  }
  rmSync(artifactStamp(ws, warm.artifact, 'state.json'), { force: true });
  const [coldOut, cold] = await timed(() => cli({ SPARKCRAFT_CACHE: cache }));
  const c = JSON.parse(coldOut.stdout) as { layers: Array<{ cached: boolean; comment: string; size: number }> };
  const built = c.layers.filter((l) => !l.cached);
  const added = warm.layers.slice(base.layers!.length).reduce((n, l) => n + l.size, 0);
  console.log(
    `flavour ${flavour}: cold build over the built base ${cold.toFixed(1)} s (built ${built.map((l) => l.comment).join(', ')}); no-op rebuild ${noop} (target < 2 s)`,
  );
  console.log(
    `flavour ${flavour}: adds ${(added / 1048576).toFixed(1)} MiB of compressed layers over the base (${warm.layers.length - base.layers!.length} layers; image ${(warm.size / 1048576).toFixed(1)} MiB, base ${(base.size / 1048576).toFixed(1)} MiB)`,
  );
  await execa('rm', ['-rf', cache]);
}

main().catch((e) => {
  console.error(`error: ${e instanceof Error ? e.message.split('\n')[0] : e}`);
  process.exit(1);
});
