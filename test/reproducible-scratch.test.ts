/**
 * Reproducible from scratch, the way a verifier would check it (issue 16), cheaply: two copies of this
 * checkout in different directories, each with an EMPTY SPARKCRAFT_CACHE, each in a process of its own
 * at a different time, build dist/spark8t and the rock's spark8t layer (the pack step's own buildLayer
 * over the tree the stage step lays out). Executable, layer blob digest and diff_id must be identical.
 * The whole-artifact version (spark8t, the rock and the snap, twice from empty caches) is the
 * `reproducible` job of .github/workflows/ci.yaml. The suite's one reproducibility proof: it replaced
 * test/spark8t/reproducible.test.ts (two warm builds of the same checkout, a subset of this) and
 * build.test.ts's rebuild of every rock layer into an empty cache (the CI job's rock half).
 */
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../src/lib/paths.ts';

/** The checkout's tracked files (as they are in the work tree) copied to `dest`; node_modules linked. */
async function copyCheckout(dest: string): Promise<void> {
  const files = (await execa('git', ['ls-files', '-z', '--cached'], { cwd: projectRoot })).stdout;
  await execa(
    'bash',
    [
      '-c',
      'cd "$1" && tr "\\0" "\\n" | grep -v "^node_modules/" | while read -r f; do [ -e "$f" ] && printf "%s\\0" "$f"; done | tar --null -T - -cf - | tar -C "$2" -xf -',
      '_',
      projectRoot,
      dest,
    ],
    { input: files },
  );
  symlinkSync(join(projectRoot, 'node_modules'), join(dest, 'node_modules'));
}

const SCRIPT = `
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
const root = process.cwd();
const { buildSpark8t } = await import(join(root, 'src/spark8t/build/build.ts'));
const { SPARK8T_TOOLS } = await import(join(root, 'src/stage/stage.ts'));
const { buildLayer, dirEntries } = await import(join(root, 'src/pack/layer.ts'));
const out = join(root, 'dist');
await buildSpark8t({ outDir: out });
const exe = readFileSync(join(out, 'spark8t'));
// The stage step's layout of the spark8t part (src/stage/stage.ts), then the pack step's layer.
const bin = join(root, 'tree', 'opt', 'spark-client', 'bin');
mkdirSync(bin, { recursive: true });
copyFileSync(join(out, 'spark8t'), join(bin, 'spark8t'));
chmodSync(join(bin, 'spark8t'), 0o755);
for (const t of SPARK8T_TOOLS) symlinkSync('spark8t', join(bin, 'spark-client.' + t));
const entries = await dirEntries(join(root, 'tree'), '', { owner: { uid: 0, gid: 0 } });
const layer = await buildLayer(process.env.SPARKCRAFT_CACHE, 'scratch-spark8t', 'part spark8t', async () => entries, 1764000000);
console.log(JSON.stringify({ spark8t: createHash('sha256').update(exe).digest('hex'), size: exe.length, digest: layer.digest, diffId: layer.diffId, cached: layer.cached, pid: process.pid }));
`;

async function buildFromScratch(
  dir: string,
): Promise<{ spark8t: string; size: number; digest: string; diffId: string; cached: boolean; pid: number; cacheEntries: string[]; leftovers: string[] }> {
  const repo = join(dir, 'checkout');
  const cache = join(dir, 'cache');
  await execa('mkdir', ['-p', repo, cache]);
  await copyCheckout(repo);
  const r = await execa('nice', [process.execPath, '--import', 'tsx', '--input-type=module', '-e', SCRIPT], {
    cwd: repo,
    env: { SPARKCRAFT_CACHE: cache, SOURCE_DATE_EPOCH: undefined },
  });
  const line = r.stdout.trim().split('\n').at(-1)!;
  return {
    ...(JSON.parse(line) as { spark8t: string; size: number; digest: string; diffId: string; cached: boolean; pid: number }),
    cacheEntries: readdirSync(cache),
    // What the compile leaves beside dist/spark8t: no temporaries (dot files) in the output folder.
    leftovers: readdirSync(join(repo, 'dist')).filter((n) => n.startsWith('.')),
  };
}

describe('reproducible from scratch', () => {
  it('spark8t and its rock layer: two empty caches, two directories, two processes, different times → identical bytes', async () => {
    const a = mkdtempSync(join(tmpdir(), 'scratch-a-'));
    const b = mkdtempSync(join(tmpdir(), 'scratch-bb-'));
    try {
      const first = await buildFromScratch(a);
      await new Promise((r) => setTimeout(r, 1100));
      const second = await buildFromScratch(b);
      // Both really started from nothing: the layer was built, not found.
      expect(first.cached).toBe(false);
      expect(second.cached).toBe(false);
      expect(first.pid).not.toBe(second.pid);
      expect(first.size).toBeGreaterThan(1_000_000);
      expect(second.spark8t).toBe(first.spark8t);
      expect(second.diffId).toBe(first.diffId);
      expect(second.digest).toBe(first.digest);
      expect([...first.leftovers, ...second.leftovers]).toEqual([]);
      console.log(`spark8t sha256:${first.spark8t} (${first.size} bytes), layer ${first.digest}`);
    } finally {
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
  }, 900_000);
});
