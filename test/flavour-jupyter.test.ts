/**
 * The jupyter flavour built for real over the Spark rock and run under podman (local mode): the
 * `jupyter` service starts JupyterLab as spark8t's pyspark driver with port, base URL and token
 * from the environment; the server API answers with the token only; a notebook executed headlessly
 * through the server's kernel (REST + websocket, src/flavours/jupyter/notebook.ts) runs Spark jobs whose
 * session carries what pyspark was given; the token shows in no log and no command line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Packed } from '../src/pack/pack.ts';
import { build } from '../src/pipeline.ts';
import { loadMatrix, resolveLine } from '../src/config/matrix.ts';
import { RockRunner } from '../src/smoke/runner.ts';
import { freePort } from '../src/smoke/checks.ts';
import { ROOT } from './support/k8s.ts';

const m = loadMatrix();
const r = resolveLine(m, { line: '3.5', flavour: 'jupyter' });
const token = randomBytes(24).toString('hex');
const name = `sparkcraft-jupyter-${process.pid}`;
const baseUrl = '/sparkcraft/lab/';
let base: Packed;
let jl: Packed;
let rock: RockRunner;
let server: string;

const call = (path: string, auth?: string, init: RequestInit = {}) =>
  fetch(`${server}${path}`, { ...init, headers: { ...(auth !== undefined ? { Authorization: `token ${auth}` } : {}), 'Content-Type': 'application/json' } });

beforeAll(async () => {
  base = await build('rock', { line: '3.5', backend: 'builtin' });
  jl = await build('rock', { line: '3.5', flavour: 'jupyter', backend: 'builtin' });
  rock = await RockRunner.load(jl.artifact, `${r.image.name}:flavour-test`);
  const port = await freePort();
  server = `http://127.0.0.1:${port}${baseUrl}`;
  await rock.start(name, {
    envs: { JUPYTER_TOKEN: token, JUPYTER_PORT: String(port), JUPYTER_BASE_URL: baseUrl },
    args: ['--master', 'local[2]', '--conf', 'spark.sparkcraft.marker=given-to-pyspark'],
  });
  const deadline = Date.now() + 300_000;
  for (;;) {
    const res = await call('api/status', token).catch(() => undefined);
    if (res?.status === 200) break;
    if (Date.now() > deadline)
      throw new Error(`JupyterLab did not answer in 300 s: ${(await rock.logs(name)).stdout.slice(-1500).split(token).join('<token>')}`);
    await new Promise((ok) => setTimeout(ok, 2000));
  }
}, 2_400_000);

afterAll(async () => {
  if (rock) await rock.remove(name);
});

describe('the jupyter flavour is the Spark rock plus its own layers', () => {
  it("the base's layers digest for digest, then its parts and its pebble layer; entrypoint: the jupyter service", async () => {
    const man = async (a: string) =>
      JSON.parse((await execa('skopeo', ['inspect', '--raw', `oci-archive:${a}`])).stdout) as { layers: Array<{ digest: string }> };
    const b = await man(base.artifact);
    const j = await man(jl.artifact);
    expect(j.layers.slice(0, b.layers.length)).toEqual(b.layers);
    expect(jl.layers!.slice(b.layers.length).map((l) => l.comment)).toEqual([
      'part jupyterlab',
      'part jupyter-config',
      'pebble layer of charmed-spark-jupyterlab',
    ]);
    const cfg = JSON.parse((await execa('skopeo', ['inspect', '--config', `oci-archive:${jl.artifact}`])).stdout);
    expect(cfg.config.Entrypoint).toEqual(['/usr/bin/pebble', 'enter', '--verbose', '--args', 'jupyter']);
    expect(cfg.config.Labels['org.opencontainers.image.version']).toBe('3.5.9-4.6.6');
  });
});

describe('JupyterLab in the rock (podman, local mode)', () => {
  it('the server API answers with the token, at the base URL, and refuses without it or with another', async () => {
    const ok = await call('api/status', token);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toHaveProperty('started');
    expect((await call('api/status')).status).toBe(403);
    expect((await call('api/status', 'not-the-token')).status).toBe(403);
    const v = (await (await call('api', token)).json()) as { version: string };
    expect(v.version).toMatch(/^2\./); // jupyter_server
    const lab = await call('lab/api/build', token);
    expect(lab.status).toBeLessThan(500);
  });
  it("a notebook executed through the server's kernel runs Spark jobs with what pyspark was given", async () => {
    const cells = [
      'from pyspark.sql import SparkSession\nspark = SparkSession.builder.getOrCreate()\nprint("MASTER", spark.sparkContext.master)\nprint("MARKER", spark.conf.get("spark.sparkcraft.marker"))',
      'df = spark.range(1000).selectExpr("id % 4 AS k").groupBy("k").count()\nprint("GROUPS", sorted((row.k, row["count"]) for row in df.collect()))',
      'spark.sql("SELECT sum(id) AS s FROM range(1001)").collect()[0].s',
    ];
    const nb = {
      cells: cells.map((c) => ({ cell_type: 'code', source: c, metadata: {}, outputs: [], execution_count: null })),
      metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
      nbformat: 4,
      nbformat_minor: 5,
    };
    const put = await call('api/contents/spark-job.ipynb', token, { method: 'PUT', body: JSON.stringify({ type: 'notebook', format: 'json', content: nb }) });
    expect(put.status).toBeLessThan(300);
    const run = await execa(
      'node',
      ['--experimental-websocket', '--import', 'tsx', join(ROOT, 'src/flavours/jupyter/notebook.ts'), server, 'spark-job.ipynb'],
      {
        env: { JUPYTER_TOKEN: token },
        reject: false,
        timeout: 900_000,
      },
    );
    expect(run.exitCode, run.stderr.slice(-1500)).toBe(0);
    const res = JSON.parse(run.stdout) as {
      cells: Array<{ status: string; outputs: Array<{ output_type: string; text?: string; data?: Record<string, string> }> }>;
    };
    expect(res.cells.map((c) => c.status)).toEqual(['ok', 'ok', 'ok']);
    const text = (i: number) =>
      res.cells[i]!.outputs.filter((o) => o.output_type === 'stream' && o.text)
        .map((o) => o.text)
        .join('');
    expect(text(0)).toContain('MASTER local[2]');
    expect(text(0)).toContain('MARKER given-to-pyspark');
    expect(text(1)).toContain('GROUPS [(0, 250), (1, 250), (2, 250), (3, 250)]');
    expect(res.cells[2]!.outputs.find((o) => o.output_type === 'execute_result')!.data!['text/plain']).toBe('500500');
    // Saved with its outputs, as a browser would leave it.
    const saved = (await (await call('api/contents/spark-job.ipynb', token)).json()) as {
      content: { cells: Array<{ outputs: Array<{ output_type: string; data?: Record<string, string> }> }> };
    };
    expect(saved.content.cells[2]!.outputs.find((o) => o.output_type === 'execute_result')!.data!['text/plain']).toBe('500500');
  }, 900_000);
  it('the token is in no log line and on no command line in the container', async () => {
    const logs = await rock.logs(name);
    const all = `${logs.stdout}${logs.stderr}`;
    expect(all).toMatch(/JupyterLab on port \d+, base URL \/sparkcraft\/lab\//);
    expect(all).toMatch(/Jupyter Server [\d.]+ is running at/);
    expect(all.includes(token)).toBe(false);
    const ps = await rock.exec(name, ['bash', '-c', 'for p in /proc/[0-9]*; do tr "\\0" " " < $p/cmdline; echo; done']);
    expect(ps.exitCode).toBe(0);
    expect(ps.stdout).toMatch(/jupyter-lab|jupyter lab|jupyter/);
    expect(ps.stdout.includes(token)).toBe(false);
  });
});
