/**
 * The pipeline table (src/pipeline.ts): steps in order, each taking the resolved line, the workspace
 * and the previous step's typed result. render → stage run for real on the default line.
 */
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { selectLine } from '../src/config/matrix.ts';
import { at, workspace } from '../src/lib/workspace.ts';
import { STEPS } from '../src/pipeline.ts';
import { ROOT } from './support/k8s.ts';

describe('the pipeline table', () => {
  it('lists the steps in pipeline order, and the CLI offers their commands in that order', async () => {
    expect(STEPS.map((s) => s.name)).toEqual(['render', 'stage', 'pack', 'smoke', 'publish']);
    const help = (await execa('node', ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), '--help'])).stdout;
    const commands = [...help.matchAll(/^ {2}(\w+)(?: \[options\])?\s/gm)].map((m) => m[1]);
    // verify (a published image's signature, SBOM and provenance) is the publish step's, after publish.
    expect(commands.filter((c) => c !== 'help')).toEqual(['render', 'stage', 'lock', 'build', 'smoke', 'publish', 'verify']);
  });

  it('render → stage: each step returns what it made, at the paths the resolver named', async () => {
    const ws = workspace();
    const { resolved: r } = selectLine(ws.matrixFile, {});
    const [render, stage] = STEPS;
    const rendered = await render.run(r, ws, undefined, {});
    expect(rendered.dir).toBe(at(ws, r.paths.build));
    expect(rendered.files).toContain('rockcraft.yaml');
    for (const f of rendered.files) expect(existsSync(join(rendered.dir, f)), f).toBe(true);
    const staged = await stage.run(r, ws, rendered, {});
    expect(staged.dir).toBe(rendered.dir);
    expect(staged.inputs).toBe(at(ws, r.paths.inputs));
    expect(readFileSync(join(staged.inputs, '.stamp'), 'utf8')).toBe(staged.stamp);
    const again = await stage.run(r, ws, rendered, {});
    expect(again).toMatchObject({ skipped: true, stamp: staged.stamp });
  }, 900_000);
});
