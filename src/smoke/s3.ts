/**
 * Spark on the local S3 server, as scenarios that take a "where Spark runs" (`Where`): today the
 * built rock under podman with host networking in local mode (`rockWhere`); the local node's pods
 * later, with the same scenario functions. Every scenario records what it printed in `ctx.outputs`,
 * so a test can assert the secret key never appears there.
 */
import type { UiSeen } from './browser.ts';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { sweepLeftovers } from '../lib/fsx.ts';
import type { RockRunner } from './runner.ts';
import { freePort } from './checks.ts';
import { listKeys, s3GetBytes, s3Request, type S3Creds } from '../lib/s3.ts';
import { temporary } from '../lib/interrupt.ts';

export interface RunResult {
  exitCode: number;
  output: string;
}

export interface AccountRef {
  username: string;
  namespace: string;
}

export interface HistoryServer {
  url: string;
  logs(): Promise<string>;
  stop(): Promise<void>;
}

export interface Where {
  readonly name: string;
  /** The S3 endpoint as Spark sees it from where it runs. */
  readonly s3Endpoint: string;
  /**
   * Run a bash script where Spark runs, with the rock's environment and KUBECONFIG set; `files` are
   * in the directory "$W" (readable by the rock's user only). Output is stdout and stderr together.
   */
  run(script: string, files?: Record<string, string>, timeoutMs?: number, o?: { admin?: boolean }): Promise<RunResult>;
  /** The shell words that run spark8t's `tool` as `account` there (its configuration merged in). */
  spark(tool: 'spark-sql' | 'spark-submit', account: AccountRef): string;
  /** The rock's `history-server` pebble service with `properties` as its properties file. */
  historyServer(properties: string): Promise<HistoryServer>;
  close(): Promise<void>;
}

export interface S3Ctx {
  where: Where;
  s3: S3Creds;
  bucket: string;
  account: AccountRef;
  /** Everything the scenarios printed or fetched (checked for the secret by the tests). */
  outputs: string[];
}

/**
 * Where `secret` occurs in `outputs` (each starting with a `### label` line): the label and some
 * context with the secret masked, so that a failing check never prints the secret itself.
 */
export function secretSightings(outputs: string[], secret: string): string[] {
  const found: string[] = [];
  for (const o of outputs) {
    let i = o.indexOf(secret);
    while (i >= 0) {
      const ctxt = o
        .slice(Math.max(0, i - 120), i + secret.length + 40)
        .split(secret)
        .join('<SECRET>');
      found.push(`${o.split('\n', 1)[0]}: …${ctxt}…`);
      i = o.indexOf(secret, i + secret.length);
    }
  }
  return found;
}

export class ScenarioFailed extends Error {
  constructor(scenario: string, what: string, output: string) {
    super(`${scenario}: ${what}\n${output.trim().split('\n').slice(-30).join('\n')}`);
  }
}

/** The s3a settings an account needs for our S3 (the secret included: it goes to a 0600 file). */
export function s3aProperties(s3: S3Creds, endpoint: string): string {
  return [
    `spark.hadoop.fs.s3a.endpoint=${endpoint}`,
    `spark.hadoop.fs.s3a.endpoint.region=${s3.region}`,
    'spark.hadoop.fs.s3a.path.style.access=true',
    'spark.hadoop.fs.s3a.connection.ssl.enabled=false',
    'spark.hadoop.fs.s3a.aws.credentials.provider=org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider',
    `spark.hadoop.fs.s3a.access.key=${s3.accessKey}`,
    `spark.hadoop.fs.s3a.secret.key=${s3.secret}`,
    '',
  ].join('\n');
}

// The two settings of event logging on S3; and a threshold of 0 makes Spark's slow-event log line
// (which prints job properties, the secret among them, unless the rock's default turns it off) certain.
export const eventLogConf = (bucket: string) =>
  `--conf spark.eventLog.enabled=true --conf spark.eventLog.dir=s3a://${bucket}/spark-events --conf spark.scheduler.listenerbus.logSlowEvent.threshold=0`;

async function step(
  ctx: S3Ctx,
  scenario: string,
  script: string,
  files?: Record<string, string>,
  timeoutMs?: number,
  o?: { admin?: boolean },
): Promise<string> {
  const r = await ctx.where.run(script, files, timeoutMs, o);
  ctx.outputs.push(`### ${scenario}\n${r.output}`);
  if (r.exitCode !== 0) throw new ScenarioFailed(`${scenario} (${ctx.where.name})`, `exit ${r.exitCode}`, r.output);
  return r.output;
}

/** A bucket, with the `spark-events/` prefix Spark and the history server expect to exist. */
export async function makeBucket(s3: S3Creds, bucket: string): Promise<void> {
  for (const path of [`/${bucket}`, `/${bucket}/spark-events/`]) {
    const r = await s3Request(s3, 'PUT', path);
    if (r.status !== 200) throw new Error(`PUT ${path}: HTTP ${r.status} ${r.body.slice(0, 200)}`);
  }
}

/** spark8t: the account, then its s3a settings with `add-config --properties-file`. Returns the keys stored. */
export async function s3Account(ctx: S3Ctx): Promise<string[]> {
  const { username, namespace } = ctx.account;
  const out = await step(
    ctx,
    'S3 account',
    [
      `spark-client.service-account-registry create --username ${username} --namespace ${namespace}`,
      `spark-client.service-account-registry add-config --username ${username} --namespace ${namespace} --properties-file "$W/s3a.conf"`,
      // keys only: the values hold the secret
      `spark-client.service-account-registry get-config --username ${username} --namespace ${namespace} | cut -d= -f1 | sed 's/^/KEY /'`,
    ].join(' && '),
    { 's3a.conf': s3aProperties(ctx.s3, ctx.where.s3Endpoint) },
    undefined,
    { admin: true },
  );
  return [...out.matchAll(/^KEY (\S+)$/gm)].map((m) => m[1]!);
}

/** spark-sql: CREATE TABLE / INSERT / SELECT in an s3a warehouse; event log on S3. Returns the selected rows. */
export async function sparkSqlOnS3(ctx: S3Ctx): Promise<{ rows: string[]; keys: string[] }> {
  const sql = [
    'CREATE TABLE s3_people (id INT, name STRING) USING parquet;',
    "INSERT INTO s3_people VALUES (1, 'ada'), (2, 'grace'), (3, 'linus');",
    "SELECT concat('ROW ', id, ' ', name) FROM s3_people WHERE id >= 2 ORDER BY id;",
  ].join('\n');
  const out = await step(
    ctx,
    'spark-sql on S3',
    `cd "$(mktemp -d)" && ${ctx.where.spark('spark-sql', ctx.account)} --conf spark.app.name=s3-sql ${eventLogConf(ctx.bucket)} --conf spark.sql.warehouse.dir=s3a://${ctx.bucket}/warehouse -f "$W/q.sql" 2>&1`,
    { 'q.sql': sql },
  );
  return { rows: [...out.matchAll(/^ROW .*$/gm)].map((m) => m[0]), keys: await listKeys(ctx.s3, ctx.bucket, 'warehouse/s3_people/') };
}

const READBACK = `
import sys
from pyspark.sql import SparkSession
bucket = sys.argv[1]
spark = SparkSession.builder.appName("s3-readback").getOrCreate()
rows = sorted((r.id, r.name) for r in spark.read.parquet(f"s3a://{bucket}/warehouse/s3_people").collect())
print("READ " + ";".join(f"{i}:{n}" for i, n in rows))  # one write: see data.ts METRICS_JOB
# One object of about 11 MB with 5 MB parts: s3a's multipart upload.
big = spark.range(0, 300000, numPartitions=1).selectExpr("concat(cast(id as string), repeat('x', 30)) as line")
big.write.mode("overwrite").text(f"s3a://{bucket}/big")
print(f"BIG {spark.read.text(f's3a://{bucket}/big').count()}")
spark.stop()
`;

/** A PySpark job reads the spark-sql table back from S3 and writes one multipart object. */
export async function pysparkReadsBack(ctx: S3Ctx): Promise<{ read: string; big: number; bigEtag: string; tail: string }> {
  const out = await step(
    ctx,
    'PySpark reads S3',
    `cd "$(mktemp -d)" && ${ctx.where.spark('spark-submit', ctx.account)} ${eventLogConf(ctx.bucket)} --conf spark.hadoop.fs.s3a.multipart.size=5M "$W/readback.py" ${ctx.bucket} 2>&1`,
    { 'readback.py': READBACK },
  );
  const list = await s3Request(ctx.s3, 'GET', `/${ctx.bucket}`, { query: { 'list-type': '2', prefix: 'big/part-' } });
  return {
    // What a failing job said last (the job's own lines, not a fixed message).
    tail: out.split('\n').slice(-40).join('\n'),
    read: out.match(/^READ (.*)$/m)?.[1] ?? '',
    big: Number(out.match(/^BIG (\d+)$/m)?.[1] ?? -1),
    bigEtag: list.body.match(/<ETag>([^<]*)<\/ETag>/)?.[1]?.replace(/&#34;|&quot;|"/g, '') ?? '',
  };
}

/** Iceberg (the rock's runtime jar), a Hadoop catalog on s3a: create, insert twice, select. */
export async function icebergOnS3(ctx: S3Ctx): Promise<{ rows: string[]; metadata: string[] }> {
  const cat = [
    'spark.sql.extensions=org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions',
    'spark.sql.catalog.lake=org.apache.iceberg.spark.SparkCatalog',
    'spark.sql.catalog.lake.type=hadoop',
    `spark.sql.catalog.lake.warehouse=s3a://${ctx.bucket}/iceberg`,
  ]
    .map((c) => `--conf ${c}`)
    .join(' ');
  const sql = [
    'CREATE NAMESPACE IF NOT EXISTS lake.db;',
    'CREATE TABLE lake.db.events (id BIGINT, kind STRING) USING iceberg;',
    "INSERT INTO lake.db.events VALUES (1, 'a'), (2, 'b');",
    "INSERT INTO lake.db.events VALUES (3, 'c');",
    "SELECT concat('ICE ', count(*), ' ', max(id)) FROM lake.db.events;",
    "SELECT concat('SNAPSHOTS ', count(*)) FROM lake.db.events.snapshots;",
  ].join('\n');
  const out = await step(
    ctx,
    'Iceberg on S3',
    `cd "$(mktemp -d)" && ${ctx.where.spark('spark-sql', ctx.account)} --conf spark.app.name=s3-iceberg ${eventLogConf(ctx.bucket)} ${cat} -f "$W/ice.sql" 2>&1`,
    { 'ice.sql': sql },
  );
  return { rows: [...out.matchAll(/^(ICE|SNAPSHOTS) .*$/gm)].map((m) => m[0]), metadata: await listKeys(ctx.s3, ctx.bucket, 'iceberg/db/events/metadata/') };
}

/**
 * The event logs under s3a://bucket/spark-events/, one entry per application, as text: a single file
 * (Spark 3.x) or a rolling directory `eventlog_v2_<app>/` of zstd-compressed parts (Spark 4's defaults).
 */
export async function eventLogs(s3: S3Creds, bucket: string): Promise<{ apps: Map<string, string>; inProgress: string[] }> {
  const files = (await listKeys(s3, bucket, 'spark-events/')).filter((k) => !k.endsWith('/'));
  const apps = new Map<string, string>();
  for (const k of files) {
    const app = k
      .split('/')[1]!
      .replace(/^eventlog_v2_/, '')
      .replace(/\.(inprogress|zstd|lz4|snappy|lzf)$/g, '');
    const bytes = await s3GetBytes(s3, `/${bucket}/${k}`);
    let text: string;
    if (/\.zstd(\.inprogress)?$/.test(k)) text = (await execa('zstd', ['-dc'], { input: bytes, encoding: 'utf8' })).stdout;
    else if (/\.(lz4|snappy|lzf)(\.inprogress)?$/.test(k))
      throw new Error(`event log ${k}: codec not readable by the test (set spark.eventLog.compression.codec=zstd)`);
    else text = bytes.toString('utf8');
    apps.set(app, (apps.get(app) ?? '') + text);
  }
  return { apps, inProgress: files.filter((k) => k.endsWith('.inprogress')) };
}

/** The rock's history server reading the event logs from S3 lists `names` as completed applications. */
export async function historyServerOnS3(
  ctx: S3Ctx,
  names: string[],
  o: { timeoutMs?: number; browse?: (url: string, ids: string[]) => Promise<UiSeen[]> } = {},
): Promise<{ listed: string[]; ids: string[]; ui: number; redactedEnvironments: number; seen: UiSeen[] }> {
  const timeoutMs = o.timeoutMs ?? 420_000;
  const props = [
    s3aProperties(ctx.s3, ctx.where.s3Endpoint).trim(),
    `spark.history.fs.logDirectory=s3a://${ctx.bucket}/spark-events`,
    'spark.history.fs.update.interval=2s',
    '',
  ].join('\n');
  const hs = await ctx.where.historyServer(props);
  let body = '';
  let found: { listed: string[]; ids: string[]; ui: number; redactedEnvironments: number } | undefined;
  try {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      try {
        const res = await fetch(`${hs.url}/api/v1/applications`);
        body = await res.text();
        const apps = JSON.parse(body) as Array<{ id: string; name: string; attempts: Array<{ completed: boolean }> }>;
        const listed = apps.filter((a) => a.attempts.some((t) => t.completed)).map((a) => a.name);
        if (names.every((n) => listed.includes(n))) {
          ctx.outputs.push(`### history: /api/v1/applications\n${body}`);
          const ui = await fetch(`${hs.url}/`);
          const page = await ui.text();
          ctx.outputs.push(`### history: UI page\n${page}`);
          // Each application's environment as the server shows it: the secret key redacted.
          let redactedEnvironments = 0;
          for (const a of apps.filter((x) => names.includes(x.name))) {
            const env = await (await fetch(`${hs.url}/api/v1/applications/${a.id}/environment`)).text();
            ctx.outputs.push(`### history: environment of ${a.name}\n${env}`);
            if (/"spark\.hadoop\.fs\.s3a\.secret\.key",\s*"\*+\(redacted\)"/.test(env)) redactedEnvironments++;
          }
          const ids = apps.filter((a) => a.attempts.some((t) => t.completed)).map((a) => a.id);
          found = { listed: listed.sort(), ids, ui: /History Server/.test(page) ? ui.status : -ui.status, redactedEnvironments };
          break;
        }
      } catch {
        /* not up yet */
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    if (!found)
      throw new ScenarioFailed(`history server on S3 (${ctx.where.name})`, `did not list ${names.join(', ')}: ${body.slice(0, 300)}`, await hs.logs());
    // The UI as a user sees it (its table is rendered by JavaScript), while the server runs.
    return { ...found, seen: o.browse ? await o.browse(hs.url, found.ids) : [] };
  } finally {
    ctx.outputs.push(`### history: server log\n${await hs.logs()}`);
    await hs.stop();
  }
}

/**
 * The built rock under podman with the host's network, Spark in local mode. The account's
 * configuration is what spark8t's `get-config` gives (into a private file in the container), since
 * the wrappers' `--master local[N]` runs without an account.
 */
/** The JVM option that logs every class a JVM loads, with the jar or module it came from, to `dir/<pid>.log`. */
export const classLoadLogOption = (dir: string) => `-Xlog:class+load=info:file=${dir}/%p.log`;

/**
 * Pure: the classes a `-Xlog:class+load` log names whose name starts with one of `prefixes`, each with
 * where it was loaded from (`file:/opt/spark/jars/x.jar`, `jrt:/java.base`, `shared objects file`, ...).
 */
export function classLoads(log: string, prefixes: string[]): Array<{ cls: string; source: string }> {
  const out: Array<{ cls: string; source: string }> = [];
  for (const line of log.split('\n')) {
    const m = line.match(/\[class,load\s*\]\s+(\S+)\s+source:\s+(.+)$/);
    if (m && prefixes.some((p) => m[1]!.startsWith(p))) out.push({ cls: m[1]!, source: m[2]!.trim() });
  }
  return out;
}

/**
 * Spark run in the rock under podman (local mode). With `classLog` (a host directory), every Spark JVM
 * there (spark-submit's driver, the history server) logs the classes it loads into it.
 */
export async function rockWhere(rock: RockRunner, o: { kubeconfig: string; s3Endpoint: string; uid: number; classLog?: string }): Promise<Where> {
  // The directory holds the kubeconfig and the s3a secret: what a killed run left is swept first.
  await sweepLeftovers(tmpdir(), /^sparkcraft-s3-(\d+)-\w+$/);
  const work = temporary(mkdtempSync(join(tmpdir(), `sparkcraft-s3-${process.pid}-`)));
  chownSync(work, o.uid, o.uid);
  chmodSync(work, 0o700);
  const kube = join(work, 'kubeconfig');
  writeFileSync(kube, o.kubeconfig, { mode: 0o600 });
  chownSync(kube, o.uid, o.uid);
  let n = 0;
  /** A fresh directory of `files`, owned by the rock's user, 0700/0600. */
  const put = (files: Record<string, string>) => {
    const dir = join(work, `run-${n++}`);
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, o.uid, o.uid);
    for (const [name, text] of Object.entries(files)) {
      const f = join(dir, name);
      writeFileSync(f, text, { mode: 0o600 });
      chownSync(f, o.uid, o.uid);
    }
    return dir;
  };
  const containers: string[] = [];
  return {
    name: 'rock in podman, local mode',
    s3Endpoint: o.s3Endpoint,
    async run(script, files = {}, timeoutMs = 600_000) {
      const dir = put(files);
      const r = await rock.run(['-c', `export W=/work; ${script}`], {
        entrypoint: '/bin/bash',
        volumes: [`${dir}:/work`, `${kube}:/kube/config:ro`, ...(o.classLog ? [`${o.classLog}:/classlog`] : [])],
        envs: { KUBECONFIG: '/kube/config', ...(o.classLog ? { SPARK_SUBMIT_OPTS: classLoadLogOption('/classlog') } : {}) },
        timeout: timeoutMs,
      });
      return { exitCode: r.exitCode ?? -1, output: `${r.stdout}\n${r.stderr}`.trim() };
    },
    spark(tool, a) {
      // The rock's defaults first, then the account's settings (later keys win), as the wrappers merge them.
      return `(umask 077; cat /etc/spark8t/conf/spark-defaults.conf > /tmp/account.conf && spark-client.service-account-registry get-config --show-secrets --username ${a.username} --namespace ${a.namespace} >> /tmp/account.conf) && ${tool} --master 'local[2]' --properties-file /tmp/account.conf`;
    },
    async historyServer(properties) {
      const dir = put({ 'spark-defaults.conf': properties });
      const port = await freePort();
      const name = `sparkcraft-s3-hs-${process.pid}-${n}`;
      containers.push(name);
      await rock.start(name, {
        volumes: [`${join(dir, 'spark-defaults.conf')}:/etc/spark8t/conf/spark-defaults.conf:ro`, ...(o.classLog ? [`${o.classLog}:/classlog`] : [])],
        // Its listing on disk in RocksDB (the store a history server keeps across restarts): the rock's
        // rocksdbjni keeps only this architecture's JNI library (src/stage/native-libs.ts), loaded here.
        envs: {
          SPARK_HISTORY_OPTS: `-Dspark.history.ui.port=${port} -Dspark.history.store.path=/tmp/spark-history-store -Dspark.history.store.hybridStore.diskBackend=ROCKSDB${o.classLog ? ` ${classLoadLogOption('/classlog')}` : ''}`,
        },
      });
      const st = await rock.exec(name, ['pebble', 'start', 'history-server']);
      if (st.exitCode !== 0) throw new ScenarioFailed('history server', 'pebble start history-server failed', `${st.stdout}\n${st.stderr}`);
      return {
        url: `http://127.0.0.1:${port}`,
        logs: async () => {
          const l = await rock.logs(name);
          return `${l.stdout}\n${l.stderr}`;
        },
        stop: async () => {
          await rock.remove(name);
        },
      };
    },
    async close() {
      for (const c of containers) await rock.remove(c);
      rmSync(work, { recursive: true, force: true });
    },
  };
}
