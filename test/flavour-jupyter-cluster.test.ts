/**
 * The jupyter flavour on the local node (needs a node: run under the node lock, see common rules):
 * a spark8t account made by an admin pod, a JupyterLab pod running as that account with the token
 * from a Secret, its API reached from the host at the pod's address, and a notebook executed
 * through its kernel whose Spark session is in client mode on Kubernetes: its executors are pods
 * (the Spark rock, as the flavour's defaults name it).
 *
 *   npx vitest run test/flavour-jupyter-cluster.test.ts
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { importImage } from '../src/lib/cluster.ts';
import { build } from '../src/pack/pack.ts';
import { loadMatrix, resolveLine } from '../src/config/matrix.ts';
import { Kube, SMALL, rockPod } from '../src/smoke/cluster.ts';
import { ensureCluster, ROOT, type ClusterInfo } from './support/k8s.ts';

const r = resolveLine(loadMatrix(), { line: '3.5', flavour: 'jupyter' });
const ns = `jlk-${Date.now().toString(36)}`;
const user = 'sparky';
const token = randomBytes(24).toString('hex');
let cluster: ClusterInfo;
let k: Kube;
let server: string;

const call = (path: string, auth?: string, init: RequestInit = {}) => fetch(`${server}${path}`, { ...init, headers: { ...(auth !== undefined ? { Authorization: `token ${auth}` } : {}), 'Content-Type': 'application/json' } });

beforeAll(async () => {
  cluster = await ensureCluster();
  if (!cluster.node) throw new Error('the local cluster runs without a node (LOCAL_K8S_NODE=0): this scenario needs one');
  k = new Kube(cluster);
  const base = await build('rock', { line: '3.5', backend: 'builtin' });
  const jl = await build('rock', { line: '3.5', flavour: 'jupyter', backend: 'builtin' });
  await importImage(cluster, base.artifact, r.base!.image.ref);
  await importImage(cluster, jl.artifact, r.image.ref);
  await k.apply([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'admin', namespace: ns } },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: `${ns}-admin` }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'ServiceAccount', name: 'admin', namespace: ns }] },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'jupyter-token', namespace: ns }, stringData: { token } },
  ]);
  await k.apply([rockPod('admin', ns, r.base!.image.ref, `spark-client.service-account-registry create --username ${user} --namespace ${ns} --conf spark.sparkcraft.account=${user}`, { serviceAccount: 'admin' })]);
  const admin = await k.waitDone(ns, 'admin', 300);
  if (admin.phase !== 'Succeeded') throw new Error(`admin pod ${admin.phase}: ${admin.log}\n${await k.diagnose(ns)}`);
  // JupyterLab as the account, driver in the pod (client mode): executors reach it at the pod's IP.
  await k.apply([{
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: 'jupyter', namespace: ns, labels: { app: 'jupyter' } },
    spec: {
      restartPolicy: 'Never',
      serviceAccountName: user,
      containers: [{
        name: 'jupyter', image: r.image.ref, imagePullPolicy: 'IfNotPresent',
        args: ['--username', user, '--namespace', ns, ...SMALL, '--conf', 'spark.executor.instances=2', '--conf', 'spark.driver.host=$(POD_IP)', '--conf', 'spark.driver.bindAddress=0.0.0.0', '--conf', 'spark.kubernetes.driver.pod.name=jupyter'],
        env: [
          { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
          { name: 'JUPYTER_TOKEN', valueFrom: { secretKeyRef: { name: 'jupyter-token', key: 'token' } } },
          { name: 'JUPYTER_PORT', value: '8888' },
        ],
        resources: { requests: { cpu: '100m', memory: '512Mi' } },
      }],
    },
  }]);
  const until = Date.now() + 600_000;
  for (;;) {
    const pod = (await k.pods(ns, 'app=jupyter'))[0];
    if (pod?.status?.podIP && pod.status.phase === 'Running') {
      server = `http://${pod.status.podIP}:8888/`;
      const res = await call('api/status', token).catch(() => undefined);
      if (res?.status === 200) break;
    }
    if (pod?.status?.phase === 'Failed' || pod?.status?.phase === 'Succeeded' || Date.now() > until) {
      throw new Error(`JupyterLab pod ${pod?.status?.phase}: ${(await k.logs(ns, 'jupyter', 60)).split(token).join('<token>')}\n${await k.diagnose(ns)}`);
    }
    await new Promise((ok) => setTimeout(ok, 3000));
  }
}, 3_600_000);

afterAll(async () => {
  if (k) {
    await k.run(['delete', 'namespace', ns, '--wait=false'], { reject: false });
    await k.run(['delete', 'clusterrolebinding', `${ns}-admin`], { reject: false });
  }
});

describe(`JupyterLab (${r.image.ref}) on the local node with executors as pods`, () => {
  it('the server API answers at the pod\'s address with the token only', async () => {
    expect((await call('api/status', token)).status).toBe(200);
    expect((await call('api/status')).status).toBe(403);
  });
  it('a notebook run through the kernel starts Spark on Kubernetes as the account: executor pods run its job', async () => {
    const cells = [
      'from pyspark.sql import SparkSession\nspark = SparkSession.builder.getOrCreate()\nsc = spark.sparkContext\nprint("MASTER", sc.master)\nprint("ACCOUNT", spark.conf.get("spark.sparkcraft.account"))\nprint("SA", spark.conf.get("spark.kubernetes.authenticate.driver.serviceAccountName"))',
      'import time\nfor _ in range(120):\n    if sc._jsc.sc().getExecutorIds().size() >= 1: break\n    time.sleep(2)\nprint("EXECUTORS", sc._jsc.sc().getExecutorIds().size())',
      'print("SUM", sc.parallelize(range(10000), 8).map(lambda x: x * 2).sum())\nprint("HOSTS", sorted(set(sc.parallelize(range(8), 8).map(lambda _: __import__("socket").gethostname()).collect())))',
    ];
    const nb = { cells: cells.map((c) => ({ cell_type: 'code', source: c, metadata: {}, outputs: [], execution_count: null })), metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } }, nbformat: 4, nbformat_minor: 5 };
    expect((await call('api/contents/k8s-job.ipynb', token, { method: 'PUT', body: JSON.stringify({ type: 'notebook', format: 'json', content: nb }) })).status).toBeLessThan(300);
    // Executor pods seen while the notebook runs.
    const seen = new Set<string>();
    let watching = true;
    const watch = (async () => {
      while (watching) {
        for (const p of await k.pods(ns, 'spark-role=executor').catch(() => [])) if (p.status?.phase === 'Running') seen.add(p.metadata.name as string);
        await new Promise((ok) => setTimeout(ok, 2000));
      }
    })();
    const run = await execa('node', ['--experimental-websocket', '--import', 'tsx', join(ROOT, 'test/support/notebook.ts'), server, 'k8s-job.ipynb'], { env: { JUPYTER_TOKEN: token }, reject: false, timeout: 1_200_000 });
    watching = false;
    await watch;
    expect(run.exitCode, `${run.stderr.slice(-1500)}\n${await k.diagnose(ns)}`).toBe(0);
    const res = JSON.parse(run.stdout) as { cells: Array<{ status: string; outputs: Array<{ output_type: string; text?: string; ename?: string; evalue?: string }> }> };
    const text = res.cells.map((c) => c.outputs.map((o) => o.text ?? `${o.ename ?? ''} ${o.evalue ?? ''}`).join('')).join('\n');
    expect(res.cells.map((c) => c.status), text.slice(-2000)).toEqual(['ok', 'ok', 'ok']);
    expect(text).toMatch(/MASTER k8s:\/\/https:\/\//);
    expect(text).toContain(`ACCOUNT ${user}`);
    expect(text).toContain(`SA ${user}`);
    expect(text).toMatch(/EXECUTORS [12]/);
    expect(text).toContain('SUM 99990000');
    // The tasks ran in executor pods, not in the JupyterLab pod.
    const hosts = JSON.parse((text.match(/HOSTS (\[.*\])/)?.[1] ?? '[]').replace(/'/g, '"')) as string[];
    expect(hosts.length).toBeGreaterThan(0);
    expect(hosts).not.toContain('jupyter');
    expect(seen.size).toBeGreaterThan(0);
    expect(hosts.every((h) => [...seen].some((p) => p.startsWith(h) || h.startsWith(p.slice(0, 20))))).toBe(true);
  }, 1_500_000);
  it('the token is in no log line of the JupyterLab pod', async () => {
    const log = await k.logs(ns, 'jupyter', 5000);
    expect(log).toMatch(/Jupyter Server [\d.]+ is running at/);
    expect(log.includes(token)).toBe(false);
  });
});
