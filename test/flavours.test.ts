/**
 * The flavours as data: matrix → resolved names, manifests and files (pure), the lock's pins and
 * the scripts they ship. The stage of a flavour's own inputs (real downloads) is test/flavour-stage.test.ts.
 */
import { stagedJarName } from '../src/stage/stage.ts';
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadMatrix, resolveLine, validateMatrix } from '../src/config/matrix.ts';
import { exactShim, shimOverride } from '../src/flavours/gpu.ts';
import { ARCHITECTURES } from '../src/lib/arch.ts';
import { flavourContext, flavourOf } from '../src/flavours/index.ts';
import type { ResolvedLine } from '../src/config/types.ts';
import { check, loadTemplates, render, renderLine } from '../src/render/render.ts';
import { UserError } from '../src/lib/errors.ts';
import { lockedFlavourInputs, plannedFlavourInputs, readLock } from '../src/stage/lock.ts';
import { licenseOf, resolveCommand, wheelsOfReport } from '../src/lib/tools/pip.ts';
import { planRock } from '../src/pack/rock.ts';
import { workspace } from '../src/lib/workspace.ts';
import { decideRockPlan, formatRockPlan } from '../src/publish/registry.ts';
import { resolveOutputs } from '../src/publish/publish.ts';
import { ROOT } from './support/k8s.ts';

const matrix = loadMatrix();
const templates = loadTemplates();
const line = matrix.lines.find((l) => l.track === '3.5')!;
/** What the cell's flavour module gives its templates. */
const ext = (r: ResolvedLine) => flavourContext(r);

describe('flavours in the matrix', () => {
  it('gpu and jupyter are layered over the Spark rock with their own version in the immutable tag', () => {
    const gpu = resolveLine(matrix, { line: '3.5', flavour: 'gpu' });
    expect(gpu.flavourVersion).toBe('25.04.0');
    expect(gpu.image.tags).toEqual(['3.5.9-25.04.0-22.04_edge', '3.5-22.04_edge']);
    expect(gpu.image.ref).toBe('ghcr.io/canonical/charmed-spark-gpu:3.5-22.04_edge');
    expect(gpu.paths.rock).toMatch(/^dist\/charmed-spark-gpu_3\.5\.9-25\.04\.0_\w+\.rock$/);
    expect(gpu.base!.image.name).toBe('charmed-spark');
    const jl = resolveLine(matrix, { line: '3.5', flavour: 'jupyter', risk: 'stable' });
    expect(jl.image.tags).toEqual(['3.5.9-4.6.6-22.04_stable', '3.5-22.04_stable', '3.5-22.04']);
    expect(jl.base!.risk).toBe('stable');
  });
  it('refuses a layered flavour over a missing or layered flavour, and an unavailable one without a reason', () => {
    const raw = parse(readFileSync(join(ROOT, 'matrix.yaml'), 'utf8'));
    raw.flavours.gpu.over = 'nope';
    raw.flavours.jupyter.over = 'gpu';
    delete raw.flavours.kyuubi.reason;
    delete raw.flavours.jupyter.wheelPython;
    let msg = '';
    try {
      validateMatrix(raw, 'm.yaml');
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toContain('m.yaml: flavours.gpu.over must name another flavour');
    expect(msg).toContain('m.yaml: flavours.jupyter.over names gpu, which is itself layered over another flavour');
    expect(msg).toContain('m.yaml: flavours.kyuubi.reason must say why the flavour is unavailable');
    expect(msg).toContain('m.yaml: flavours.jupyter.wheelPython must be "3.N"');
  });
  it("gpu's module refuses a line without its shim or with more than its one jar, naming the key, before any step", async () => {
    const raw = parse(readFileSync(join(ROOT, 'matrix.yaml'), 'utf8'));
    delete raw.flavours.gpu.lines['3.5'].settings.shim;
    raw.flavours.gpu.lines['3.4'].jars.push({ ...raw.flavours.gpu.lines['3.4'].jars[0], version: '24.12.0' });
    raw.flavours.gpu.lines['4.1'].settings.shims = 'spark413';
    const m = validateMatrix(raw, 'm.yaml');
    await expect(flavourOf(resolveLine(m, { line: '3.5', flavour: 'gpu' }))).rejects.toThrow(/flavours\.gpu\.lines\.3\.5\.settings\.shim must name/);
    await expect(flavourOf(resolveLine(m, { line: '3.4', flavour: 'gpu' }))).rejects.toThrow(
      /flavours\.gpu\.lines\.3\.4\.jars must name the one RAPIDS jar of the line \(it has 2\)/,
    );
    await expect(flavourOf(resolveLine(m, { line: '4.1', flavour: 'gpu' }))).rejects.toThrow(/flavours\.gpu\.lines\.4\.1\.settings\.shims is not a known key/);
  });
  it('an unavailable flavour (kyuubi) resolves, but rendering it is refused with its reason, and nothing is written', async () => {
    expect(matrix.flavours.kyuubi!.available).toBe(false);
    expect(matrix.flavours.kyuubi!.reason).toMatch(/kyuubi/i);
    const r = resolveLine(matrix, { line: line.track, flavour: 'kyuubi' });
    const root = mkdtempSync(join(tmpdir(), 'kyuubi-'));
    const e = await render(r, workspace(root), { templates }).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(UserError);
    expect(e).toMatchObject({ code: 'E_FLAVOUR', message: `flavour kyuubi cannot be built yet: ${matrix.flavours.kyuubi!.reason}` });
    expect(readdirSync(root)).toEqual([]);
  });
});

describe('publishing a flavour (plan, pure)', () => {
  const D = `sha256:${'a'.repeat(64)}`;
  it('publish rock --flavour gpu|jupyter plans the flavour image under its tags, the immutable one with its own version', () => {
    for (const [flavour, image, immutable] of [
      ['gpu', 'charmed-spark-gpu', '3.5.9-25.04.0-22.04_edge'],
      ['jupyter', 'charmed-spark-jupyterlab', '3.5.9-4.6.6-22.04_edge'],
    ] as const) {
      const r = resolveLine(matrix, { line: '3.5', flavour });
      const plan = decideRockPlan({
        resolved: r,
        registry: 'ghcr.io/canonical',
        artifact: { file: r.paths.rock, digest: D },
        existing: { '3.5-22.04_edge': D.replace(/a/g, 'b') },
        force: false,
        credentials: 'GITHUB_TOKEN',
      });
      expect(plan.tags.map((t) => [t.ref, t.kind])).toEqual([
        [`ghcr.io/canonical/${image}:${immutable}`, 'immutable'],
        [`ghcr.io/canonical/${image}:3.5-22.04_edge`, 'moving'],
      ]);
      expect(JSON.parse(JSON.stringify(plan))).toEqual(plan);
      expect(formatRockPlan(plan)).toContain(`publish rock ${image} (line 3.5, flavour ${flavour}, risk edge)`);
    }
  });
  it("publish resolve lists the line's available flavours and those layered over the rock", () => {
    const o = resolveOutputs(resolveLine(matrix, { line: '3.5', flavour: 'gpu' }), matrix);
    expect(JSON.parse(o.flavours!)).toEqual(['spark', 'gpu', 'jupyter']);
    expect(JSON.parse(o.layered!)).toEqual(['gpu', 'jupyter']);
    expect(o.over).toBe('spark');
    expect(resolveOutputs(resolveLine(matrix, { line: '3.4' }), matrix).flavours).toBe('["spark","gpu"]');
    expect(resolveOutputs(resolveLine(matrix, { line: '4.1', flavour: 'gpu' }), matrix).layered).toBe('["gpu"]');
  });
});

describe('flavour manifests (pure)', () => {
  it('gpu: the jar and config parts, no services of its own, the plugin in the defaults', async () => {
    const g = resolveLine(matrix, { line: '3.5', flavour: 'gpu' });
    const files = renderLine(g, templates, await ext(g));
    expect(files.map((f) => f.path).sort()).toEqual([
      'files/rock/etc/spark8t/conf/spark-defaults.conf',
      'files/rock/opt/getGpusResources.sh',
      'rockcraft.yaml',
    ]);
    const m = parse(files[0]!.content);
    expect(m.name).toBe('charmed-spark-gpu');
    expect(m.version).toBe('3.5.9-25.04.0');
    expect(m.services).toBeUndefined();
    const p = planRock(m);
    expect(p.parts.map((x) => [x.name, x.source, x.prefix])).toEqual([
      ['rapids', 'inputs/jars', 'opt/spark/jars'],
      ['gpu-config', 'files/rock', ''],
    ]);
    const d = files.find((f) => f.path.endsWith('spark-defaults.conf'))!.content;
    expect(d).toContain('spark.kubernetes.container.image=ghcr.io/canonical/charmed-spark-gpu:3.5-22.04_edge\n');
    expect(d).toContain('spark.plugins=com.nvidia.spark.SQLPlugin\n');
    expect(d).toContain('spark.rapids.shims-provider-override=com.nvidia.spark.rapids.shims.spark355.SparkShimServiceProvider\n');
    // Resource settings without an amount make Spark refuse to start: left to the job.
    expect(d).not.toMatch(/^spark\.(executor|driver)\.resource\./m);
    // The base's defaults come first, unchanged apart from the image.
    expect(d).toContain('spark.scheduler.listenerbus.logSlowEvent=false\n');
  });
  it("gpu on every line: the jar built for the line's Scala; the shim override only where the jar lacks the line's own Spark", async () => {
    const want: Record<string, [string, string, string | undefined]> = {
      '3.4': ['3.4.4-25.04.0', 'rapids-4-spark_2.12', undefined], // spark344/ is in the jar
      '3.5': ['3.5.9-25.04.0', 'rapids-4-spark_2.12', 'spark355'], // newest 3.5 shim of 25.04.0
      '4.1': ['4.1.4-26.08.1', 'rapids-4-spark_2.13', 'spark413'], // newest 4.1 shim of 26.08.1
    };
    for (const [track, [version, artifact, shim]] of Object.entries(want)) {
      const r = resolveLine(matrix, { line: track, flavour: 'gpu' });
      expect(r.version).toBe(version);
      expect(r.inputs.jars.map((j) => j.artifact)).toEqual([artifact]);
      expect(artifact.endsWith(`_${r.line.scala}`)).toBe(true);
      const d = renderLine(r, templates, await ext(r)).find((f) => f.path.endsWith('spark-defaults.conf'))!.content;
      expect(d).toContain('spark.plugins=com.nvidia.spark.SQLPlugin\n');
      expect(d).toContain(`spark.kubernetes.container.image=ghcr.io/canonical/charmed-spark-gpu:${track}-${r.line.rock.base.slice(-5)}_edge\n`);
      const override = d.match(/^spark\.rapids\.shims-provider-override=(.*)$/m)?.[1];
      expect(override).toBe(shim && `com.nvidia.spark.rapids.shims.${shim}.SparkShimServiceProvider`);
      expect(shimOverride(r.line.spark, r.inputs.settings.shim)).toBe(override);
    }
    expect(exactShim('3.4.4')).toBe('spark344');
    expect(exactShim('4.1.10')).toBe('spark4110');
    expect(shimOverride('3.5.5', 'spark355')).toBeUndefined();
    expect(shimOverride('3.5.9', undefined)).toBeUndefined();
  });
  it('jupyter: entrypoint service jupyter, sparkd disabled, wheels installed offline with pip', () => {
    const files = renderLine(resolveLine(matrix, { line: '3.5', flavour: 'jupyter' }), templates);
    const m = parse(files[0]!.content);
    expect(m['entrypoint-service']).toBe('jupyter');
    expect(m.services.jupyter).toMatchObject({ startup: 'enabled', command: '/bin/bash /opt/pebble/jupyterlab-server.sh [ ]' });
    expect(m.services.sparkd).toMatchObject({ override: 'merge', startup: 'disabled' });
    const build = m.parts.jupyterlab['override-build'] as string;
    expect(build).toContain('--no-index');
    expect(build).toContain('"jupyterlab==4.6.6"');
    expect(planRock(m).entrypoint).toEqual(['/usr/bin/pebble', 'enter', '--verbose', '--args', 'jupyter']);
  });
  it('the committed flavour manifests are current, and a stale one is named by render --check', async () => {
    expect(await check()).toEqual([]);
    const root = mkdtempSync(join(tmpdir(), 'flcheck-'));
    for (const f of ['matrix.yaml', 'sparkcraft.lock.json', 'rockcraft.yaml', 'snap', 'templates', 'flavours'])
      cpSync(join(ROOT, f), join(root, f), { recursive: true });
    writeFileSync(join(root, 'flavours/gpu/rockcraft.yaml'), readFileSync(join(root, 'flavours/gpu/rockcraft.yaml'), 'utf8').replace('25.04.0', '25.02.0'));
    expect(await check({}, workspace(root))).toEqual(['flavours/gpu/rockcraft.yaml']);
  });
});

describe('the jupyter service script', () => {
  const files = renderLine(resolveLine(matrix, { line: '3.5', flavour: 'jupyter' }), templates);
  const dir = mkdtempSync(join(tmpdir(), 'jl-'));
  const script = join(dir, 'jupyterlab-server.sh');
  writeFileSync(script, files.find((f) => f.path.endsWith('jupyterlab-server.sh'))!.content);
  chmodSync(script, 0o755);
  // A fake spark-client.pyspark prints what it was given.
  mkdirSync(join(dir, 'bin'));
  writeFileSync(
    join(dir, 'bin/spark-client.pyspark'),
    '#!/bin/bash\necho "DRIVER=$PYSPARK_DRIVER_PYTHON"\necho "OPTS=$PYSPARK_DRIVER_PYTHON_OPTS"\necho "TOKEN_SET=${JUPYTER_TOKEN:+yes}"\nprintf "ARG=%s\\n" "$@"\n',
  );
  chmodSync(join(dir, 'bin/spark-client.pyspark'), 0o755);
  const env = (e: Record<string, string>) => ({ PATH: `${join(dir, 'bin')}:/usr/bin:/bin`, SPARK_USER_DATA: dir, ...e });
  it('runs pyspark with JupyterLab as the driver; port and base URL from the environment; the token only in the environment', async () => {
    const r = await execa('bash', [script, '--master', 'local[2]', '--conf', 'a=b c'], {
      env: env({ JUPYTER_TOKEN: 's3cr3t-token', JUPYTER_PORT: '9999', JUPYTER_BASE_URL: '/user/x/' }),
      extendEnv: false,
    });
    expect(r.stdout).toContain('DRIVER=jupyter');
    expect(r.stdout).toContain(`OPTS=lab --no-browser --ip=0.0.0.0 --port=9999 --ServerApp.base_url=/user/x/ --ServerApp.root_dir=${dir}/notebook`);
    expect(r.stdout).toContain('TOKEN_SET=yes');
    expect(r.stdout.split('\n').filter((l) => l.startsWith('ARG='))).toEqual(['ARG=--master', 'ARG=local[2]', 'ARG=--conf', 'ARG=a=b c']);
    expect(`${r.stdout}${r.stderr}`.replace('TOKEN_SET=yes', '')).not.toContain('s3cr3t-token');
  });
  it("uses Kubeflow's NB_PREFIX as the base URL when no JUPYTER_BASE_URL is given", async () => {
    const r = await execa('bash', [script], { env: env({ JUPYTER_TOKEN: '', NB_PREFIX: '/notebook/ns/nb' }), extendEnv: false });
    expect(r.stdout).toContain('--port=8888 --ServerApp.base_url=/notebook/ns/nb ');
  });
  it('refuses an unset token, a bad port or base URL with one line and status 2', async () => {
    for (const [e, msg] of [
      [{}, 'jupyter: JUPYTER_TOKEN is not set'],
      [{ JUPYTER_TOKEN: 'x', JUPYTER_PORT: '88a' }, "JUPYTER_PORT must be a port number, got '88a'"],
      [{ JUPYTER_TOKEN: 'x', JUPYTER_BASE_URL: 'lab' }, "JUPYTER_BASE_URL must start with /, got 'lab'"],
      [{ JUPYTER_TOKEN: 'x', JUPYTER_BASE_URL: '/a b' }, 'JUPYTER_BASE_URL may hold only'],
    ] as Array<[Record<string, string>, string]>) {
      const r = await execa('bash', [script], { env: env(e), extendEnv: false, reject: false });
      expect(r.exitCode).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(msg);
      expect(r.stdout).toBe('');
    }
  });
});

describe("the lock pins each flavour's inputs", () => {
  const lock = readLock();
  it('gpu: the RAPIDS jar of the line with its sha256', () => {
    const [jar, ...rest] = lockedFlavourInputs(line, matrix.flavours.gpu!, lock, 'amd64');
    expect(rest).toEqual([]);
    expect(jar).toMatchObject({
      id: 'maven:com.nvidia:rapids-4-spark_2.12@25.04.0',
      url: 'https://repo1.maven.org/maven2/com/nvidia/rapids-4-spark_2.12/25.04.0/rapids-4-spark_2.12-25.04.0.jar',
    });
    expect(jar!.sha256).toMatch(/^[0-9a-f]{64}$/);
  });
  it("gpu on 3.4 and 4.1: the lock pins the jar each line names (3.4 shares 3.5's)", () => {
    const of = (track: string) =>
      lockedFlavourInputs(matrix.lines.find((l) => l.track === track)!, matrix.flavours.gpu!, lock, 'amd64').map((i) => [i.id, i.url]);
    expect(of('3.4')).toEqual(of('3.5'));
    expect(of('4.1')).toEqual([
      ['maven:com.nvidia:rapids-4-spark_2.13@26.08.1', 'https://repo1.maven.org/maven2/com/nvidia/rapids-4-spark_2.13/26.08.1/rapids-4-spark_2.13-26.08.1.jar'],
    ]);
    expect(lock.inputs['maven:com.nvidia:rapids-4-spark_2.13@26.08.1']!.sha256).toBe('d5224e1c07bc881e93829ea341b33a9a7896d1ced7783262b62d027a1e48b1f9');
  });
  it('jupyter: the whole closure as exact wheels, jupyterlab among them, every one with a sha256 and a wheel URL', () => {
    const wheels = lockedFlavourInputs(line, matrix.flavours.jupyter!, lock, 'amd64');
    expect(wheels.length).toBeGreaterThan(50);
    expect(wheels.map((w) => w.id)).toContain('wheel:jupyterlab@4.6.6');
    for (const w of wheels) {
      expect(w.kind).toBe('wheel');
      expect(w.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(w.url).toMatch(/^https:\/\/files\.pythonhosted\.org\/.+\.whl$/);
    }
    for (const dep of ['jupyter-server', 'ipykernel', 'tornado', 'pyzmq']) expect(wheels.some((w) => w.name === dep)).toBe(true);
    // Compiled wheels are for the image's CPython 3.11 on glibc x86_64.
    const zmq = wheels.find((w) => w.name === 'pyzmq')!;
    expect(zmq.url).toMatch(/cp311|abi3/);
    expect(zmq.url).toMatch(/manylinux.*x86_64/);
  });
  it("a lock without the flavour's pins is refused, naming what is missing", () => {
    const stale = { ...lock, flavours: {} };
    expect(() => lockedFlavourInputs(line, matrix.flavours.jupyter!, stale, 'amd64')).toThrow(
      /does not pin wheel:jupyterlab@4\.6\.6 \(flavours\["3\.5\/jupyter\/amd64"\]\).*/,
    );
    expect(plannedFlavourInputs(line, matrix.flavours.gpu!, 'amd64').map((i) => i.id)).toEqual(['maven:com.nvidia:rapids-4-spark_2.12@25.04.0']);
    // arm64: RAPIDS' AArch64 build is another file of the same version (its classifier), another id and URL
    const arm = plannedFlavourInputs(line, matrix.flavours.gpu!, 'arm64');
    expect(arm.map((i) => [i.id, i.url])).toEqual([
      [
        'maven:com.nvidia:rapids-4-spark_2.12@25.04.0+cuda12-arm64',
        'https://repo1.maven.org/maven2/com/nvidia/rapids-4-spark_2.12/25.04.0/rapids-4-spark_2.12-25.04.0-cuda12-arm64.jar',
      ],
    ]);
    // staged under Maven's own file name, the classifier included
    const staged = (i: (typeof arm)[number]) => stagedJarName({ ...i, url: i.url!, sha256: 'a'.repeat(64) });
    expect(staged(arm[0]!)).toBe('rapids-4-spark_2.12-25.04.0-cuda12-arm64.jar');
    expect(staged(plannedFlavourInputs(line, matrix.flavours.gpu!, 'amd64')[0]!)).toBe('rapids-4-spark_2.12-25.04.0.jar');
  });
  it('pip: the resolving command and report parsing (pure)', () => {
    const [cli, args] = resolveCommand(['jupyterlab==4.6.6'], '3.11', '/r.json', '/t', ARCHITECTURES.arm64!.pip);
    expect(cli).toBe('/usr/bin/python3');
    expect(args).toEqual(
      expect.arrayContaining(['--dry-run', '--only-binary=:all:', '--python-version', '3.11', '--abi', 'cp311', '--report', '/r.json', 'jupyterlab==4.6.6']),
    );
    // The platforms asked for are the cell's architecture's, and only those.
    const platforms = args.flatMap((a, i) => (args[i - 1] === '--platform' ? [a] : []));
    expect(platforms).toEqual(ARCHITECTURES.arm64!.pip);
    expect(platforms.every((p) => /aarch64|^any$/.test(p))).toBe(true);
    expect(licenseOf({ license: 'BSD 3-Clause License\n\nCopyright...', classifier: ['License :: OSI Approved :: BSD License'] })).toBe('LicenseRef-BSD');
    expect(licenseOf({ license_expression: 'MIT' })).toBe('MIT');
    expect(licenseOf({ license: 'Apache-2.0' })).toBe('Apache-2.0');
    expect(licenseOf({})).toBe('NOASSERTION');
    expect(() => wheelsOfReport({ install: [{ metadata: { name: 'x', version: '1' }, download_info: { url: 'https://h/x-1.tar.gz' } }] })).toThrow(
      /without a wheel sha256/,
    );
  });
});
