// Bundle the CLI (src/cli/main.ts, every module it imports and the npm packages they use) into one
// ES module, so scripts/sparkcraft.sh starts it with plain node: no tsx loader hooks, no resolving
// and loading of a few hundred package files (measured: `--help` 1.06 s through tsx, 0.45 s with the
// packages external, 0.3 s all in one). Each source module's `import.meta.url` is replaced by its own
// source URL, so paths derived from it (the project root, src/smoke/jobs) stay those of the source
// tree; CommonJS packages get a `require` made for the bundle. esbuild stays external: its JS API
// finds its binary beside its own files. Written to a temporary name and renamed: concurrent runs
// never see half a file. Its source map (OUT.mjs.map, written first) is what `--log-level DEBUG`
// stack traces are read through (scripts/sparkcraft.sh adds --enable-source-maps then).
//   node scripts/bundle-cli.mjs OUT.mjs [ENTRY.ts]   (ENTRY: src/cli/main.ts)
import { build } from 'esbuild';
import { readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const out = process.argv[2];
if (!out) {
  console.error('usage: node scripts/bundle-cli.mjs OUT.mjs [ENTRY.ts]');
  process.exit(2);
}
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tmp = `${out}.tmp-${process.pid}`;
const metaUrl = {
  name: 'source-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (a) =>
      a.path.includes('/node_modules/')
        ? undefined
        : {
            contents: (await readFile(a.path, 'utf8')).replaceAll('import.meta.url', JSON.stringify(pathToFileURL(a.path).href)),
            loader: 'ts',
          },
    );
  },
};
try {
  await build({
    entryPoints: [process.argv[3] ?? join(root, 'src/cli/main.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // playwright-core reads its own files at run time (and is 7 MB): imported from node_modules, only by the UI scenarios.
    external: ['esbuild', 'playwright-core'],
    banner: { js: "import { createRequire as __sparkcraftRequire } from 'node:module'; const require = __sparkcraftRequire(import.meta.url);" },
    // The map is named after the final file, not the temporary one esbuild writes.
    sourcemap: 'external',
    footer: { js: `//# sourceMappingURL=${basename(out)}.map` },
    outfile: tmp,
    plugins: [metaUrl],
    logLevel: 'error',
  });
  await rename(`${tmp}.map`, `${out}.map`);
  await rename(tmp, out);
} catch (e) {
  await rm(tmp, { force: true });
  await rm(`${tmp}.map`, { force: true });
  console.error(`bundling the CLI failed: ${e instanceof Error ? e.message.split('\n')[0] : e}`);
  process.exit(1);
}
