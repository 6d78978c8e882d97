/**
 * The road (src/pipeline.ts): the steps in order, the CLI going through `runPipeline`, and a flavour
 * added as data plus templates plus a module, nothing else. Pure apart from a temporary workspace.
 */
import { describe, expect, it } from 'vitest';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { parse, stringify } from 'yaml';
import { loadMatrix, resolveLine } from '../src/config/matrix.ts';
import type { ResolvedLine } from '../src/config/types.ts';
import { flavourModules, type FlavourRegistry } from '../src/flavours/index.ts';
import { workspace } from '../src/lib/workspace.ts';
import { type Road, type RoadOptions, runPipeline, STEPS } from '../src/pipeline.ts';
import { committedFiles, loadTemplates } from '../src/render/render.ts';
import { plannedFlavourInputs } from '../src/stage/lock.ts';
import { ROOT } from './support/k8s.ts';

describe('the steps', () => {
  it('are listed in pipeline order, and each step CLI registers its commands in that order', async () => {
    expect(STEPS.map((s) => s.name)).toEqual(['render', 'stage', 'pack', 'smoke', 'publish']);
    const program = new Command('sparkcraft');
    const fake = { select: async () => ({}) as never, run: async () => ({}) as never } satisfies Road;
    for (const s of STEPS) (await s.cli()).register(program, workspace(), fake);
    // verify (a published image's signature, SBOM and provenance) is the publish step's, after publish.
    expect(program.commands.map((c) => c.name())).toEqual(['render', 'cells', 'manifest', 'stage', 'lock', 'build', 'smoke', 'publish', 'verify']);
  });

  it('`build rock` and `stage` run the road they are handed, with the cell they selected and the options asked for', async () => {
    const calls: Array<[string, unknown]> = [];
    const m = loadMatrix();
    const cell = resolveLine(m, { line: '3.4', flavour: 'gpu' });
    const packed = { kind: 'rock', backend: 'builtin', artifact: '/x.rock', digest: 'sha256:0', size: 1, seconds: 0, reused: true, image: { big: true } };
    const fake: Road = {
      select: async (sel) => {
        calls.push(['select', sel]);
        return { matrix: m, cell };
      },
      run: async (c, o: RoadOptions) => {
        calls.push(['run', { cell: c.key, ...o }]);
        return {
          cell: c,
          rendered: { dir: '/b', files: [] },
          staged: { dir: '/b', inputs: '/b/inputs', stamp: 's', skipped: true, seconds: 0 },
          packed,
        } as never;
      },
    };
    const program = new Command('sparkcraft').exitOverride();
    for (const s of STEPS.filter((x) => x.name === 'pack' || x.name === 'stage')) (await s.cli()).register(program, workspace(), fake);
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => (out.push(String(chunk)), true)) as typeof process.stdout.write;
    try {
      await program.parseAsync(['build', 'rock', '--line', '3.4', '--flavour', 'gpu', '--backend', 'builtin', '--json'], { from: 'user' });
      await program.parseAsync(['stage', '--line', '3.4', '--force'], { from: 'user' });
    } finally {
      process.stdout.write = write;
    }
    expect(calls).toEqual([
      ['select', expect.objectContaining({ line: '3.4', flavour: 'gpu', backend: 'builtin' })],
      ['run', { cell: cell.key, until: 'pack', kind: 'rock', backend: 'builtin' }],
      ['select', expect.objectContaining({ line: '3.4', force: true })],
      ['run', { cell: cell.key, until: 'stage', stage: { force: true, verify: undefined } }],
    ]);
    // --json prints the Packed without the in-memory image.
    const { image: _image, ...summary } = packed;
    expect(JSON.parse(out[0]!)).toEqual(summary);
  });
});

/**
 * A workspace whose matrix offers a fixture flavour `demo` on 3.5: a matrix entry (over spark, a jar on
 * the line, a service, its version from its jar, a setting), its templates, and its module (injected).
 */
function demoWorkspace() {
  const root = mkdtempSync(join(tmpdir(), 'road-'));
  const raw = parse(readFileSync(join(ROOT, 'matrix.yaml'), 'utf8'));
  raw.flavours.demo = {
    image: 'charmed-spark-demo',
    over: 'spark',
    summary: 'a fixture flavour',
    versionOf: 'jars',
    entrypointService: 'demo',
    services: { demo: { override: 'replace', summary: 'the demo server', command: '/bin/bash /opt/demo.sh [ ]', startup: 'enabled' } },
    lines: { '3.5': { jars: [{ group: 'org.example', artifact: 'demo-server_2.12', version: '1.2.3', license: 'Apache-2.0' }], settings: { port: '4242' } } },
  };
  raw.lines.find((l: { track: string }) => l.track === '3.5').flavours.push('demo');
  writeFileSync(join(root, 'matrix.yaml'), stringify(raw));
  cpSync(join(ROOT, 'templates'), join(root, 'templates'), { recursive: true });
  mkdirSync(join(root, 'templates/flavours/demo/rock/opt'), { recursive: true });
  writeFileSync(
    join(root, 'templates/flavours/demo/rockcraft.yaml.hbs'),
    [
      'name: {{flavour.image}}',
      'summary: {{flavour.summary}}',
      'description: demo {{ext.port}}',
      'version: "{{version}}"',
      'license: Apache-2.0',
      'base: {{line.rock.base}}',
      'platforms:',
      '{{#each architectures}}',
      '  {{this}}:',
      '{{/each}}',
      'run-user: {{project.runUser}}',
      'entrypoint-service: {{flavour.entrypointService}}',
      '{{services}}',
      'parts:',
      '  demo:',
      '    plugin: dump',
      '    source: files/rock',
      '',
    ].join('\n'),
  );
  writeFileSync(join(root, 'templates/flavours/demo/rock/opt/demo.sh.hbs'), 'exec demo --port {{ext.port}}\n');
  const seen: string[] = [];
  const registry: FlavourRegistry = async (name) =>
    name === 'demo'
      ? {
          validate: (c) => (/^\d+$/.test(c.inputs.settings.port ?? '') ? [] : [`flavours.demo.lines.${c.line.track}.settings.port must be a number`]),
          context: (c: ResolvedLine) => {
            seen.push(c.key);
            return { port: c.inputs.settings.port };
          },
        }
      : flavourModules(name);
  return { root, ws: workspace(root), registry, seen };
}

describe('a flavour is a matrix entry, its templates and its module', () => {
  it('the road renders it (its service from the matrix, its module context), the lock plans its jar, render --check covers it', async () => {
    const { ws, registry, seen } = demoWorkspace();
    const m = loadMatrix(ws.matrixFile);
    const cell = resolveLine(m, { line: '3.5', flavour: 'demo' });
    expect(cell.version).toBe(`${cell.line.spark}-1.2.3`);
    const road = await runPipeline(cell, ws, { until: 'render', flavours: registry });
    expect(seen).toEqual([cell.key]);
    expect(road.rendered.dir).toBe(join(ws.root, cell.paths.build));
    const manifest = parse(readFileSync(join(road.rendered.dir, 'rockcraft.yaml'), 'utf8'));
    expect(manifest.services).toEqual({ demo: { override: 'replace', summary: 'the demo server', command: '/bin/bash /opt/demo.sh [ ]', startup: 'enabled' } });
    expect(manifest.description).toBe('demo 4242');
    expect(readFileSync(join(road.rendered.dir, 'files/rock/opt/demo.sh'), 'utf8')).toBe('exec demo --port 4242\n');
    expect(plannedFlavourInputs(cell.line, cell.flavour, cell.arch).map((i) => i.id)).toEqual(['maven:org.example:demo-server_2.12@1.2.3']);
    const committed = await committedFiles(m, loadTemplates(ws.templates), registry);
    expect(committed.map((f) => f.path)).toContain('flavours/demo/rockcraft.yaml');
  });

  it("the module's checks refuse a cell before any step writes, naming the key", async () => {
    const { ws, registry } = demoWorkspace();
    const raw = parse(readFileSync(ws.matrixFile, 'utf8'));
    raw.flavours.demo.lines['3.5'].settings.port = 'http';
    writeFileSync(ws.matrixFile, stringify(raw));
    const cell = resolveLine(loadMatrix(ws.matrixFile), { line: '3.5', flavour: 'demo' });
    await expect(runPipeline(cell, ws, { until: 'render', flavours: registry })).rejects.toThrow(
      /flavours\.demo\.lines\.3\.5\.settings\.port must be a number/,
    );
    expect(() => readFileSync(join(ws.root, cell.paths.build, 'rockcraft.yaml'))).toThrow(/ENOENT/);
  });

  it('a layered flavour packs over its base cell: the road walks the base first (render only here: the base is not rendered for render)', async () => {
    const { ws, registry } = demoWorkspace();
    const cell = resolveLine(loadMatrix(ws.matrixFile), { line: '3.5', flavour: 'demo' });
    const road = await runPipeline(cell, ws, { until: 'render', flavours: registry });
    expect(road.base).toBeUndefined();
    expect(cell.base!.key).toBe(cell.key.replace('/demo/', '/spark/'));
  });
});
