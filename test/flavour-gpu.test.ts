/**
 * The gpu flavour built for real over the Spark rock: its image is the base's layers byte for byte
 * plus its own; a change of its own input rebuilds only its layers; under podman (no GPU here) Spark
 * starts with the RAPIDS plugin on the classpath and runs SQL on the CPU with the plugin's planner
 * in explainOnly mode; the jar is the one the lock pins, with the shim the line runs with.
 *
 * The default line; another with SPARKCRAFT_LINE (3.4, 4.1 offer gpu too):
 *   SPARKCRAFT_LINE=4.1 npx vitest run test/flavour-gpu.test.ts
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Packed } from '../src/pack/pack.ts';
import { build } from '../src/pipeline.ts';
import { buildFlavourRock, buildRock, gitRevision } from '../src/pack/rock.ts';
import { loadMatrix, resolveLine } from '../src/config/matrix.ts';
import { exactShim, shimOverride } from '../src/flavours/gpu.ts';
import { readLock } from '../src/stage/lock.ts';
import { RockRunner } from '../src/smoke/runner.ts';
import { workspace } from '../src/lib/workspace.ts';
import { ROOT } from './support/k8s.ts';

const m = loadMatrix();
const track = process.env.SPARKCRAFT_LINE || m.defaultLine;
const r = resolveLine(m, { line: track, flavour: 'gpu' });
const rapids = { ...r.inputs.jars[0]!, shim: r.inputs.settings.shim! };
const jarName = `${rapids.artifact}-${rapids.version}.jar`;
const jarPath = `/opt/spark/jars/${jarName}`;
const jarId = `maven:${rapids.group}:${rapids.artifact}@${rapids.version}`;
const override = shimOverride(r.line.spark, rapids.shim);
let base: Packed;
let gpu: Packed;
let rock: RockRunner;

const manifestOf = async (archive: string) =>
  JSON.parse((await execa('skopeo', ['inspect', '--raw', `oci-archive:${archive}`])).stdout) as { layers: Array<{ digest: string; size: number }> };
const configOf = async (archive: string) =>
  JSON.parse((await execa('skopeo', ['inspect', '--config', `oci-archive:${archive}`])).stdout) as {
    config: { Env: string[]; Entrypoint: string[]; Labels: Record<string, string>; User: string };
  };

beforeAll(async () => {
  base = await build('rock', { line: track, backend: 'builtin' });
  gpu = await build('rock', { line: track, flavour: 'gpu', backend: 'builtin' });
  rock = await RockRunner.load(gpu.artifact, `${r.image.name}:flavour-test`);
}, 2_400_000);

describe(`the gpu flavour of Spark ${r.line.spark} is the Spark rock plus its own layers`, () => {
  it("its manifest lists the base's layers first, digest for digest and size for size (skopeo), then its two", async () => {
    const b = await manifestOf(base.artifact);
    const g = await manifestOf(gpu.artifact);
    expect(g.layers.slice(0, b.layers.length)).toEqual(b.layers);
    expect(g.layers).toHaveLength(b.layers.length + 2);
    expect(gpu.layers!.slice(b.layers.length).map((l) => l.comment)).toEqual(['part rapids', 'part gpu-config']);
  });
  it("config: the base's user and entrypoint, its environment plus the flavour's, its version and base digest as labels", async () => {
    const b = await configOf(base.artifact);
    const g = await configOf(gpu.artifact);
    expect(g.config.User).toBe(b.config.User);
    expect(g.config.Entrypoint).toEqual(['/usr/bin/pebble', 'enter', '--verbose', '--args', 'sparkd']);
    expect(g.config.Env).toContain('SPARK_HOME=/opt/spark');
    expect(g.config.Env).toContain('LD_LIBRARY_PATH=/usr/local/nvidia/lib:/usr/local/nvidia/lib64');
    expect(g.config.Env.find((e) => e.startsWith('PATH='))).toMatch(/:\/usr\/local\/nvidia\/bin:/);
    expect(g.config.Labels['org.opencontainers.image.version']).toBe(`${r.line.spark}-${rapids.version}`);
    expect(g.config.Labels['org.opencontainers.image.title']).toBe('charmed-spark-gpu');
    expect(g.config.Labels['org.opencontainers.image.base.digest']).toBe(base.manifestDigest);
  });
  it('an unchanged rebuild reuses every layer and the archive', async () => {
    const again = await build('rock', { line: track, flavour: 'gpu', backend: 'builtin' });
    expect(again.reused).toBe(true);
    expect(again.layers!.every((l) => l.cached)).toBe(true);
    expect(again.manifestDigest).toBe(gpu.manifestDigest);
  }, 600_000);
  it("a change of the flavour's own input rebuilds only its layer; the base's stay as they are", async () => {
    const work = mkdtempSync(join(tmpdir(), 'gpu-changed-'));
    const dir = join(work, 'gpu');
    await execa('cp', ['-al', join(ROOT, r.paths.build), dir]);
    const script = join(dir, 'files/rock/opt/getGpusResources.sh');
    const text = readFileSync(script, 'utf8');
    await execa('rm', [script]); // a hard link: write a new file, not through the link
    writeFileSync(script, `${text}# changed ${process.pid} ${Date.now()}\n`, { mode: 0o755 });
    try {
      const ws = workspace();
      // The pack step's cell (architecture, Java, Debian suite: in every layer's key). Without it the
      // base was built for another cell (Java unset): cached only where an earlier run had made
      // that one too, so on a fresh machine (CI) every base layer was "rebuilt".
      const cell = { arch: r.arch, java: r.java, suite: r.debianSuite };
      const meta = { ...(await gitRevision(ROOT, ws.sourceDateEpoch)), source: m.project.source, ...cell };
      const b = await buildRock(ws, join(ROOT, r.base!.paths.build), join(ROOT, r.base!.paths.rock), meta);
      const f = await buildFlavourRock(ws, b, dir, join(work, 'changed.rock'), meta);
      expect(f.layers.filter((l) => !l.cached).map((l) => l.comment)).toEqual(['part gpu-config']);
      const changed = f.layers.map((l, i) => (l.digest === gpu.layers![i]!.digest ? null : l.comment)).filter(Boolean);
      expect(changed).toEqual(['part gpu-config']);
    } finally {
      await execa('rm', ['-rf', work]);
    }
  }, 900_000);
});

describe(`the gpu flavour of Spark ${r.line.spark} runs without a GPU (podman, local mode)`, () => {
  const sh = (script: string, timeout = 600_000) => rock.run(['-c', script], { entrypoint: '/bin/bash', timeout });
  it('the plugin jar is the one the lock pins, it carries the shim the line runs with, and the defaults enable it', async () => {
    const want = readLock().inputs[jarId]!.sha256;
    const py = [
      'import zipfile, re',
      `z = zipfile.ZipFile("${jarPath}")`,
      'print([l for l in z.read("rapids4spark-version-info.properties").decode().splitlines() if l.startswith("version=")][0])',
      'print("SHIMS", " ".join(sorted({n.split("/")[0] for n in z.namelist() if re.match(r"spark[0-9]{3}[a-z0-9]*/", n)})))',
    ].join('\n');
    const res = await sh(
      `sha256sum /opt/spark/jars/rapids-4-spark_*.jar; python3 -c '${py}'; grep -E "^spark\\.(plugins|rapids)" /etc/spark8t/conf/spark-defaults.conf`,
    );
    expect(res.exitCode, res.stderr).toBe(0);
    const lines = res.stdout.trim().split('\n');
    expect(lines[0]).toBe(`${want}  ${jarPath}`);
    expect(lines[1]).toBe(`version=${rapids.version}`);
    const shims = lines[2]!.replace(/^SHIMS /, '').split(' ');
    expect(shims).toContain(rapids.shim);
    // The override is set exactly when the jar has no shim for this Spark (the plugin would refuse it).
    expect(shims.includes(exactShim(r.line.spark))).toBe(override === undefined);
    console.log(`${jarName}: shims ${shims.join(' ')}; runs with ${rapids.shim} on Spark ${r.line.spark}`);
    expect(lines.slice(3)).toEqual(['spark.plugins=com.nvidia.spark.SQLPlugin', ...(override ? [`spark.rapids.shims-provider-override=${override}`] : [])]);
  });
  it('the discovery script: one clear error without nvidia-smi; the JSON Spark reads with one', async () => {
    const none = await sh('/opt/getGpusResources.sh');
    expect(none.exitCode).toBe(1);
    expect(none.stderr.trim()).toMatch(/^getGpusResources\.sh: nvidia-smi is not on PATH/);
    const fake = await sh(
      'mkdir -p /tmp/fake && printf \'#!/bin/sh\\n[ "$1 $2" = "--query-gpu=index --format=csv,noheader" ] || exit 9\\necho 0\\necho 1\\n\' > /tmp/fake/nvidia-smi && chmod +x /tmp/fake/nvidia-smi && PATH=/tmp/fake:$PATH /opt/getGpusResources.sh',
    );
    expect(fake.exitCode, fake.stderr).toBe(0);
    expect(JSON.parse(fake.stdout)).toEqual({ name: 'gpu', addresses: ['0', '1'] });
  });
  it("Spark runs SQL on the CPU with the plugin's planner loaded: spark.rapids.sql.enabled=false, then explainOnly", async () => {
    // spark.plugins also starts the executor plugin, which needs CUDA (next test); the plugin's
    // planner alone (its SQLExecPlugin extension) is what runs on a machine without a GPU.
    const res = await sh(
      [
        "cd /tmp && cat > q.py <<'EOF'",
        'from pyspark.sql import SparkSession',
        's = SparkSession.builder.getOrCreate()',
        'q = "SELECT count(*) AS n, sum(id) AS t FROM range(1000) WHERE id % 2 = 0"',
        'print("CLASS", s.sparkContext._jvm.java.lang.Class.forName("com.nvidia.spark.SQLPlugin").getName())',
        'print("DISABLED", s.conf.get("spark.rapids.sql.enabled"), s.sql(q).collect()[0].asDict(), flush=True)',
        's.conf.set("spark.rapids.sql.enabled", "true")',
        's.conf.set("spark.rapids.sql.mode", "explainOnly")',
        's.conf.set("spark.rapids.sql.explain", "ALL")',
        'print("EXPLAINONLY", s.sql(q).collect()[0].asDict(), flush=True)',
        // A struct (CreateNamedStruct: the one class the 4.1.3 shim changed from 4.1.2's) and a join, planned by the shim.
        'print("STRUCT", [r.s.asDict() for r in s.sql("SELECT named_struct(\'a\', id, \'b\', id * 2) AS s FROM range(3)").collect()], flush=True)',
        'print("JOIN", s.sql("SELECT count(*) AS n FROM range(100) a JOIN range(50) b ON a.id = b.id").collect()[0].asDict(), flush=True)',
        's.stop()',
        'EOF',
        'spark-submit --master "local[2]" --conf spark.plugins= --conf spark.sql.extensions=com.nvidia.spark.rapids.SQLExecPlugin \\',
        '  --conf spark.rapids.sql.enabled=false --conf spark.ui.enabled=false q.py',
      ].join('\n'),
      900_000,
    );
    expect(res.exitCode, res.stderr.slice(-2000)).toBe(0);
    expect(res.stdout).toContain('CLASS com.nvidia.spark.SQLPlugin');
    expect(res.stdout).toContain("DISABLED false {'n': 500, 't': 249500}");
    expect(res.stdout).toContain("EXPLAINONLY {'n': 500, 't': 249500}");
    expect(res.stdout).toContain("STRUCT [{'a': 0, 'b': 0}, {'a': 1, 'b': 2}, {'a': 2, 'b': 4}]");
    expect(res.stdout).toContain("JOIN {'n': 50}");
    // The plugin's planner saw the second query (explainOnly tells what would run on a GPU), not the first.
    const [before, after] = (res.stdout + res.stderr).split('DISABLED false');
    expect(after).toMatch(/\*Exec <HashAggregateExec> will run on GPU/);
    expect(after).toMatch(/\*Expression <CreateNamedStruct> named_struct\(.*\) will run on GPU/);
    expect(after).toMatch(/Exec <\w+JoinExec> will run on GPU/);
    expect(before).not.toMatch(/will run on GPU/);
  }, 900_000);
  it("with the image's defaults as they are (spark.plugins set) the driver plugin starts and reports the RAPIDS version; the executor plugin then needs CUDA", async () => {
    const res = await sh(
      'printf "from pyspark.sql import SparkSession\\nSparkSession.builder.getOrCreate().stop()\\n" > /tmp/start.py && cd /tmp && timeout 240 spark-submit --master "local[1]" --conf spark.rapids.sql.enabled=false --conf spark.ui.enabled=false /tmp/start.py',
      600_000,
    );
    const out = res.stdout + res.stderr;
    expect(out).toMatch(new RegExp(`RAPIDS Accelerator ${rapids.version.replace(/\./g, '\\.')} using cudf \\d+\\.\\d+\\.\\d+`));
    expect(out).toContain('RAPIDS Accelerator is disabled, to enable GPU support set `spark.rapids.sql.enabled` to true.');
    if (override) expect(out).toContain(`Overriding Spark shims provider to ${override}`);
    else expect(out).not.toContain('Overriding Spark shims provider');
    // The shim the plugin loaded for this Spark (its own on 3.4, the override's elsewhere).
    expect(out).toMatch(new RegExp(`Loading shim for Spark version: ${r.line.spark.replace(/\./g, '\\.')}`));
    // What a machine without an NVIDIA driver answers (recorded here, not hidden).
    expect(out).toMatch(/cudaErrorInsufficientDriver|CUDA driver version is insufficient|nvidia-smi/);
  }, 600_000);
  it('without the override the plugin refuses this Spark by its version exactly when the matrix sets one (the override is needed, or not)', async () => {
    const res = await sh(
      [
        'mkdir -p /tmp/conf && grep -v "^spark.rapids.shims-provider-override=" /etc/spark8t/conf/spark-defaults.conf > /tmp/conf/spark-defaults.conf',
        'printf "from pyspark.sql import SparkSession\\nSparkSession.builder.getOrCreate().stop()\\n" > /tmp/start.py && cd /tmp',
        'SPARK_CONF_DIR=/tmp/conf timeout 240 spark-submit --master "local[1]" --conf spark.rapids.sql.enabled=false --conf spark.ui.enabled=false /tmp/start.py',
      ].join('\n'),
      600_000,
    );
    const out = res.stdout + res.stderr;
    const refused = new RegExp(`This RAPIDS Plugin build does not support Spark build ${r.line.spark.replace(/\./g, '\\.')}`);
    expect(out).not.toContain('Overriding Spark shims provider');
    if (override) {
      expect(res.exitCode).not.toBe(0);
      expect(out).toMatch(refused);
    } else {
      expect(out).not.toMatch(refused);
      expect(out).toMatch(new RegExp(`Loading shim for Spark version: ${r.line.spark.replace(/\./g, '\\.')}`));
    }
  }, 600_000);
});
