/**
 * Data on the local node (issue 13): the S3 server that runs with the node, spark8t's s3a settings,
 * spark-sql and PySpark on an s3a warehouse, an Iceberg table, the rock's history server as a
 * Deployment + Service reading the jobs' event logs from S3, and the JMX Prometheus agent on a
 * driver and its executor scraped from a pod. The S3 and Iceberg steps are the functions of
 * ./s3.ts (which the podman tests run in local mode); here they run in pods (`podWhere`).
 * One set of jobs serves several checks: every job logs its events to S3 for the history server,
 * and every output and driver log is kept for the secret check.
 */
import { browse, uiDir, type UiSeen } from './browser.ts';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { stringify } from 'yaml';
import type { LocalCluster, LocalS3 } from '../lib/cluster.ts';
import { listKeys, s3Request, type S3Creds } from '../lib/s3.ts';
import { registerSecret } from '../lib/secrets.ts';
import { CheckFailed } from './checks.ts';
import type { SnapRunner } from './runner.ts';
import { type Kube, rockPod, scenarioFailures, SMALL, sleep, type Json } from './kube.ts';
import { restrictedPod } from '../lib/pod-security.ts';
import {
  eventLogConf,
  eventLogs,
  historyServerOnS3,
  icebergOnS3,
  makeBucket,
  pysparkReadsBack,
  s3Account,
  secretSightings,
  sparkSqlOnS3,
  type AccountRef,
  type HistoryServer,
  type S3Ctx,
  type Where,
} from './s3.ts';

export interface DataContext {
  cluster: () => LocalCluster;
  k: Kube;
  ns: string;
  imageRef: string;
  /** The namespace and its admin ServiceAccount (cluster-admin), made once. */
  base: () => Promise<void>;
}

/** The bucket the scenarios of namespace NS use (cleanupScenarios drops it). */
export const dataBucket = (ns: string) => `${ns}-data`;

const HS_PORT = 18080;
const JMX_PORT = 9101;

/** A pod log without pebble's per-line prefix (`2026-…Z [sparkd] `): what the program printed. */
export const unprefix = (log: string) => log.replace(/^\S+Z \[[\w-]+\] /gm, '');

/** Where Spark runs for ./s3.ts: pods of the rock on the node, as the account (the admin for `admin` runs). */
export function podWhere(d: DataContext, s3: LocalS3, bucket: string, user: AccountRef): Where {
  const { k, ns } = d;
  let n = 0;
  const driverOf = (pod: string) => `${pod}-driver`;
  return {
    name: 'pods on the local node',
    s3Endpoint: s3.podEndpoint,
    async run(script, files = {}, timeoutMs = 600_000, o = {}) {
      await d.base();
      const name = `data-${++n}-${Date.now().toString(36).slice(-4)}`;
      // The files may hold the secret key: a Secret mounted at /work, not a ConfigMap.
      await k.create([{ apiVersion: 'v1', kind: 'Secret', metadata: { name: `${name}-files`, namespace: ns }, stringData: files }]);
      await k.apply([
        rockPod(name, ns, d.imageRef, `export W=/work; ${script}`, { serviceAccount: o.admin ? 'admin' : user.username, secret: `${name}-files` }),
      ]);
      const r = await k.waitDone(ns, name, timeoutMs / 1000);
      let output = r.log;
      let exitCode = r.phase === 'Succeeded' ? 0 : 1;
      // A cluster-mode submission (Where.spark below names its driver after the pod): its log too.
      const driver = await k.json(['-n', ns, 'get', 'pod', driverOf(name)]).catch(() => undefined);
      if (driver) {
        const log = unprefix((await k.run(['-n', ns, 'logs', driverOf(name)], { reject: false })).stdout);
        output += `\n### driver ${driverOf(name)} (${driver.status?.phase})\n${log}`;
        if (driver.status?.phase !== 'Succeeded') exitCode = 1;
      }
      await k.run(['-n', ns, 'delete', 'secret', `${name}-files`, '--ignore-not-found'], { reject: false });
      return { exitCode, output };
    },
    spark(tool, a) {
      const who = `--username ${a.username} --namespace ${a.namespace} ${SMALL.join(' ')} --conf spark.executor.instances=1`;
      // spark-sql: client mode from the pod (the CLI has no cluster mode), executors as pods.
      if (tool === 'spark-sql')
        return `spark-client.spark-sql ${who} --conf spark.driver.host=$POD_IP --conf spark.driver.bindAddress=0.0.0.0 --conf spark.kubernetes.driver.pod.name=$HOSTNAME`;
      // spark-submit: cluster mode; the local script goes to the driver through S3 (file.upload.path).
      return `spark-client.spark-submit ${who} --deploy-mode cluster --conf spark.kubernetes.driver.pod.name=$HOSTNAME-driver --conf spark.kubernetes.file.upload.path=s3a://${bucket}/uploads`;
    },
    historyServer: (properties) => historyDeployment(d, properties),
    async close() {},
  };
}

/**
 * The history server's UI in Chromium (./browser.ts): its applications table, rendered by the page's
 * JavaScript, lists every id; then the first application's page of completed jobs. Screenshots in uiDir().
 */
async function browseHistory(url: string, ids: string[], apps: number): Promise<UiSeen[]> {
  const seen = await browse(
    [
      // (the page blocks itself with jQuery blockUI's overlay while it loads the listing)
      { name: 'history-applications', url: `${url}/`, rows: '#history-summary-table tbody tr', want: ids, busy: '.blockUI' },
      { name: 'history-jobs', url: `${url}/history/${ids[0]}/jobs/`, rows: '#completedJob-table tbody tr' },
    ],
    uiDir(),
  );
  if (seen[0]!.rows.length < apps) throw new Error(`the history UI shows ${seen[0]!.rows.length} application rows, not ${apps}`);
  return seen;
}

/** The pebble layer that makes `history-server` the container's service (as a charm's layer does). */
const HS_LAYER = stringify({
  summary: 'history server on the node',
  services: { 'history-server': { override: 'merge', startup: 'enabled' }, sparkd: { override: 'merge', startup: 'disabled' } },
});

/**
 * The rock as a Deployment running its `history-server` pebble service, `properties` (a Secret) as
 * its spark-defaults.conf, behind a ClusterIP Service; reached at the Service's address, which
 * kube-proxy sends to the pod over the bridge (nothing leaves the machine).
 */
async function historyDeployment(d: DataContext, properties: string): Promise<HistoryServer> {
  const { k, ns } = d;
  await d.base();
  const labels = { app: 'history-server' };
  await k.create([{ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'hs-conf', namespace: ns }, stringData: { 'spark-defaults.conf': properties } }]);
  await k.apply([
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'hs-layer', namespace: ns }, data: { '002-history-server.yaml': HS_LAYER } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'history-server', namespace: ns, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: restrictedPod({
          metadata: { labels },
          spec: {
            containers: [
              {
                name: 'history-server',
                image: d.imageRef,
                imagePullPolicy: 'IfNotPresent',
                // the image's entrypoint without `--args sparkd`: pebble starts the layer's enabled service
                command: ['/usr/bin/pebble', 'enter', '--verbose'],
                ports: [{ containerPort: HS_PORT, name: 'http' }],
                resources: { requests: { cpu: '100m', memory: '256Mi' } },
                volumeMounts: [
                  { name: 'conf', mountPath: '/etc/spark8t/conf/spark-defaults.conf', subPath: 'spark-defaults.conf', readOnly: true },
                  { name: 'layer', mountPath: '/var/lib/pebble/default/layers/002-history-server.yaml', subPath: '002-history-server.yaml', readOnly: true },
                ],
              },
            ],
            volumes: [
              { name: 'conf', secret: { secretName: 'hs-conf' } },
              { name: 'layer', configMap: { name: 'hs-layer' } },
            ],
          },
        }),
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'history-server', namespace: ns },
      spec: { selector: labels, ports: [{ port: HS_PORT, targetPort: HS_PORT, name: 'http' }] },
    },
  ]);
  const svc = await k.json(['-n', ns, 'get', 'service', 'history-server']);
  return {
    url: `http://${svc.spec.clusterIP}:${HS_PORT}`,
    logs: async () => (await k.run(['-n', ns, 'logs', 'deployment/history-server', '--tail=300'], { reject: false })).stdout,
    stop: async () => {
      // foreground: the pod is gone when this returns (a later scenario checks that nothing runs)
      await k.run(['-n', ns, 'delete', 'deployment/history-server', '--cascade=foreground', '--ignore-not-found', '--timeout=120s'], { reject: false });
      await k.run(['-n', ns, 'delete', 'service/history-server', 'secret/hs-conf', 'configmap/hs-layer', '--ignore-not-found', '--wait=false'], {
        reject: false,
      });
    },
  };
}

/** A PySpark job that keeps its driver and executor up until the scrape is done (a marker on S3). */
const METRICS_JOB = `
import sys, time
from pyspark.sql import SparkSession
bucket = sys.argv[1]
spark = SparkSession.builder.appName("s3-metrics").getOrCreate()
sc = spark.sparkContext
# one write per line: the driver runs Python unbuffered, so print(a, b) is several writes, and the JVM's log
# lines land between them (seen: "SCRAPED26/12/06 … INFO SparkContext: …" and " True" on the next line)
print(f"SUM {sc.parallelize(range(1, 1001), 2).map(lambda x: x * 2).sum()}")
jvm = sc._jvm
path = lambda name: jvm.org.apache.hadoop.fs.Path(f"s3a://{bucket}/metrics/{name}")
fs = path("waiting").getFileSystem(sc._jsc.hadoopConfiguration())
fs.create(path("waiting"), True).close()
deadline = time.time() + 300
while not fs.exists(path("scraped")) and time.time() < deadline:
    time.sleep(1)
print(f"SCRAPED {fs.exists(path('scraped'))}")
spark.stop()
`;

/** Run in a pod: each ROLE=IP argument's /metrics, as metric names, one per line. */
const SCRAPER = `
import sys, urllib.request
for target in sys.argv[1:]:
    role, ip = target.split("=")
    body = urllib.request.urlopen(f"http://{ip}:${JMX_PORT}/metrics", timeout=30).read().decode()
    names = sorted({l.split("{")[0].split(" ")[0] for l in body.splitlines() if l and not l.startswith("#")})
    print("TARGET", role, ip, len(names))
    for n in names:
        print("M", role, n)
`;

/**
 * The CA as the ConfigMap s3-ca and the Secret s3-ca. A spark8t account's pods may mount only Secrets the
 * account may read itself (src/spark8t/registry/isolation.ts: without this Role the executors were refused,
 * "a spark8t account may mount or reference only Secrets it may read itself"), so the account is granted
 * `get` on that one Secret; a ConfigMap needs no grant.
 */
async function caObjects(d: DataContext, account: AccountRef, ca: string): Promise<void> {
  const { k, ns } = d;
  await k.apply([
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 's3-ca', namespace: ns }, data: { 'ca.crt': ca } },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's3-ca', namespace: ns }, stringData: { 'ca.crt': ca } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 's3-ca-reader', namespace: ns },
      rules: [{ apiGroups: [''], resources: ['secrets'], resourceNames: ['s3-ca'], verbs: ['get'] }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 's3-ca-reader', namespace: ns },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 's3-ca-reader' },
      subjects: [{ kind: 'ServiceAccount', name: account.username, namespace: account.namespace }],
    },
  ]);
}

/** What a JVM says when a server's certificate chain ends at a CA it does not trust. */
const CERT_PROBLEM = /PKIX path building failed|unable to find valid certification path/;

/** The node's S3 HTTPS endpoint and its CA file, the CA given to the namespace (caObjects); a failure without one. */
async function tlsWithCa(d: DataContext, account: AccountRef): Promise<{ tlsEndpoint: string; caFile: string }> {
  const s3 = d.cluster().s3;
  if (!s3?.tlsEndpoint || !s3.caFile)
    throw new CheckFailed(
      'the local S3 server has no HTTPS endpoint (cluster.json has no s3.tlsEndpoint)',
      'restart the node: scripts/local-k8s.sh stop; scripts/local-k8s.sh start',
    );
  await d.base();
  await caObjects(d, account, readFileSync(s3.caFile, 'utf8'));
  return { tlsEndpoint: s3.tlsEndpoint, caFile: s3.caFile };
}

/** Writes a small table through s3a at the endpoint the job was given and reads it back (tasks in executors). */
const TLS_JOB = `
import sys
from pyspark.sql import SparkSession
bucket = sys.argv[1]
spark = SparkSession.builder.appName("s3-tls").getOrCreate()
print("ENDPOINT " + spark.sparkContext._jsc.hadoopConfiguration().get("fs.s3a.endpoint"))
people = spark.createDataFrame([(1, "ada"), (2, "grace"), (3, "linus")], ["id", "name"]).repartition(2)
people.write.mode("overwrite").parquet(f"s3a://{bucket}/tls/people")
rows = spark.read.parquet(f"s3a://{bucket}/tls/people").orderBy("id").collect()
print("TLS " + ";".join(f"{r.id}:{r.name}" for r in rows))
spark.stop()
`;

/**
 * TLS_JOB in cluster mode from a user pod, s3a pointed at the HTTPS endpoint. The user pod trusts the CA
 * (the Secret s3-ca at /etc/spark8t/ca, its script sourcing the rock's trust.sh) so that spark-submit can
 * upload the script; with `trusted`, the driver gets the CA from the ConfigMap s3-ca (a pod template) and
 * the executors from the Secret s3-ca (spark.kubernetes.executor.secrets), else neither.
 */
async function tlsJob(d: DataContext, c: S3Ctx, endpoint: string, trusted: boolean) {
  const { k, ns } = d;
  await d.base();
  const name = `tls-${trusted ? 'ca' : 'none'}-${Date.now().toString(36).slice(-4)}`;
  const template = stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    spec: {
      containers: [{ name: 'spark-driver', volumeMounts: [{ name: 's3-ca', mountPath: '/etc/spark8t/ca', readOnly: true }] }],
      volumes: [{ name: 's3-ca', configMap: { name: 's3-ca' } }],
    },
  });
  const conf = [
    `--conf spark.hadoop.fs.s3a.endpoint=${endpoint}`,
    '--conf spark.hadoop.fs.s3a.connection.ssl.enabled=true',
    // one try: a handshake refused is not retried for minutes
    '--conf spark.hadoop.fs.s3a.attempts.maximum=1',
    '--conf spark.hadoop.fs.s3a.retry.limit=1',
    `--conf spark.kubernetes.file.upload.path=s3a://${c.bucket}/uploads-tls`,
    ...(trusted ? ['--conf spark.kubernetes.driver.podTemplateFile=$W/driver.yaml', '--conf spark.kubernetes.executor.secrets.s3-ca=/etc/spark8t/ca'] : []),
  ];
  const script = `export W=/work; cd "$(mktemp -d)"; . /opt/spark/trust.sh; ${c.where.spark('spark-submit', c.account)} ${conf.join(' ')} "$W/tls.py" ${c.bucket} 2>&1`;
  await k.create([
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: `${name}-files`, namespace: ns }, stringData: { 'tls.py': TLS_JOB, 'driver.yaml': template } },
  ]);
  const pod = rockPod(name, ns, d.imageRef, script, { serviceAccount: c.account.username, secret: `${name}-files` });
  pod.spec.volumes.push({ name: 'ca', secret: { secretName: 's3-ca' } });
  pod.spec.containers[0].volumeMounts.push({ name: 'ca', mountPath: '/etc/spark8t/ca', readOnly: true });
  await k.apply([pod]);
  const r = await k.waitDone(ns, name, 420);
  const driver = await k.json(['-n', ns, 'get', 'pod', `${name}-driver`]).catch(() => undefined);
  const driverLog = unprefix((await k.run(['-n', ns, 'logs', `${name}-driver`], { reject: false })).stdout);
  c.outputs.push(`### ${name}: submit pod\n${r.log}`, `### ${name}: driver\n${driverLog}`);
  await k.run(['-n', ns, 'delete', 'secret', `${name}-files`, '--ignore-not-found'], { reject: false });
  return { phase: r.phase, log: r.log, driverPhase: (driver?.status?.phase as string | undefined) ?? 'missing', driverLog };
}

/** Processes whose command line names DIR/ and the addresses they listen on (ss). */
async function listenersOf(dir: string): Promise<{ pids: string[]; addrs: string[] }> {
  const pids = (await execa('pgrep', ['-f', `${dir}/`], { reject: false })).stdout.split('\n').filter(Boolean);
  const ss = (await execa('ss', ['-Hltnp'])).stdout.split('\n');
  const addrs = ss.filter((l) => pids.some((p) => l.includes(`pid=${p},`))).map((l) => l.trim().split(/\s+/)[3] ?? '');
  return { pids, addrs };
}

/**
 * A bucket of its own for ACCOUNT and the account with its s3a settings (add-config from an admin pod):
 * the context ./s3.ts's steps run in (pods on the node), and the keys the account stored.
 */
export async function s3AccountOnNode(d: DataContext, bucket: string, account: AccountRef, outputs: string[]): Promise<{ c: S3Ctx; keys: string[] }> {
  const s3 = d.cluster().s3;
  if (!s3) throw new CheckFailed('the local cluster runs without S3 (LOCAL_K8S_S3=0, or no node)', 'start it with scripts/local-k8s.sh start');
  const secret = readFileSync(s3.secretKeyFile, 'utf8').trim();
  registerSecret(secret);
  const creds: S3Creds = { ...s3, secret };
  await makeBucket(creds, bucket);
  const c: S3Ctx = { where: podWhere(d, s3, bucket, account), s3: creds, bucket, account, outputs };
  return { c, keys: await s3Account(c) };
}

/** The data scenarios, in order ("data N. …", `--only '^data'` selects them). */
export function dataScenarios(d: DataContext, snapOf?: () => Promise<SnapRunner>): Array<[string, () => Promise<string>]> {
  const { k, ns } = d;
  const bucket = dataBucket(ns);
  const account: AccountRef = { username: 's3user', namespace: ns };
  const apps: string[] = [];
  let ctx: S3Ctx | undefined;
  let setup: Promise<S3Ctx> | undefined;
  const mem = new Map<string, Promise<unknown>>();
  const once = <T>(key: string, fn: () => Promise<T>) => {
    if (!mem.has(key)) mem.set(key, fn());
    return mem.get(key) as Promise<T>;
  };
  /** Run a step; any error becomes a failure with the pods' phases, events and log tails (masked). */
  const { fail, guard } = scenarioFailures(k, ns, 30);

  /** The bucket and the account with its s3a settings (add-config from an admin pod). */
  const prepare = () =>
    (setup ??= (async () => {
      const { c, keys } = await s3AccountOnNode(d, bucket, account, []);
      for (const want of ['spark.hadoop.fs.s3a.endpoint', 'spark.hadoop.fs.s3a.access.key', 'spark.hadoop.fs.s3a.secret.key']) {
        if (!keys.includes(want)) throw new CheckFailed(`the account's configuration lacks ${want} after add-config`, keys.join('\n'));
      }
      ctx = c;
      return c;
    })());

  const sql = () =>
    once('sql', async () => {
      const c = await prepare();
      const r = await sparkSqlOnS3(c);
      apps.push('s3-sql');
      return r;
    });

  return [
    [
      'data 1. S3 with the node: listens on loopback and the node address only; add-config stores the s3a settings',
      () =>
        guard(async () => {
          const s3 = d.cluster().s3;
          if (!s3) throw new CheckFailed('the local cluster runs without S3 (LOCAL_K8S_S3=0, or no node)', '');
          const node = d.cluster().node!.ip;
          const { pids, addrs } = await listenersOf(dirname(s3.secretKeyFile));
          const port = new URL(s3.podEndpoint).port;
          // Loopback and the node address (S3 and the pods' gateway's gRPC port), never 0.0.0.0 or [::].
          const bad = addrs.filter((a) => !a.startsWith('127.0.0.1:') && !a.startsWith(`${node}:`));
          if (!pids.length || bad.length || !addrs.includes(`${node}:${port}`))
            throw new CheckFailed(`S3 listens on ${addrs.join(', ') || 'nothing'} (pids ${pids.join(' ')})`, '');
          await prepare();
          return `${pids.length} weed processes on ${addrs.length} sockets, ${addrs.filter((a) => a.startsWith(`${node}:`)).length} on ${node} (S3 ${port}), the rest on 127.0.0.1; account ${account.username} has its s3a settings`;
        }),
    ],
    [
      'data 1b. spark-sql from a pod (executors as pods): CREATE TABLE, INSERT, SELECT on an s3a warehouse',
      () =>
        guard(async () => {
          const { rows, keys } = await sql();
          if (rows.join('|') !== 'ROW 2 grace|ROW 3 linus' || !keys.some((x) => x.endsWith('.parquet')))
            throw await fail(`rows ${JSON.stringify(rows)}, ${keys.length} warehouse objects`);
          return `${rows.join(', ')}; ${keys.filter((x) => x.endsWith('.parquet')).length} parquet object(s) in s3a://${bucket}/warehouse`;
        }),
    ],
    [
      'data 1c. PySpark in cluster mode (script uploaded through s3a) reads the table back; 11 MB written in parts',
      () =>
        guard(async () => {
          await sql();
          const c = await prepare();
          const r = await pysparkReadsBack(c);
          apps.push('s3-readback');
          if (r.read !== '1:ada;2:grace;3:linus' || r.big !== 300000 || !/-[2-9]$/.test(r.bigEtag))
            throw await fail(`read ${r.read}, big ${r.big}, etag ${r.bigEtag}`);
          const uploads = await listKeys(c.s3, bucket, 'uploads/');
          return `read ${r.read}; ${r.big} lines in a multipart object (ETag …${r.bigEtag.slice(-2)}); ${uploads.length} upload(s)`;
        }),
    ],
    [
      'data 2. Iceberg on S3 from pods: create, insert twice, select',
      () =>
        guard(async () => {
          const c = await prepare();
          const r = await icebergOnS3(c);
          apps.push('s3-iceberg');
          if (r.rows.join('|') !== 'ICE 3 3|SNAPSHOTS 2' || r.metadata.filter((x) => x.endsWith('.metadata.json')).length < 3)
            throw await fail(`rows ${JSON.stringify(r.rows)}, metadata ${r.metadata.length}`);
          return `${r.rows.join(', ')}; ${r.metadata.filter((x) => x.endsWith('.metadata.json')).length} metadata files`;
        }),
    ],
    [
      'data 3. metrics: the JMX Prometheus agent on the driver and its executor, scraped from a pod',
      () =>
        guard(async () => {
          const c = await prepare();
          const name = `metrics-${Date.now().toString(36).slice(-4)}`;
          const agent = `-javaagent:$JMX=${JMX_PORT}:/etc/spark/conf/jmx_prometheus.yaml`;
          const script = [
            'export W=/work; cd "$(mktemp -d)"; JMX=$(ls /opt/spark/jars/jmx_prometheus_javaagent-*.jar | head -1);',
            `${c.where.spark('spark-submit', account)} ${eventLogConf(bucket)}`,
            `--conf 'spark.metrics.conf.*.sink.jmx.class=org.apache.spark.metrics.sink.JmxSink'`,
            `--conf "spark.driver.extraJavaOptions=${agent}" --conf "spark.executor.extraJavaOptions=${agent}"`,
            `"$W/metrics.py" ${bucket} 2>&1`,
          ].join(' ');
          await k.create([{ apiVersion: 'v1', kind: 'Secret', metadata: { name: `${name}-files`, namespace: ns }, stringData: { 'metrics.py': METRICS_JOB } }]);
          await k.apply([rockPod(name, ns, d.imageRef, script, { serviceAccount: account.username, secret: `${name}-files` })]);
          const driver = `${name}-driver`;
          // Wait until the job has run its tasks and waits (its marker on S3).
          const until = Date.now() + 420_000;
          while (Date.now() < until && !(await listKeys(c.s3, bucket, 'metrics/waiting')).length) {
            const p = await k.json(['-n', ns, 'get', 'pod', name]).catch(() => undefined);
            if (p?.status?.phase === 'Failed' || p?.status?.phase === 'Succeeded') break;
            await sleep(2000);
          }
          const dp = await k.json(['-n', ns, 'get', 'pod', driver]).catch(() => undefined);
          const execs = (await k.executorsOf(ns, dp)).filter((p: Json) => p.status?.phase === 'Running');
          if (dp?.status?.phase !== 'Running' || !execs.length)
            throw await fail(
              `driver ${dp?.status?.phase ?? 'missing'}, ${execs.length} running executor(s)`,
              (await k.run(['-n', ns, 'logs', name], { reject: false })).stdout,
            );
          const targets = [`driver=${dp.status.podIP}`, ...execs.map((p: Json) => `executor=${p.status.podIP}`)];
          const scrape = `${name}-scrape`;
          await k.apply([
            rockPod(
              scrape,
              ns,
              d.imageRef,
              `echo ${Buffer.from(SCRAPER).toString('base64')} | base64 -d > /tmp/scrape.py && python3 /tmp/scrape.py ${targets.join(' ')}`,
            ),
          ]);
          const s = await k.waitDone(ns, scrape, 300);
          await s3Request(c.s3, 'PUT', `/${bucket}/metrics/scraped`, { body: 'done' });
          const r = await k.waitDone(ns, name, 300);
          const dlog = unprefix((await k.run(['-n', ns, 'logs', driver], { reject: false })).stdout);
          c.outputs.push(`### metrics: submit pod\n${r.log}`, `### metrics: driver\n${dlog}`, `### metrics: scrape\n${s.log}`);
          apps.push('s3-metrics');
          const names = (role: string) => [...s.log.matchAll(new RegExp(`^M ${role} (\\S+)$`, 'gm'))].map((m) => m[1]!);
          // The rock's rules (jmx_prometheus.yaml) name Spark's figures spark_<source>_<metric>, with the
          // application and executor as labels: no name may carry the application id (metrics_<app id>_…).
          const spark = (role: string) => names(role).filter((n) => n.startsWith('spark_'));
          const dSpark = spark('driver');
          const eSpark = spark('executor');
          const perApp = [...names('driver'), ...names('executor')].filter((n) => n.startsWith('metrics_'));
          if (
            s.phase !== 'Succeeded' ||
            !dSpark.some((n) => n.startsWith('spark_dagscheduler_')) ||
            !dSpark.some((n) => n.startsWith('spark_blockmanager_')) ||
            !eSpark.some((n) => n.startsWith('spark_executor_')) ||
            !names('driver').some((n) => n.startsWith('jvm_')) ||
            perApp.length
          ) {
            throw await fail(
              `scrape pod ${s.phase}: driver ${names('driver').length} names (${dSpark.length} spark_*), executor ${names('executor').length} (${eSpark.length} spark_*), ${perApp.length} named after the application; e.g. ${[...dSpark.slice(0, 5), ...eSpark.slice(0, 5), ...perApp.slice(0, 3)].join(' ')}`,
              s.log,
            );
          }
          if (r.phase !== 'Succeeded' || !/SCRAPED True/.test(dlog)) throw await fail(`metrics job: submit pod ${r.phase}`, `${r.log}\n${dlog}`);
          return `driver ${dSpark.length} spark_* metrics (e.g. ${dSpark.find((n) => n.startsWith('spark_dagscheduler_'))}), executor ${eSpark.length} (e.g. ${eSpark.find((n) => n.startsWith('spark_executor_'))}), jvm_* on both`;
        }),
    ],
    [
      "data 4. history server: the rock as a Deployment + Service lists the jobs' applications from S3; the UI answers",
      () =>
        guard(async () => {
          if (!apps.length) await sql();
          const c = ctx ?? (await prepare());
          const t = Date.now();
          const r = await historyServerOnS3(c, apps, { browse: (url, ids) => browseHistory(url, ids, apps.length) });
          const seconds = (Date.now() - t) / 1000;
          // The application ids the jobs' event logs on S3 carry are the ones the server lists.
          const logged = [...(await eventLogs(c.s3, bucket)).apps.keys()];
          const missing = logged.filter((id) => !r.ids.includes(id));
          if (r.ui !== 200 || r.redactedEnvironments !== apps.length || missing.length)
            throw await fail(
              `UI ${r.ui}, ${r.redactedEnvironments}/${apps.length} environments with the secret redacted, event logs of ${missing.join(', ') || 'none'} not listed`,
            );
          const [list, jobs] = r.seen;
          return `lists ${r.listed.join(', ')} = the ${logged.length} app ids of the event logs (${seconds.toFixed(0)} s from deployment to listed); UI 200; secret redacted in ${r.redactedEnvironments} environments; in Chromium: ${list!.rows.length} application rows, ${jobs!.rows.length} completed job(s) of ${r.ids[0]} (${list!.screenshot}, ${jobs!.screenshot})`;
        }),
    ],
    [
      'data 4b. S3 over TLS with a private CA: a cluster-mode job whose driver trusts the CA from a ConfigMap and its executors from a Secret writes and reads s3a over HTTPS; without the CA in its pods the job fails, naming the certificate problem',
      () =>
        guard(async () => {
          const c = ctx ?? (await prepare());
          const s3 = await tlsWithCa(d, account);
          const t = Date.now();
          const ok = await tlsJob(d, c, s3.tlsEndpoint, true);
          const seconds = (Date.now() - t) / 1000;
          const objects = await listKeys(c.s3, bucket, 'tls/people/');
          if (
            ok.phase !== 'Succeeded' ||
            ok.driverPhase !== 'Succeeded' ||
            !ok.driverLog.includes('TLS 1:ada;2:grace;3:linus') ||
            !ok.driverLog.includes(`ENDPOINT ${s3.tlsEndpoint}`) ||
            !objects.some((x) => x.endsWith('.parquet'))
          )
            throw await fail(
              `with the CA: submit pod ${ok.phase}, driver ${ok.driverPhase}, ${objects.length} object(s) under tls/people/`,
              `${ok.log}\n${ok.driverLog}`,
            );
          const trusted = ok.driverLog.match(/trust: \d+ certificate\(s\)[^\n]*/)?.[0];
          const no = await tlsJob(d, c, s3.tlsEndpoint, false);
          if (no.driverPhase !== 'Failed' || !CERT_PROBLEM.test(no.driverLog))
            throw await fail(
              `without the CA: driver ${no.driverPhase}; its log ${CERT_PROBLEM.test(no.driverLog) ? 'names' : 'does not name'} the certificate problem`,
              `${no.log}\n${no.driverLog}`,
            );
          const said = no.driverLog.match(CERT_PROBLEM)![0];
          return `with the CA: driver Succeeded in ${seconds.toFixed(0)} s (${trusted ?? 'trust line missing'}), read back 1:ada;2:grace;3:linus over ${s3.tlsEndpoint}, ${objects.filter((x) => x.endsWith('.parquet')).length} parquet object(s); without it: driver Failed, "${said}"`;
        }),
    ],
    ...(snapOf
      ? ([
          [
            'data 4c. the snap on the host: before import-certificate its spark-sql fails on S3 over HTTPS naming the certificate problem; after it, spark-sql (driver on the host, an executor pod with the CA Secret) writes and reads s3a over HTTPS',
            () =>
              guard(async () => {
                const c = ctx ?? (await prepare());
                const s3 = await tlsWithCa(d, account);
                const snap = await snapOf();
                // The host's user: the admin's kubeconfig, as `~/.kube/config` of the snap's user.
                await snap.asHostUser(d.cluster().adminKubeconfig);
                const store = join(snap.dirs.userData, 'truststore.jks');
                rmSync(store, { force: true });
                const node = d.cluster().node!.ip;
                const sql = [
                  `INSERT OVERWRITE DIRECTORY 's3a://${bucket}/tls/snap' USING parquet SELECT * FROM VALUES (1, 'ada'), (2, 'grace') AS t(id, name);`,
                  `SELECT concat('SNAPTLS ', count(*), ' ', sum(id)) FROM parquet.\`s3a://${bucket}/tls/snap\`;`,
                ].join('\n');
                const work = mkdtempSync(join(snap.dirs.userData, 'tls-'));
                const sparkSql = () =>
                  snap.app(
                    'spark-sql',
                    [
                      ...['--username', account.username, '--namespace', ns, ...SMALL],
                      ...['--conf', 'spark.executor.instances=1', '--conf', `spark.driver.host=${node}`],
                      ...[
                        '--conf',
                        `spark.hadoop.fs.s3a.endpoint=${s3.tlsEndpoint}`,
                        '--conf',
                        'spark.hadoop.fs.s3a.attempts.maximum=1',
                        '--conf',
                        'spark.hadoop.fs.s3a.retry.limit=1',
                      ],
                      ...['--conf', 'spark.kubernetes.executor.secrets.s3-ca=/etc/spark8t/ca', '-e', sql],
                    ],
                    { timeout: 300_000, cwd: work },
                  );
                try {
                  const before = await sparkSql();
                  const beforeOut = `${before.stdout}\n${before.stderr}`;
                  c.outputs.push(`### snap spark-sql without the CA\n${beforeOut}`);
                  if (before.exitCode === 0 || !CERT_PROBLEM.test(beforeOut))
                    throw await fail(
                      `without import-certificate the snap's spark-sql exited ${before.exitCode}, ${CERT_PROBLEM.test(beforeOut) ? 'naming' : 'not naming'} the certificate problem`,
                      beforeOut,
                    );
                  const imp = await snap.app('import-certificate', ['local-s3-ca', s3.caFile]);
                  if (imp.exitCode !== 0 || !existsSync(store)) throw await fail(`import-certificate exited ${imp.exitCode}`, `${imp.stdout}\n${imp.stderr}`);
                  const t = Date.now();
                  const after = await sparkSql();
                  const out = `${after.stdout}\n${after.stderr}`;
                  c.outputs.push(`### snap spark-sql with the CA\n${out}`);
                  if (after.exitCode !== 0 || !/^SNAPTLS 2 3$/m.test(after.stdout))
                    throw await fail(`after import-certificate the snap's spark-sql exited ${after.exitCode}`, out);
                  return `before: exit ${before.exitCode}, "${beforeOut.match(CERT_PROBLEM)![0]}"; import-certificate: ${imp.stdout.split('\n')[0]}; after: SNAPTLS 2 3 over ${s3.tlsEndpoint} in ${((Date.now() - t) / 1000).toFixed(0)} s`;
                } finally {
                  rmSync(work, { recursive: true, force: true });
                }
              }),
          ],
        ] as Array<[string, () => Promise<string>]>)
      : []),
    [
      'data 5. the secret key is in no output, driver log, history server answer, event log, ConfigMap or pod spec',
      () =>
        guard(async () => {
          const c = ctx ?? (await prepare());
          const logs = await eventLogs(c.s3, bucket);
          // Spark's driver ConfigMaps (spark-drv-…-conf-map, readable by every account of the
          // namespace) and the pods' specs: the key reaches the pods by reference to the account's
          // Secret (src/spark8t/conf/secret-refs.ts).
          const objects = (await k.run(['-n', ns, 'get', 'configmaps,pods', '-o', 'yaml'])).stdout;
          const confMaps = (objects.match(/name: spark-drv-\S+-conf-map/g) ?? []).length;
          const refs = (objects.match(/name: SPARK8T_SPARK_HADOOP_FS_S3A_SECRET_KEY\n\s+valueFrom:\n\s+secretKeyRef:/g) ?? []).length;
          const seen = [
            ...secretSightings(c.outputs, c.s3.secret),
            ...[...logs.apps].flatMap(([app, text]) => secretSightings([`### event log of ${app}\n${text}`], c.s3.secret)),
            ...secretSightings([`### ConfigMaps and pods of ${ns}\n${objects}`], c.s3.secret),
          ];
          if (confMaps === 0 || refs === 0)
            throw await fail(`expected driver ConfigMaps and pods taking the key by reference: ${confMaps} driver ConfigMap(s), ${refs} secretKeyRef(s)`);
          const unredacted = [...logs.apps].filter(([, text]) => !/"spark\.hadoop\.fs\.s3a\.secret\.key":"\*+\(redacted\)"/.test(text)).map(([a]) => a);
          if (seen.length || unredacted.length || c.outputs.length < 2)
            throw await fail(`secret seen ${seen.length} time(s); event logs without the redacted key: ${unredacted.join(', ')}`, seen.join('\n'));
          return `${c.outputs.length} outputs (${c.outputs.join('').length} chars), ${logs.apps.size} event logs, ${confMaps} driver ConfigMaps, pods with ${refs} reference(s) to the key: no secret`;
        }),
    ],
  ];
}

/** Drop the scenarios' bucket (SeaweedFS deletes a non-empty bucket with its objects). */
export async function cleanupData(c: LocalCluster, ns: string): Promise<void> {
  if (!c.s3) return;
  const secret = readFileSync(c.s3.secretKeyFile, 'utf8').trim();
  await s3Request({ ...c.s3, secret }, 'DELETE', `/${dataBucket(ns)}`).catch(() => undefined);
}
