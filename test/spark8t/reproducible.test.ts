import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../support/k8s.ts';

/** Build dist/spark8t the way `npm run build:spark8t` does, in a process of its own, into `outDir`. */
async function buildInProcess(outDir: string): Promise<string> {
  const script = `import { buildSpark8t } from ${JSON.stringify(join(ROOT, 'src/spark8t/build/build.ts'))}; await buildSpark8t({ outDir: ${JSON.stringify(outDir)} });`;
  await execa(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT });
  return createHash('sha256')
    .update(readFileSync(join(outDir, 'spark8t')))
    .digest('hex');
}

describe('dist/spark8t is reproducible', () => {
  it('two builds by different processes, into different folders, at different times, are identical and leave no temporaries', async () => {
    const a = mkdtempSync(join(tmpdir(), 'repro-a-'));
    const b = mkdtempSync(join(tmpdir(), 'repro-b-'));
    try {
      const first = await buildInProcess(a);
      await new Promise((r) => setTimeout(r, 1100)); // a different second for anything that reads the clock
      const second = await buildInProcess(b);
      expect(second).toBe(first);
      for (const d of [a, b]) expect(readdirSync(d).filter((n) => n.startsWith('.'))).toEqual([]);
    } finally {
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
  }, 300_000);
});
