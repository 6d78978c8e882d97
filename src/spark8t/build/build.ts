/**
 * `npm run build:spark8t` → dist/spark8t: one self-contained Linux executable, plus links named
 * after each tool.
 *
 * Two ways, both from the npm registry only:
 *  - bun --compile --bytecode (default; the `@oven/bun-linux-x64` package): measured on this 2-core
 *    VM (npm run bench:spark8t), `spark8t --help` 6.3–8.7 ms, `service-account-registry --help`
 *    12.5–14 ms, `list` 20–25 ms, `get-config` 19–22 ms; 107 MiB. Without --bytecode, earlier:
 *    26 ms, 35 ms, 33 ms, 69 ms.
 *  - Node SEA (`--runtime node`: esbuild bundle + postject into a copy of node 20 with a V8 code
 *    cache): `--help` ≈ 49 ms, `list` ≈ 79 ms, 95 MiB.
 * bun wins on start-up, which is what a CLI is judged by; SEA stays as the fallback when bun's
 * package is not installable (it is an optional dependency, Linux x64 only).
 */
import { build } from 'esbuild';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ARCHITECTURES, hostArch } from '../../lib/arch.ts';
import { cacheDir, projectRoot } from '../../lib/paths.ts';
import { decide, makeRecord, withLock, workspaceLock, writeRecord, type Cell } from '../../lib/state.ts';
import { TOOLS } from '../main.ts';

export type Runtime = 'bun' | 'node';
const BUN = join(projectRoot, 'node_modules/@oven/bun-linux-x64/bin/bun');
/** bun's target for this host (the compiler runs here; `ARCHITECTURES[arch].bun` names the others). */
const HOST_TARGET = ARCHITECTURES[hostArch()]?.bun ?? 'bun-linux-x64';

export function defaultRuntime(): Runtime {
  return existsSync(BUN) ? 'bun' : 'node';
}

/** Whether spark8t can be built for `target` here (another architecture's needs bun). */
export const canBuildFor = (target: string): boolean => target === HOST_TARGET || defaultRuntime() === 'bun';

async function buildWithBun(tmp: string, target: string, bunInstall?: string): Promise<void> {
  await execa(
    BUN,
    [
      'build',
      '--compile',
      '--minify',
      '--bytecode',
      `--target=${target}`,
      // By default a bun executable reads .env and bunfig.toml from the current directory at start:
      // a project's .env would change KUBECONFIG, AWS keys or SPARK_HOME for spark8t and for the
      // Spark it runs. Python spark8t reads neither; nor do we.
      '--no-compile-autoload-dotenv',
      '--no-compile-autoload-bunfig',
      '--no-compile-autoload-tsconfig',
      '--no-compile-autoload-package-json',
      join(projectRoot, 'src/spark8t/entry.ts'),
      '--outfile',
      tmp,
    ],
    // Another target's runtime is downloaded once into $BUN_INSTALL_CACHE_DIR (the workspace cache; else ~/.bun).
    { cwd: projectRoot, ...(bunInstall ? { env: { BUN_INSTALL_CACHE_DIR: bunInstall } } : {}) },
  );
}

async function buildWithNodeSea(tmp: string, work: string): Promise<void> {
  const bundle = join(work, 'spark8t.cjs');
  await build({
    entryPoints: [join(projectRoot, 'src/spark8t/entry.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    outfile: bundle,
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  const blob = join(work, 'sea-prep.blob');
  writeFileSync(join(work, 'sea-config.json'), JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true }));
  await execa(process.execPath, ['--experimental-sea-config', join(work, 'sea-config.json')], { cwd: work });
  copyFileSync(process.execPath, tmp);
  chmodSync(tmp, 0o755);
  await execa(
    join(projectRoot, 'node_modules/.bin/postject'),
    [tmp, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'],
    { cwd: work },
  );
}

/**
 * Build into `outDir` (dist/) as `name`: `spark8t` with a link per tool for the host's architecture, or
 * `spark8t-<arch>` for another (bun compiles for any Linux target: the target's runtime comes from the
 * npm registry's `@oven/bun-linux-<cpu>` package, cached under the workspace cache, `<cache>/bun`).
 */
export async function buildSpark8t(
  opts: { outDir?: string; runtime?: Runtime; target?: string; name?: string; links?: boolean; bunInstall?: string } = {},
): Promise<string> {
  const out = opts.outDir ?? join(projectRoot, 'dist');
  const work = join(projectRoot, 'build', 'spark8t');
  mkdirSync(out, { recursive: true });
  mkdirSync(work, { recursive: true });
  // bun embeds the output file's name in the executable ($bunfs/root/<name>): build under the final
  // name in a private directory beside the output, so the bytes do not depend on the process id.
  const tmpDir = mkdtempSync(join(out, '.spark8t-build-'));
  const tmp = join(tmpDir, 'spark8t');
  const target = opts.target ?? HOST_TARGET;
  try {
    if ((opts.runtime ?? defaultRuntime()) === 'bun') await buildWithBun(tmp, target, opts.bunInstall);
    else if (target !== HOST_TARGET)
      throw new Error(`spark8t for ${target} needs bun (the node runtime builds for this host only): stage checks canCrossCompile() first`);
    else await buildWithNodeSea(tmp, work);
    const final = join(out, opts.name ?? 'spark8t');
    renameSync(tmp, final);
    if (opts.links === false) return final;
    for (const t of TOOLS) {
      const link = join(out, t);
      rmSync(link, { force: true });
      await execa('ln', ['-s', 'spark8t', link]);
    }
    return final;
  } finally {
    rmSync(tmpDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const started = Date.now();
  const runtime = process.argv.includes('--runtime') ? (process.argv[process.argv.indexOf('--runtime') + 1] as Runtime) : undefined;
  buildSpark8t({ runtime }).then(
    (p) =>
      console.log(`${p} (${(statSync(p).size / 1048576).toFixed(1)} MiB, ${runtime ?? defaultRuntime()}) in ${((Date.now() - started) / 1000).toFixed(1)} s`),
    (e) => {
      console.error(`error: building spark8t failed: ${e instanceof Error ? e.message.split('\n')[0] : e}`);
      process.exit(1);
    },
  );
}

/** Hash of everything the executable is built from. */
export function sourcesHash(): string {
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|json)$/.test(n)) h.update(p.slice(projectRoot.length)).update(readFileSync(p));
    }
  };
  walk(join(projectRoot, 'src/spark8t'));
  walk(join(projectRoot, 'src/lib'));
  h.update(readFileSync(join(projectRoot, 'package-lock.json')));
  return h.digest('hex');
}

/**
 * dist/spark8t, rebuilt only when its sources changed, its record is of another format or cell, or
 * the executable is not the file recorded (`build/spark8t/state.json`). Under the checkout's
 * spark8t lock: concurrent runs build it once.
 */
/**
 * `target`: bun's name for the cell's architecture (the resolved cell's `platform.bun`). The host's is
 * dist/spark8t (what users run, with its links); another architecture's is dist/spark8t-<arch>, with its
 * own record, so builds for two architectures never replace each other's executable.
 */
export async function ensureSpark8t(cell: Cell = { arch: hostArch(), java: null }, target = HOST_TARGET, cache: string = cacheDir()): Promise<string> {
  const host = target === HOST_TARGET;
  const exe = join(projectRoot, 'dist', host ? 'spark8t' : `spark8t-${cell.arch}`);
  const record = join(projectRoot, 'build', 'spark8t', host ? 'state.json' : `state-${cell.arch}.json`);
  return withLock(workspaceLock({ root: projectRoot }, 'spark8t'), relative(projectRoot, exe), async () => {
    const inputs = { sources: sourcesHash(), runtime: defaultRuntime(), target };
    const { decision } = await decide('spark8t', record, 'spark8t', cell, inputs, {
      legacy: [{ file: join(projectRoot, 'build', 'spark8t', 'sources.sha256'), format: 1 }],
    });
    if (!decision.run) return exe;
    await buildSpark8t({ target, ...(host ? {} : { name: `spark8t-${cell.arch}`, links: false, bunInstall: join(cache, 'bun') }) });
    rmSync(join(projectRoot, 'build', 'spark8t', 'sources.sha256'), { force: true });
    await writeRecord(record, makeRecord(record, 'spark8t', cell, inputs, [exe]));
    return exe;
  });
}
