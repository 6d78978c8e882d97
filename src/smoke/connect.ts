/**
 * Spark Connect on the local node (issue 25): the rock's `spark-connect` service run for a spark8t
 * account of its own (lib/servers.ts: Deployment + ClusterIP Service, the pod as the account, Spark's
 * token authentication with the token from a Secret), on the line the suite names (the default line when
 * its rock has the service, else the newest that has; 4.1 today), and the PySpark thin client
 * (pyspark-client, no JVM) on the host through `kubectl port-forward`. `--only '^connect'` selects them.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { execa } from 'execa';
import { cacheDir, projectRoot } from '../lib/paths.ts';
import { CONNECT_PORT, exposures } from '../lib/servers.ts';
import type { DataContext } from './data.ts';
import { secretSightings } from './s3.ts';
import { serverOnNode } from './server-node.ts';

const USER = 'connectuser';
const CLIENT = join(projectRoot, 'src/smoke/connect-client.py');
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
  refused?: boolean;
  error?: string;
}

/** What the client's session run printed, checked (pure): what is wrong, empty when all is right. */
export function checkConnect(r: ConnectRun, executorPods: string[]): string[] {
  const wrong: string[] = [];
  if (r.sessions !== 2) wrong.push(`the two sessions are not two (${r.sessions})`);
  if (r.sum !== 499500) wrong.push(`sum(id) of range(1000) is ${r.sum}, not 499500`);
  if (r.sql !== 42) wrong.push(`SELECT 40 + 2 gave ${r.sql}`);
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
  });
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
          const r = await client('sessions', token);
          const ran = (Date.now() - t) / 1000;
          const pods = (await executors(pod)).map((p) => p.metadata.name as string);
          const wrong = checkConnect(r, pods);
          const sa = (await k.json(['-n', ns, 'get', 'pod', pod])).spec.serviceAccountName as string;
          if (sa !== USER) wrong.push(`the server runs as ${sa}, not ${USER}`);
          if (wrong.length) throw await fail(wrong.join('; '), outputs.at(-1));
          return `server ready in ${seconds.toFixed(0)} s as ${sa}; client run ${ran.toFixed(1)} s: sum ${r.sum}, table ${r.table} (${r.snapshots} snapshots), views A ${r.a_views} / B ${r.b_views}; tasks on ${r.hosts?.length} executor host(s)`;
        }),
    ],
    [
      'connect 2. a client without the token or with a wrong one is refused; ClusterIP only (no NodePort, hostPort, hostNetwork); the token is in no log',
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
