/**
 * Spark on the local S3 server (scripts/local-s3.sh) with the built rock: s3a settings in a spark8t
 * account, spark-sql and PySpark on an s3a warehouse, an Iceberg table, event logs on S3 read by the
 * rock's history server; the secret key never shows. Runs the scenarios of support/s3-scenarios.ts
 * in the rock under podman (local mode); the node's pods can run the same functions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { chownSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockedInputsFor, readLock } from '../src/stage/lock.ts';
import { stagedJarName } from '../src/stage/stage.ts';
import { build } from '../src/pipeline.ts';
import { loadMatrix, resolveLine } from '../src/config/matrix.ts';
import { RockRunner } from '../src/smoke/runner.ts';
import { ensureCluster, uniqueName, deleteNamespace, type ClusterInfo } from './support/k8s.ts';
import { ensureS3, s3Request, type S3Creds } from './support/s3.ts';
import {
  classLoads,
  eventLogs,
  historyServerOnS3,
  icebergOnS3,
  secretSightings,
  makeBucket,
  pysparkReadsBack,
  rockWhere,
  s3Account,
  sparkSqlOnS3,
  type S3Ctx,
} from '../src/smoke/s3.ts';

describe('Spark on the local S3 with the built rock (podman, local mode)', () => {
  let info: ClusterInfo;
  let s3: S3Creds;
  let ctx: S3Ctx;
  const line = process.env.SPARKCRAFT_LINE || undefined;
  // Every Spark JVM of the scenarios logs the classes it loads here (the s3a class-loading check).
  const classLog = mkdtempSync(join(tmpdir(), 'sparkcraft-classlog-'));

  beforeAll(async () => {
    [info, s3] = await Promise.all([ensureCluster(), ensureS3()]);
    const b = await build('rock', { line, backend: 'builtin' });
    const m = loadMatrix();
    const r = resolveLine(m, { line });
    const rock = await RockRunner.load(b.artifact, `${r.flavour.image}:s3-${r.line.track}`);
    const kubeconfig = (await execa(info.kubectlPath, ['--kubeconfig', info.adminKubeconfig, 'config', 'view', '--flatten', '--minify'])).stdout;
    chownSync(classLog, m.project.uid, m.project.uid);
    const bucket = uniqueName('s3t');
    await makeBucket(s3, bucket);
    ctx = {
      where: await rockWhere(rock, { kubeconfig, s3Endpoint: s3.endpoint, uid: m.project.uid, classLog }),
      s3,
      bucket,
      account: { username: 's3user', namespace: uniqueName('s3') },
      outputs: [],
    };
  }, 1_800_000);

  afterAll(async () => {
    rmSync(classLog, { recursive: true, force: true });
    await ctx?.where.close();
    if (ctx) {
      await deleteNamespace(info, ctx.account.namespace);
      // SeaweedFS drops a non-empty bucket with its volumes (-s3.allowDeleteBucketNotEmpty, on by default).
      await s3Request(s3, 'DELETE', `/${ctx.bucket}`);
    }
  });

  it('spark8t stores the s3a settings in the account (add-config --properties-file)', async () => {
    const keys = await s3Account(ctx);
    expect(keys).toEqual(
      expect.arrayContaining([
        'spark.hadoop.fs.s3a.endpoint',
        'spark.hadoop.fs.s3a.path.style.access',
        'spark.hadoop.fs.s3a.connection.ssl.enabled',
        'spark.hadoop.fs.s3a.access.key',
        'spark.hadoop.fs.s3a.secret.key',
      ]),
    );
  }, 300_000);

  it('spark-sql: CREATE TABLE, INSERT, SELECT on an s3a warehouse', async () => {
    const { rows, keys } = await sparkSqlOnS3(ctx);
    expect(rows).toEqual(['ROW 2 grace', 'ROW 3 linus']);
    expect(keys.filter((k) => k.endsWith('.parquet')).length).toBeGreaterThan(0);
  }, 600_000);

  it('PySpark reads the table back from S3; an 11 MB write goes up in parts (multipart)', async () => {
    const r = await pysparkReadsBack(ctx);
    expect(r.read, r.tail).toBe('1:ada;2:grace;3:linus');
    expect(r.big, r.tail).toBe(300000);
    expect(r.bigEtag).toMatch(/-[2-9]$/); // an ETag of a multipart upload ends in -<parts>
  }, 600_000);

  it('Iceberg: a Hadoop catalog on s3a, create, insert twice, select', async () => {
    const r = await icebergOnS3(ctx);
    expect(r.rows).toEqual(['ICE 3 3', 'SNAPSHOTS 2']);
    expect(r.metadata.filter((k) => k.endsWith('.metadata.json')).length).toBeGreaterThanOrEqual(3);
  }, 600_000);

  it("the rock's history-server service reads the event logs from S3 and lists the applications", async () => {
    const logs = await eventLogs(s3, ctx.bucket);
    expect([logs.apps.size, logs.inProgress]).toEqual([3, []]);
    const r = await historyServerOnS3(ctx, ['s3-sql', 's3-readback', 's3-iceberg']);
    expect(r.listed).toEqual(expect.arrayContaining(['s3-iceberg', 's3-readback', 's3-sql']));
    expect(r.ui).toBe(200);
    expect(r.redactedEnvironments).toBe(3);
  }, 600_000);

  it('the secret key appears in nothing printed, logged or served, nor in the event logs (redacted there)', async () => {
    expect(ctx.outputs.length).toBeGreaterThanOrEqual(5);
    const printed = ctx.outputs.join('\n');
    expect(printed.length).toBeGreaterThan(1000);
    // Never `toContain(secret)`: a failing assertion would print the secret.
    expect(secretSightings(ctx.outputs, s3.secret)).toEqual([]);
    const logs = await eventLogs(s3, ctx.bucket);
    expect(logs.apps.size).toBe(3);
    for (const [app, text] of logs.apps) {
      expect(text, app).toMatch(/"spark\.hadoop\.fs\.s3a\.secret\.key":"\*+\(redacted\)"/);
      expect(secretSightings([`### event log of ${app}\n${text}`], s3.secret)).toEqual([]);
    }
  }, 120_000);

  it("every class s3a loaded in these runs came from the line's locked jars, and none was missing (the JVMs' class-loading logs)", () => {
    const m = loadMatrix();
    const r = resolveLine(m, { line });
    const logs = readdirSync(classLog).map((f) => readFileSync(join(classLog, f), 'utf8'));
    // spark-sql, PySpark, Iceberg's spark-sql and the history server at least (spark8t is no JVM).
    expect(logs.length).toBeGreaterThanOrEqual(4);
    const loads = logs.flatMap((l) => classLoads(l, ['org.apache.hadoop.fs.s3a.', 'com.amazonaws.', 'software.amazon.']));
    const names = new Set(loads.map((x) => x.cls));
    expect(names).toContain('org.apache.hadoop.fs.s3a.S3AFileSystem');
    const locked = lockedInputsFor(m.project, r.line, readLock()).filter((i) => i.kind === 'maven');
    const jarOf = new Map(locked.map((i) => [`file:/opt/spark/jars/${stagedJarName(i)}`, i.id]));
    // Classes the JVM generates (lambdas, whose source is their host class; proxies, `__dynamic_proxy__`)
    // come from no file: only the loads from a location (a jar, a module, the CDS archive) are checked.
    const bySource = new Map<string, number>();
    for (const x of loads) if (/^[a-z]+:\//.test(x.source)) bySource.set(x.source, (bySource.get(x.source) ?? 0) + 1);
    expect(loads.filter((x) => !/^[a-z]+:\//.test(x.source) && !/^__\w+__$/.test(x.source) && !names.has(x.source.split(' ')[0]!))).toEqual([]);
    expect(
      [...bySource.keys()].filter((src) => !jarOf.has(src)),
      'classes loaded from elsewhere than the locked jars',
    ).toEqual([]);
    // The history server's listing is in RocksDB: its JNI library, the one the stage kept, was loaded.
    const rocks = logs.flatMap((l) => classLoads(l, ['org.rocksdb.RocksDB'])).filter((x) => x.cls === 'org.rocksdb.RocksDB');
    expect(rocks.length).toBeGreaterThan(0);
    expect(rocks.filter((x) => !/^file:\/opt\/spark\/jars\/rocksdbjni-[\d.]+\.jar$/.test(x.source))).toEqual([]);
    const printed = ctx.outputs.join('\n');
    expect(
      printed.match(/(NoClassDefFoundError|ClassNotFoundException)\S*:? +(com\.amazonaws|software\.amazon|org\.apache\.hadoop\.fs\.s3a)\S*/g) ?? [],
    ).toEqual([]);
    const unused = [...jarOf].filter(([src, id]) => !bySource.has(src) && /amazon|awssdk|jackson|jmespath|reactive|eventstream/.test(id)).map(([, id]) => id);
    console.log(
      `s3a: ${names.size} classes (${loads.length} loads in ${logs.length} JVMs) from ${[...bySource].map(([src, n]) => `${src.replace(/^file:\/opt\/spark\/jars\//, '')} ${n}`).join(', ')}; locked, not loaded here: ${unused.join(', ') || 'none'}`,
    );
  });
});
