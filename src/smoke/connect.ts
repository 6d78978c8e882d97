/**
 * Spark Connect on the local node (issue 25): the rock's `spark-connect` service run for a spark8t
 * account of its own (lib/servers.ts: Deployment + ClusterIP Service, the pod as the account, Spark's
 * token authentication with the token from a Secret), on the line the suite names (the default line when
 * its rock has the service, else the newest that has; 4.1 today), and the PySpark thin client
 * (pyspark-client, no JVM) on the host through `kubectl port-forward`. `--only '^connect'` selects them.
 */
import { browse, uiDir, type UiSeen } from './browser.ts';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { execa } from 'execa';
import { cacheDir, projectRoot } from '../lib/paths.ts';
import { CONNECT_PORT, exposures } from '../lib/servers.ts';
import type { DataContext } from './data.ts';
import { secretSightings } from './s3.ts';
import { sleep, type Json } from './kube.ts';
import { serverOnNode } from './server-node.ts';

const USER = 'connectuser';
/**
 * The server's settings beyond the account's: dynamic allocation with shuffle tracking (idle executors go
 * after executorIdleTimeout, those holding shuffle data after shuffleTracking.timeout), and a killed
 * client's operation cancelled soon: its response stream ends within senderMaxStreamDuration (the client
 * reattaches to a long one), and an operation nobody reattaches to is abandoned, which cancels its jobs,
 * detachedTimeout later (Spark's defaults: 2 min and 5 min).
 */
export const CONNECT_SERVER_CONF = [
  'spark.dynamicAllocation.enabled=true',
  'spark.dynamicAllocation.shuffleTracking.enabled=true',
  'spark.dynamicAllocation.shuffleTracking.timeout=30s',
  'spark.dynamicAllocation.executorIdleTimeout=10s',
  'spark.dynamicAllocation.minExecutors=0',
  'spark.dynamicAllocation.initialExecutors=1',
  'spark.dynamicAllocation.maxExecutors=2',
  'spark.connect.execute.reattachable.senderMaxStreamDuration=10s',
  'spark.connect.execute.manager.detachedTimeout=10s',
  'spark.connect.execute.manager.maintenanceInterval=2s',
];
const CLIENT = join(projectRoot, 'src/smoke/connect-client.py');
/** The small query of the figures (connect-client.py runs it warm; bench:cluster also through spark-submit in cluster mode). */
export const SMALL_QUERY = 'SELECT sum(id) AS s FROM range(1000000)';
export const SMALL_SUM = 499999500000;
export const connectPython = () => join(cacheDir(), 'venv-connect', 'bin', 'python');

export interface ConnectRun {
  sessions?: number;
  sum?: number;
  sql?: number;
  table?: string;
  snapshots?: number;
  a_views?: string[];
  b_views?: string[];
  a_count?: number;
  hosts?: string[];
  /** Session created and its first query answered, ms. */
  first_ms?: number;
  /** SMALL_QUERY, warm (the median of 5), ms; and its answer. */
  warm_ms?: number;
  small?: number;
  refused?: boolean;
  error?: string;
}

/** What the client's session run printed, checked (pure): what is wrong, empty when all is right. */
export function checkConnect(r: ConnectRun, executorPods: string[]): string[] {
  const wrong: string[] = [];
  if (r.sessions !== 2) wrong.push(`the two sessions are not two (${r.sessions})`);
  if (r.sum !== 499500) wrong.push(`sum(id) of range(1000) is ${r.sum}, not 499500`);
  if (r.sql !== 42) wrong.push(`SELECT 40 + 2 gave ${r.sql}`);
  if (r.small !== SMALL_SUM) wrong.push(`${SMALL_QUERY} gave ${r.small}, not ${SMALL_SUM}`);
  if (r.table !== '3 3') wrong.push(`the Iceberg table read back by the other session is "${r.table}", not 3 rows with max id 3`);
  if (r.snapshots !== 2) wrong.push(`the Iceberg table has ${r.snapshots} snapshots, not 2`);
  if (JSON.stringify(r.a_views) !== '["only_a"]' || JSON.stringify(r.b_views) !== '["only_b"]')
    wrong.push(`temporary views leak between sessions: A sees ${JSON.stringify(r.a_views)}, B sees ${JSON.stringify(r.b_views)}`);
  const hosts = (r.hosts ?? []).map((h) => h.split('/')[0]!);
  if (!hosts.length) wrong.push('no task reported its host');
  const elsewhere = hosts.filter((h) => !executorPods.some((p) => p.endsWith(h)));
  if (elsewhere.length) wrong.push(`tasks ran on ${elsewhere.join(', ')}, not on the server's executor pods ${executorPods.join(', ') || '(none)'}`);
  return wrong;
}

export function connectScenarios(d: DataContext, line: { track: string; image: () => Promise<string> }): Array<[string, () => Promise<string>]> {
  const { k, ns } = d;
  const token = randomBytes(24).toString('hex');
  const { serve, outputs, fail, guard, executors, remove } = serverOnNode(d, {
    server: 'spark-connect',
    user: USER,
    credential: token,
    image: line.image,
    what: `the Spark ${line.track} Connect server`,
    conf: CONNECT_SERVER_CONF,
  });
  const seen = new Set<string>();
  /** Run FN while noting the server's executor pods every 2 s (dynamic allocation may release them after). */
  const watching = async <T>(pod: string, fn: () => Promise<T>): Promise<T> => {
    let on = true;
    const watch = (async () => {
      while (on) {
        for (const p of await executors(pod).catch(() => [])) seen.add(p.metadata.name as string);
        await sleep(2000);
      }
    })();
    try {
      return await fn();
    } finally {
      on = false;
      await watch;
    }
  };
  let forward: Promise<{ port: number; stop: () => void }> | undefined;

  /** `kubectl port-forward` to the Service on a free loopback port (what a user outside the cluster runs). */
  const forwarded = () =>
    (forward ??= (async () => {
      const { name } = await serve();
      const c = d.cluster();
      const p = execa(c.kubectlPath, ['--kubeconfig', c.adminKubeconfig, '-n', ns, 'port-forward', `service/${name}`, `:${CONNECT_PORT}`], {
        reject: false,
        buffer: false,
      });
      const port = await new Promise<number>((resolve, reject) => {
        let seen = '';
        const t = setTimeout(() => reject(new Error(`kubectl port-forward printed no port in 30 s: ${seen.slice(-300)}`)), 30_000);
        const take = (b: Buffer) => {
          seen += b.toString();
          const m = seen.match(/Forwarding from 127\.0\.0\.1:(\d+)/);
          if (m) {
            clearTimeout(t);
            resolve(Number(m[1]));
          }
        };
        p.stdout?.on('data', take);
        p.stderr?.on('data', take);
        void p.then(() => reject(new Error(`kubectl port-forward ended: ${seen.slice(-300)}`)));
      });
      return { port, stop: () => p.kill() };
    })());

  const client = async (mode: 'sessions' | 'refused', tok: string | undefined): Promise<ConnectRun> => {
    const { port } = await forwarded();
    const r = await execa(connectPython(), [CLIENT, String(port), mode], {
      env: { CONNECT_TOKEN: tok ?? '' },
      reject: false,
      timeout: mode === 'refused' ? 120_000 : 600_000,
    });
    outputs.push(`### connect client ${mode}\n${r.stdout}\n${r.stderr}`);
    const json = r.stdout.trim().split('\n').at(-1) ?? '';
    try {
      return JSON.parse(json) as ConnectRun;
    } catch {
      throw await fail(`the Connect client (${mode}) exited ${r.exitCode} without its result`, `${r.stdout}\n${r.stderr}`);
    }
  };

  return [
    [
      `connect 1. Spark ${line.track}'s spark-connect as a spark8t account (Deployment + ClusterIP Service): the thin client (pyspark-client, no JVM) with the token runs DataFrames, SQL and an Iceberg table on S3; two sessions keep their own temporary views; tasks run in executor pods`,
      () =>
        guard(async () => {
          const { pod, seconds } = await serve();
          const t = Date.now();
          const r = await watching(pod, () => client('sessions', token));
          const ran = (Date.now() - t) / 1000;
          const wrong = checkConnect(r, [...seen]);
          const sa = (await k.json(['-n', ns, 'get', 'pod', pod])).spec.serviceAccountName as string;
          if (sa !== USER) wrong.push(`the server runs as ${sa}, not ${USER}`);
          if (wrong.length) throw await fail(wrong.join('; '), outputs.at(-1));
          return `server ready in ${seconds.toFixed(0)} s as ${sa}; client run ${ran.toFixed(1)} s: first query ${r.first_ms} ms (a new session's), small query warm ${r.warm_ms} ms; sum ${r.sum}, table ${r.table} (${r.snapshots} snapshots), views A ${r.a_views} / B ${r.b_views}; tasks on ${r.hosts?.length} executor host(s)`;
        }),
    ],
    [
      'connect 2. a client killed mid-query has its query cancelled on the server; with dynamic allocation (shuffle tracking, executorIdleTimeout 10s) the idle executors are released',
      () =>
        guard(async () => {
          const { pod } = await serve();
          const { port } = await forwarded();
          const ip = (await k.json(['-n', ns, 'get', 'pod', pod])).status.podIP as string;
          // the server's Spark UI REST API, at the pod's address from the host
          const api = async (path: string) => (await (await fetch(`http://${ip}:4040/api/v1/applications${path}`)).json()) as Json[];
          const app = (await api(''))[0]?.id as string;
          const running = async () => (await api(`/${app}/jobs?status=running`)).length;
          let ui: UiSeen | undefined;
          const long = execa(connectPython(), [CLIENT, String(port), 'long'], { env: { CONNECT_TOKEN: token }, reject: false, buffer: false });
          try {
            const until = Date.now() + 180_000;
            while (!(await running())) {
              if (Date.now() > until || long.exitCode !== null) throw await fail(`the long query never ran (client exit ${long.exitCode})`);
              await sleep(2000);
            }
            // The server's Spark UI in Chromium while the session's query runs: its active job rendered.
            [ui] = await browse(
              [{ name: 'connect-active-jobs', url: `http://${ip}:4040/jobs/`, rows: '#activeJob-table tbody tr', want: ['Spark Connect - session_id'] }],
              uiDir(),
            );
          } catch (e) {
            long.kill('SIGKILL');
            throw e;
          }
          long.kill('SIGKILL');
          await long;
          const killed = Date.now();
          while ((await running()) > 0) {
            if (Date.now() - killed > 150_000) throw await fail("the killed client's job still runs 150 s later", await k.logs(ns, pod, 40));
            await sleep(2000);
          }
          const cancelled = (Date.now() - killed) / 1000;
          const log = (await k.run(['-n', ns, 'logs', pod], { reject: false })).stdout;
          outputs.push(`### server (cancel)\n${log}`);
          const why = log.match(/Asked to cancel jobs with tag SparkConnect_OperationTag\S*/)?.[0];
          if (!why) throw await fail('the job ended, but the server never cancelled the operation', log);
          while ((await executors(pod)).length > 0) {
            if (Date.now() - killed > 240_000) throw await fail(`${(await executors(pod)).length} executor(s) still there 240 s after the last query`);
            await sleep(2000);
          }
          const released = (Date.now() - killed) / 1000;
          return `job cancelled ${cancelled.toFixed(0)} s after the client was killed (the server: "${why.slice(0, 60)}…"); every executor released ${released.toFixed(0)} s after (${seen.size} executor pod(s) seen in all); in Chromium while it ran: ${ui!.rows.length} active job row(s) on the server's UI (${ui!.screenshot})`;
        }),
    ],
    [
      'connect 3. a client without the token or with a wrong one is refused; ClusterIP only (no NodePort, hostPort, hostNetwork); the token is in no log',
      () =>
        guard(async () => {
          const { pod, name } = await serve();
          try {
            const none = await client('refused', undefined);
            const bad = await client('refused', `${token.slice(0, -1)}x`);
            const wrong: string[] = [];
            if (!none.refused || !/UNAUTHENTICATED/.test(none.error ?? '')) wrong.push(`without a token: ${JSON.stringify(none)}`);
            if (!bad.refused || !/UNAUTHENTICATED/.test(bad.error ?? '')) wrong.push(`with a wrong token: ${JSON.stringify(bad)}`);
            wrong.push(...exposures([await k.json(['-n', ns, 'get', 'deployment', name]), await k.json(['-n', ns, 'get', 'service', name])]));
            const logs = [`### server\n${(await k.run(['-n', ns, 'logs', pod], { reject: false })).stdout}`];
            for (const e of await executors(pod))
              logs.push(`### executor ${e.metadata.name}\n${(await k.run(['-n', ns, 'logs', e.metadata.name], { reject: false })).stdout}`);
            const seen = secretSightings([...outputs, ...logs], token);
            if (seen.length) wrong.push(`the token is printed: ${seen.join('; ')}`);
            if (wrong.length) throw await fail(wrong.join('; '));
            return `refused without a token (${none.error?.slice(0, 80)}) and with a wrong one; ClusterIP only; token in none of ${outputs.length + logs.length} outputs`;
          } finally {
            if (forward) (await forward.catch(() => undefined))?.stop();
            await remove();
          }
        }),
    ],
  ];
}
