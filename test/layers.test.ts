/**
 * The import layers of src/ (README "Layers"; the rules are in .dependency-cruiser.cjs), checked with
 * dependency-cruiser's API over the real sources. Pure: reads files, runs no tools. The second half plants a
 * back-import in a scratch copy of src/ and expects the check to name it, so the check can fail.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { cruise, type IViolation } from 'dependency-cruiser';
import { appendFileSync, cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../src/lib/paths.ts';

/**
 * Violations that are the lead's to remove (issue 21 item 1), each `from→to`. The chaining inside stage(),
 * build()/pack() and the smoke's build() calls went with runPipeline; what is left: the flavour registry takes
 * the `Kube` type from smoke/ (a flavour module's scenarios run on the node), where a lower layer should find it
 * in lib/. When one goes, delete it here (an entry that no longer matches a violation fails the test).
 */
const LEAD_PENDING: readonly string[] = [];

const CONFIG = '.dependency-cruiser.cjs';
const temps: string[] = [];
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

/** Cruise `<root>/src` with `<root>`'s config; the violations as `rule from→to` strings. */
async function violations(root: string): Promise<{ list: string[]; raw: IViolation[] }> {
  const config = createRequire(import.meta.url)(join(root, CONFIG));
  // Modules are named and resolved relative to baseDir (no process.chdir: other files run beside this one).
  const r = await cruise(['src'], { ...config.options, baseDir: root, validate: true, ruleSet: { forbidden: config.forbidden } });
  if (typeof r.output === 'string') throw new Error('dependency-cruiser returned a report string, not a result');
  const raw = r.output.summary.violations;
  return { raw, list: raw.map((v) => `${v.rule.name} ${v.from}→${v.to}`) };
}

/** src/ and the config in a fresh directory (node_modules linked, so npm imports resolve as here). */
function scratchCopy(): string {
  const scratch = mkdtempSync(join(tmpdir(), 'sparkcraft-layers-'));
  temps.push(scratch);
  cpSync(join(projectRoot, 'src'), join(scratch, 'src'), { recursive: true });
  cpSync(join(projectRoot, CONFIG), join(scratch, CONFIG));
  symlinkSync(join(projectRoot, 'node_modules'), join(scratch, 'node_modules'));
  return scratch;
}

const pending = (v: string) => LEAD_PENDING.includes(v.slice(v.indexOf(' ') + 1));

describe('import layers (dependency-cruiser over src/)', () => {
  it('src/ has no violation beyond the lead-pending list, and every pending entry is still real', async () => {
    const { list } = await violations(projectRoot);
    expect(list.filter((v) => !pending(v))).toEqual([]);
    const edges = new Set(list.map((v) => v.slice(v.indexOf(' ') + 1)));
    expect(LEAD_PENDING.filter((e) => !edges.has(e))).toEqual([]);
    // Sanity: the graph is really read (a cruise that saw no files would also report nothing).
    expect(list.length).toBe(LEAD_PENDING.length);
  });

  it('a planted back-import stage → smoke, a value import of an earlier step and a value cycle are each reported', async () => {
    const scratch = scratchCopy();
    const before = (await violations(scratch)).list;
    expect(before.filter((v) => !pending(v))).toEqual([]);

    appendFileSync(join(scratch, 'src/stage/sbom.ts'), "\nimport '../smoke/smoke.ts';\n");
    appendFileSync(join(scratch, 'src/publish/store.ts'), "\nimport { stage } from '../stage/stage.ts';\nvoid stage;\n");
    appendFileSync(join(scratch, 'src/lib/log.ts'), "\nimport '../lib/errors.ts';\n");
    appendFileSync(join(scratch, 'src/lib/errors.ts'), "\nimport '../lib/log.ts';\n");
    const { list, raw } = await violations(scratch);
    const added = list.filter((v) => !before.includes(v));
    expect(added).toContain('stage-no-later-step src/stage/sbom.ts→src/smoke/smoke.ts');
    expect(added).toContain('publish-earlier-step-types-only src/publish/store.ts→src/stage/stage.ts');
    const cycle = raw.find((v) => v.rule.name === 'no-value-cycle' && /src\/lib\/(log|errors)\.ts/.test(v.from));
    expect(cycle?.cycle?.map((c) => c.name).sort()).toEqual(['src/lib/errors.ts', 'src/lib/log.ts']);
  });

  it('a type-only import of an earlier step is allowed, of a later step refused', async () => {
    const scratch = scratchCopy();
    const before = (await violations(scratch)).list;
    appendFileSync(join(scratch, 'src/publish/store.ts'), "\nimport type { StageResult } from '../stage/stage.ts';\nexport type S = StageResult;\n");
    appendFileSync(join(scratch, 'src/render/cli.ts'), "\nimport type { Packed } from '../pack/pack.ts';\nexport type P = Packed;\n");
    const added = (await violations(scratch)).list.filter((v) => !before.includes(v));
    expect(added).toEqual(['render-no-later-step src/render/cli.ts→src/pack/pack.ts']);
  });
});
