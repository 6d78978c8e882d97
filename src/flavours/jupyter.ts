/**
 * The jupyter flavour on the local node (issue 15), as cluster scenarios `jupyter 1`–`jupyter 3`: the
 * flavour's image as a pod running as the spark8t account scenario 1 made (token from a Secret),
 * its API reached from the host at the pod's address, and a notebook executed through its kernel
 * whose Spark session is in client mode on Kubernetes: its tasks run in executor pods of the Spark
 * rock (what the flavour's defaults name). The token is masked in everything a failure prints and
 * checked absent from the pod's log.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { execa } from 'execa';
import { projectRoot } from '../lib/paths.ts';
import { mask, registerSecret } from '../lib/secrets.ts';
import { restrictedPod } from '../lib/pod-security.ts';
import type { FlavourModule, ScenarioKit } from './index.ts';

type Json = Record<string, any>;

export interface NotebookRun {
  exitCode: number;
  stderr: string;
  cells: Array<{ status: string; outputs: Array<{ output_type: string; text?: string; ename?: string; evalue?: string }> }>;
}

/**
 * Execute the notebook PATH on the Jupyter server at BASE through its kernel (./notebook.ts in its
 * own process: Node 20 has WebSocket only behind a flag). The token goes by environment only.
 */
export async function runNotebook(base: string, path: string, token: string, timeoutMs: number): Promise<NotebookRun> {
  const r = await execa(process.execPath, ['--experimental-websocket', '--import', 'tsx', join(projectRoot, 'src/flavours/jupyter/notebook.ts'), base, path], {
    cwd: projectRoot,
    env: { JUPYTER_TOKEN: token },
    reject: false,
    timeout: timeoutMs,
  });
  const cells = r.exitCode === 0 ? (JSON.parse(r.stdout) as { cells: NotebookRun['cells'] }).cells : [];
  return { exitCode: r.exitCode ?? 1, stderr: r.stderr, cells };
}

/** The text a run's cells printed (streams, and each error's name and value). */
export const notebookText = (run: NotebookRun) =>
  run.cells.map((c) => c.outputs.map((o) => o.text ?? `${o.ename ?? ''} ${o.evalue ?? ''}`).join('')).join('\n');

/** A notebook of code cells (nbformat 4). */
export const notebook = (cells: string[]) => ({
  cells: cells.map((c) => ({ cell_type: 'code', source: c, metadata: {}, outputs: [], execution_count: null })),
  metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
  nbformat: 4,
  nbformat_minor: 5,
});

/** The cells the node scenario runs: the session's master and account, executors, a job, the hosts that ran it. */
export const K8S_CELLS = [
  'from pyspark.sql import SparkSession\nspark = SparkSession.builder.getOrCreate()\nsc = spark.sparkContext\nprint("MASTER", sc.master)\nprint("ACCOUNT", spark.conf.get("spark.scenario"))\nprint("SA", spark.conf.get("spark.kubernetes.authenticate.driver.serviceAccountName"))',
  'import time\nfor _ in range(120):\n    if sc._jsc.sc().getExecutorIds().size() >= 1: break\n    time.sleep(2)\nprint("EXECUTORS", sc._jsc.sc().getExecutorIds().size())',
  'print("SUM", sc.parallelize(range(10000), 8).map(lambda x: x * 2).sum())\nprint("HOSTS", sorted(set(sc.parallelize(range(8), 8).map(lambda _: __import__("socket").gethostname()).collect())))',
  'spark.stop()\nprint("STOPPED")',
];

/** What K8S_CELLS printed, checked (pure): a list of what is wrong, empty when all is right. */
export function checkK8sNotebook(text: string, statuses: string[], user: string, executorPods: string[]): string[] {
  const wrong: string[] = [];
  if (statuses.length !== K8S_CELLS.length || statuses.some((s) => s !== 'ok')) wrong.push(`cell statuses ${JSON.stringify(statuses)}`);
  if (!/^MASTER k8s:\/\/https:\/\//m.test(text)) wrong.push('the session is not on Kubernetes');
  if (!/^ACCOUNT 1$/m.test(text)) wrong.push("the account's configuration (spark.scenario=1) is not in the session");
  if (!new RegExp(`^SA ${user}$`, 'm').test(text)) wrong.push(`the driver's service account is not ${user}`);
  if (!/^EXECUTORS [1-9]/m.test(text)) wrong.push('no executor registered');
  if (!/^SUM 99990000$/m.test(text)) wrong.push("the job's sum is not 99990000");
  let hosts: string[] = [];
  try {
    hosts = JSON.parse((text.match(/^HOSTS (\[.*\])$/m)?.[1] ?? '[]').replace(/'/g, '"')) as string[];
  } catch {
    wrong.push('HOSTS is not a list');
  }
  // The tasks ran in executor pods (Spark names an executor's host after the last 63 characters of its
  // pod's name), not in the JupyterLab pod.
  if (!hosts.length) wrong.push('no task reported its host');
  if (hosts.includes('jupyter')) wrong.push('tasks ran in the JupyterLab pod');
  if (!executorPods.length) wrong.push('no executor pod was seen running');
  const notExecutors = hosts.filter((h) => !executorPods.some((p) => p.endsWith(h)));
  if (notExecutors.length) wrong.push(`tasks ran on ${notExecutors.join(', ')}, not on the executor pods ${executorPods.join(', ')}`);
  if (!/^STOPPED$/m.test(text)) wrong.push('the session did not stop');
  return wrong;
}

/** The jupyter scenarios, in order ("jupyter N. …", `--only '^jupyter'` selects them). */
export function jupyterScenarios(j: ScenarioKit): Array<[string, () => Promise<string>]> {
  const { k, ns, user, sleep } = j;
  const SMALL = j.small;
  const token = randomBytes(24).toString('hex');
  registerSecret(token);
  const POD = 'jupyter';
  const seen = new Set<string>();
  let deployed: Promise<string> | undefined;
  const fail = (what: string, log = '') => j.fail(what, log, 30);
  const call = (server: string, path: string, auth?: string, init: RequestInit = {}) =>
    fetch(`${server}${path}`, { ...init, headers: { ...(auth !== undefined ? { Authorization: `token ${auth}` } : {}), 'Content-Type': 'application/json' } });

  /** The JupyterLab pod as the account, the driver in it (client mode): executors reach it at the pod's IP. Its URL. */
  const server = () =>
    (deployed ??= (async () => {
      await j.account();
      const image = await j.image();
      await k.create([{ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'jupyter-token', namespace: ns }, stringData: { token } }]);
      await k.apply([
        // Pod Security `restricted` and a read-only root (the scenarios' namespace enforces restricted).
        restrictedPod({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: POD, namespace: ns, labels: { app: 'jupyter' } },
          spec: {
            restartPolicy: 'Never',
            serviceAccountName: user,
            containers: [
              {
                name: 'jupyter',
                image,
                imagePullPolicy: 'IfNotPresent',
                // pyspark's arguments (the image's entrypoint service runs spark8t's pyspark with JupyterLab as its driver)
                args: [
                  '--username',
                  user,
                  '--namespace',
                  ns,
                  ...SMALL,
                  '--conf',
                  'spark.executor.instances=2',
                  '--conf',
                  'spark.driver.host=$(POD_IP)',
                  '--conf',
                  'spark.driver.bindAddress=0.0.0.0',
                  '--conf',
                  `spark.kubernetes.driver.pod.name=${POD}`,
                ],
                env: [
                  { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
                  { name: 'JUPYTER_TOKEN', valueFrom: { secretKeyRef: { name: 'jupyter-token', key: 'token' } } },
                  { name: 'JUPYTER_PORT', value: '8888' },
                ],
                resources: { requests: { cpu: '100m', memory: '512Mi' } },
              },
            ],
          },
        }),
      ]);
      const until = Date.now() + 600_000;
      for (;;) {
        const pod = (await k.pods(ns, 'app=jupyter'))[0];
        if (pod?.status?.podIP && pod.status.phase === 'Running') {
          const url = `http://${pod.status.podIP}:8888/`;
          const res = await call(url, 'api/status', token).catch(() => undefined);
          if (res?.status === 200) return url;
        }
        if (pod?.status?.phase === 'Failed' || pod?.status?.phase === 'Succeeded' || Date.now() > until) {
          throw await fail(
            `JupyterLab pod ${pod?.status?.phase ?? 'missing'}${Date.now() > until ? ' (its API did not answer in 600 s)' : ''}`,
            await k.logs(ns, POD, 60),
          );
        }
        await sleep(3000);
      }
    })());

  return [
    [
      "jupyter 1. JupyterLab (the jupyter flavour) as the spark8t account: its API answers at the pod's address with the token only",
      async () => {
        const url = await server();
        const ok = (await call(url, 'api/status', token)).status;
        const none = (await call(url, 'api/status')).status;
        const wrong = (await call(url, 'api/status', `${token}x`)).status;
        if (ok !== 200 || none !== 403 || wrong !== 403)
          throw await fail(`api/status answered ${ok} with the token, ${none} without, ${wrong} with a wrong one`);
        const sa = (await k.json(['-n', ns, 'get', 'pod', POD])).spec.serviceAccountName as string;
        if (sa !== user) throw await fail(`the pod runs as ${sa}, not ${user}`);
        return `api/status 200 with the token, 403 without or with a wrong one (pod as ${sa})`;
      },
    ],
    [
      'jupyter 2. a notebook run through the kernel starts Spark on Kubernetes as the account: its tasks run in executor pods',
      async () => {
        const url = await server();
        const put = await call(url, 'api/contents/k8s-job.ipynb', token, {
          method: 'PUT',
          body: JSON.stringify({ type: 'notebook', format: 'json', content: notebook(K8S_CELLS) }),
        });
        if (put.status >= 300) throw await fail(`saving the notebook: HTTP ${put.status}`);
        // Executor pods seen running while the notebook runs.
        let watching = true;
        const watch = (async () => {
          while (watching) {
            for (const p of await k.pods(ns, 'spark-role=executor').catch(() => [] as Json[]))
              if (p.status?.phase === 'Running') seen.add(p.metadata.name as string);
            await sleep(2000);
          }
        })();
        const run = await runNotebook(url, 'k8s-job.ipynb', token, 1_200_000).finally(() => (watching = false));
        await watch;
        if (run.exitCode !== 0) throw await fail(`the notebook runner exited ${run.exitCode}`, run.stderr);
        const text = notebookText(run);
        const wrong = checkK8sNotebook(
          text,
          run.cells.map((c) => c.status),
          user,
          [...seen],
        );
        if (wrong.length) throw await fail(wrong.join('; '), `${text}\n${await k.logs(ns, POD, 40)}`);
        return `${text.match(/^SUM \d+$/m)![0]}, tasks on ${text.match(/^HOSTS (.*)$/m)![1]} (executor pods seen: ${seen.size})`;
      },
    ],
    [
      'jupyter 3. the token is in no log line of the JupyterLab pod; the pod and its executors are gone after',
      async () => {
        await server();
        const log = (await k.run(['-n', ns, 'logs', POD], { reject: false })).stdout;
        if (!/Jupyter Server [\d.]+ is running at/.test(log)) throw await fail('the pod log does not show the server running', log);
        if (log.includes(token)) throw await fail('the token is in the pod log');
        await k.run(['-n', ns, 'delete', 'pod', POD, '--wait=true', '--timeout=120s'], { reject: false });
        // The executors are owned by the driver pod: the garbage collector removes them.
        const until = Date.now() + 180_000;
        let left: string[] = [];
        do {
          left = (await k.pods(ns, 'spark-role=executor'))
            .filter((p) => seen.has(p.metadata.name as string) || p.metadata.ownerReferences?.some((o: Json) => o.name === POD))
            .map((p) => p.metadata.name as string);
          if (!left.length) break;
          await sleep(2000);
        } while (Date.now() < until);
        await k.run(['-n', ns, 'delete', 'secret', 'jupyter-token', '--ignore-not-found'], { reject: false });
        if (left.length) throw await fail(`executor pods left after the JupyterLab pod was deleted: ${left.join(', ')}`);
        return `the token is in none of ${log.split('\n').length} log lines; pod and executors deleted`;
      },
    ],
  ];
}

export const flavour: FlavourModule = { scenarios: jupyterScenarios };
