/**
 * npm run bench:render — time to render and validate the whole release matrix (target < 300 ms)
 * and a warm `stage` of the default line (target < 2 s). Medians of several runs.
 */
import { median } from './stats.ts';
import { loadMatrix, resolveLine, flavourAvailable } from '../src/config/matrix.ts';
import { loadTemplates, renderLine } from '../src/render/render.ts';
import { stage } from '../src/pipeline.ts';
import { setLogLevel } from '../src/lib/log.ts';

async function main() {
  setLogLevel('WARN');
  const runs = Number(process.env.BENCH_RUNS ?? 9);
  const times: number[] = [];
  let count = 0;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const m = loadMatrix();
    const tpl = loadTemplates();
    count = 0;
    for (const line of m.lines) {
      for (const f of line.flavours) {
        const r = resolveLine(m, { line: line.track, flavour: f });
        if (!flavourAvailable(r.flavour)) continue;
        for (const risk of m.risks) {
          renderLine(resolveLine(m, { line: line.track, flavour: f, risk }), tpl);
          count++;
        }
      }
    }
    times.push(performance.now() - t);
  }
  const r = median(times);
  console.log(
    `render+validate whole matrix (${count} line×flavour×risk): ${r.toFixed(1)} ms median of ${runs} (target < 300 ms: ${(300 / r).toFixed(1)}x under)`,
  );
  await stage(); // make sure it is staged
  const warm: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    const s = await stage();
    if (!s.skipped) throw new Error('stage was not warm');
    warm.push(performance.now() - t);
  }
  const w = median(warm);
  console.log(`warm stage of the default line: ${w.toFixed(0)} ms median of 5 (target < 2000 ms: ${(2000 / w).toFixed(1)}x under)`);
}

main().catch((e) => {
  console.error(`error: ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
