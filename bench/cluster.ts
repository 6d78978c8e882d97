/**
 * npm run bench:cluster — the local node (scripts/local-k8s.sh) and Spark on it:
 * cold start (no state: new PKI, empty etcd and image store) and warm start (after stop) to node
 * Ready with DNS answering; importing the rock; publish:rock to the local TLS registry and the
 * kubelet's pull of it by tag (the node's copy dropped first); scenario 2 (the documented SparkPi,
 * 1000 slices, 2 executors) from a user pod: spark-submit → driver Running and → completion; the
 * spark-sql round trip on S3 and history server start → application listed (issue 13's data
 * scenarios); the Thrift JDBC server's start and a beeline client's connect → first row (issue 25); Spark
 * Connect on its line (start → first query, a new session's first query, a small query warm) against the
 * same small query by spark-submit in cluster mode on the same rock (issue 25); where that line's rock has
 * the class-data archive, its driver's and executor's JVM uptime to Spark's milestones with and without it
 * (scenarios cds 1 and 2, issue 24); RSS and CPU of the idle
 * cluster; the load average before and after (the machine is shared).
 * Each start's phases (scripts/local-k8s.sh writes them to $DIR/start.phases) are printed after it, and
 * each start's row carries the load average at its end.
 * Targets: warm start ≤ 10 s and never slower than the cold one (issue 24), submit → driver Running ≤ 5 s,
 * idle ≤ 1 GiB.
 * BENCH_COLD=0 skips the cold start (it drops the instance's state, the imported rock with it).
 * BENCH_WARM_RUNS=N: N warm starts (stop, start), each a row (default 1).
 * BENCH_ONLY=start: the cluster starts only (no rock build, no Spark).
 * Uses the instance LOCAL_K8S_DIR/… names (and LOCAL_REGISTRY_STATE/PORT); run it under the node lock.
 */
import { execa } from 'execa';
import { readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { build, road } from '../src/pipeline.ts';
import { connectLine, platformArtifacts } from '../src/smoke/smoke.ts';
import { workspace } from '../src/lib/workspace.ts';
import { loadMatrix, resolveLine } from '../src/config/matrix.ts';
import {
  clusterDir,
  evictImage,
  importImage,
  localK8sScript,
  publishToLocalRegistry,
  pulledSeconds,
  startCluster,
  tagImage,
  type LocalCluster,
} from '../src/lib/cluster.ts';
import { Kube, rockPod, SMALL } from '../src/smoke/cluster.ts';
import { cleanupData, dataScenarios } from '../src/smoke/data.ts';
import { jdbcScenarios } from '../src/smoke/jdbc.ts';
import { connectScenarios, SMALL_QUERY, SMALL_SUM } from '../src/smoke/connect.ts';
import { cdsScenarios } from '../src/smoke/cds.ts';
import { dropServerBuckets } from '../src/smoke/server-node.ts';

const rows: Array<[string, string, string]> = [];
const row = (what: string, value: string, target = '') => {
  rows.push([what, value, target]);
  console.error(`${what}: ${value}`);
};
const secs = async (fn: () => Promise<unknown>) => {
  const t = Date.now();
  await fn();
  return (Date.now() - t) / 1000;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const load = () =>
  `load ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}`;
/** The phases of the last start, as local-k8s.sh wrote them ("SECONDS WHAT" lines), on one line. */
function phases(dir: string): string {
  try {
    return readFileSync(join(dir, 'start.phases'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.replace(' ', ' s '))
      .join('; ');
  } catch {
    return '(no start.phases)';
  }
}

/** Every process of the cluster: the daemons of the pid files, containerd's shims and the pods'. */
function clusterPids(dir: string): number[] {
  const pids = new Set<number>();
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.pid'))) pids.add(Number(readFileSync(join(dir, f), 'utf8').split(' ')[0]));
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (cmd.includes(`${dir}/containerd/containerd.sock`) || /:\/kubepods/.test(readFileSync(`/proc/${p}/cgroup`, 'utf8'))) pids.add(Number(p));
    } catch {
      /* gone */
    }
  }
  return [...pids];
}
function usage(pids: number[]): { rssKiB: number; ticks: number } {
  let rssKiB = 0;
  let ticks = 0;
  for (const p of pids) {
    try {
      rssKiB += Number(readFileSync(`/proc/${p}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)?.[1] ?? 0);
      const f = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      /* gone */
    }
  }
  return { rssKiB, ticks };
}

async function main() {
  const m = loadMatrix();
  const r = resolveLine(m, {});
  const dir = clusterDir();
  const sh = (cmd: string) => execa('bash', [localK8sScript, cmd], { stdio: ['ignore', 'ignore', 'inherit'] });
  console.error(
    `load average before: ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')} (${cpus().length} cores)`,
  );
  const ready = `node Ready, DNS${process.env.LOCAL_K8S_S3 === '0' ? '' : ' and S3'} answering`;
  let cold = NaN;
  if (process.env.BENCH_COLD !== '0') {
    await sh('stop');
    rmSync(dir, { recursive: true, force: true });
    cold = await secs(() => sh('start'));
    row(`cold start (new PKI, empty etcd and image store) → ${ready}`, `${cold.toFixed(1)} s (${load()})`);
    console.error(`  phases: ${phases(dir)}`);
  }
  const runs = Number(process.env.BENCH_WARM_RUNS ?? 1);
  for (let i = 1; i <= runs; i++) {
    await sh('stop');
    const warm = await secs(() => sh('start'));
    const vs = Number.isNaN(cold) ? '' : `, ${(warm / cold).toFixed(2)} × cold`;
    row(`warm start${runs > 1 ? ` ${i}/${runs}` : ''} (after stop, state kept) → ${ready}`, `${warm.toFixed(1)} s (${load()}${vs})`, '≤ 10 s, ≤ cold');
    console.error(`  phases: ${phases(dir)}`);
  }
  if (process.env.BENCH_ONLY === 'start') return table();
  const c: LocalCluster = await startCluster({ quiet: true });
  const rock = await build('rock', { backend: 'builtin' });
  const size = `${(statSync(rock.artifact).size / 2 ** 20).toFixed(0)} MiB`;
  const imported = await secs(() => importImage(c, rock.artifact, r.image.ref));
  row(`import of the rock (${size} oci-archive) into containerd (ctr images import)`, `${imported.toFixed(1)} s`);

  const k = new Kube(c);
  const ns = `bench-${Date.now().toString(36)}`;
  await k.apply([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'admin', namespace: ns } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: `${ns}-admin` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ kind: 'ServiceAccount', name: 'admin', namespace: ns }],
    },
  ]);
  try {
    // The rock through the local TLS registry: publish:rock pushes it, the node loses its copy, a pod pulls it by tag.
    const img = await publishToLocalRegistry({
      artifacts: await platformArtifacts(m, r, road(workspace()), rock.artifact),
      line: r.line.track,
      imageRef: r.image.ref,
    });
    row('publish:rock to the local TLS registry (push and verify)', `${img.seconds.toFixed(1)} s`);
    const evicted = await evictImage(c, img);
    try {
      await k.apply([{ ...rockPod('pull', ns, img.ref, 'true', { serviceAccount: 'admin', pullPolicy: 'Always' }) }]);
      const p = await k.waitDone(ns, 'pull', 900);
      const ev = await k.json(['-n', ns, 'get', 'events', '--field-selector', 'involvedObject.name=pull,reason=Pulled']);
      const pulled = pulledSeconds(ev.items.map((e: { message: string }) => e.message));
      if (p.phase !== 'Succeeded' || pulled === null)
        throw new Error(`the pull pod ended ${p.phase}; Pulled events: ${JSON.stringify(ev.items.map((e: { message: string }) => e.message))}`);
      row(
        `pull of the rock from the local registry by the kubelet (its Pulled event; ${evicted.unpackedLeft ? `${evicted.unpackedLeft} of ${img.layers.length} layers were still unpacked for containers and not fetched` : 'every layer fetched and unpacked'})`,
        `${pulled.toFixed(1)} s`,
      );
    } finally {
      if (evicted.names.includes(r.image.ref)) await tagImage(c, img.ref, r.image.ref).catch(() => undefined);
      await importImage(c, rock.artifact, r.image.ref);
    }

    // Scenario 2, the documented command, from a pod; the pod prints when spark-submit starts and ends.
    const jar = `local:///opt/spark/examples/jars/spark-examples_${r.line.scala}-${r.line.spark}.jar`;
    await k.apply([
      rockPod(
        'submit',
        ns,
        r.image.ref,
        `spark-client.service-account-registry create --username u --namespace ${ns} >/dev/null && echo "submit-at=$(date +%s.%N)" && spark-client.spark-submit --username u --namespace ${ns} --deploy-mode cluster --name pi --conf spark.kubernetes.driver.pod.name=pi-driver ${SMALL.join(' ')} --conf spark.executor.instances=2 --class org.apache.spark.examples.SparkPi ${jar} 1000 2>&1; rc=$?; echo "done-at=$(date +%s.%N) rc=$rc"; exit $rc`,
        { serviceAccount: 'admin' },
      ),
    ]);
    const done = await k.waitDone(ns, 'submit', 900);
    const at = (what: string) => Number(done.log.match(new RegExp(`${what}=([\\d.]+)`))?.[1] ?? NaN);
    const driver = await k.json(['-n', ns, 'get', 'pod', 'pi-driver']);
    const running =
      Date.parse(
        driver.status?.containerStatuses?.[0]?.state?.terminated?.startedAt ?? driver.status?.containerStatuses?.[0]?.state?.running?.startedAt ?? 'x',
      ) / 1000;
    if (done.phase !== 'Succeeded' || !/Pi is roughly 3\.14/.test(await k.logs(ns, 'pi-driver', 50)))
      throw new Error(`scenario 2 did not succeed: submit pod ${done.phase}, driver ${driver.status?.phase}\n${done.log.slice(-2000)}`);
    const created = Date.parse(driver.metadata.creationTimestamp) / 1000;
    row('scenario 2: spark-submit → driver container Running (image on the node; 1 s resolution)', `${(running - at('submit-at')).toFixed(1)} s`, '≤ 5 s');
    row('  of which spark-submit → driver pod created (spark8t and the JVM client)', `${(created - at('submit-at')).toFixed(1)} s`);
    row('  of which driver pod created → its container Running (scheduler, kubelet, containerd)', `${(running - created).toFixed(0)} s`);
    row('scenario 2: spark-submit → completion (SparkPi 1000, 2 executors, exit 0)', `${(at('done-at') - at('submit-at')).toFixed(1)} s`);

    // Issue 13's figures, with the same scenario functions as smoke --cluster (data 1, 1b, 4).
    if (c.s3) {
      const data = new Map(dataScenarios({ cluster: () => c, k, ns, imageRef: r.image.ref, base: async () => {} }).map(([n, fn]) => [n.split('.')[0]!, fn]));
      await data.get('data 1')!();
      const sql = await secs(() => data.get('data 1b')!());
      row('spark-sql round trip on S3 (pod start → CREATE TABLE, INSERT, SELECT on s3a, client mode, 1 executor → pod done)', `${sql.toFixed(0)} s`);
      const hs = await data.get('data 4')!();
      row(
        'history server start → application listed (Deployment created → /api/v1/applications lists the S3 job)',
        `${hs.match(/\((\d+) s from deployment to listed\)/)?.[1] ?? '?'} s`,
      );
      await cleanupData(c, ns);
      // Issue 25: the Thrift JDBC server for an account of its own (jdbc 2 is its refusals and removal here, without a snap).
      const jdbc = new Map(jdbcScenarios({ cluster: () => c, k, ns, imageRef: r.image.ref, base: async () => {} }).map(([n, fn]) => [n.split('.')[0]!, fn]));
      const j1 = await jdbc.get('jdbc 1')!();
      row(
        'JDBC: thrift-server Deployment created → pod Ready (its port open; Derby metastore, 1 executor)',
        `${j1.match(/server ready in (\d+) s/)?.[1] ?? '?'} s`,
      );
      row("JDBC: beeline connect → first row (SELECT 1 from another pod, the client's JVM start included)", `${j1.match(/first row (\d+) ms/)?.[1] ?? '?'} ms`);
      await jdbc.get('jdbc 2')!();
      // Issue 25: Spark Connect on its line (4.1 today), its figures from connect 1; then the same small
      // query by spark-submit in cluster mode on the same rock (the reference a Connect user is spared).
      const line = connectLine(m, r, road(workspace()), (p) => importImage(c, p.artifact, p.ref));
      if (line) {
        const image = await line.image();
        const cs = new Map(connectScenarios({ cluster: () => c, k, ns, imageRef: image, base: async () => {} }, line).map(([n, fn]) => [n.split('.')[0]!, fn]));
        const c1 = await cs.get('connect 1')!();
        const ready = Number(c1.match(/server ready in (\d+) s/)?.[1]);
        const first = Number(c1.match(/first query (\d+) ms/)?.[1]);
        const warm = Number(c1.match(/small query warm (\d+) ms/)?.[1]);
        await cs.get('connect 3')!(); // its refusals, then the server removed
        const submitted = await smallQueryByCluster(k, ns, image);
        row(`Connect (${line.track}): spark-connect Deployment created → pod Ready (its gRPC port open)`, `${ready} s`);
        row(
          'Connect: server start → first query answered (Ready, then a new session and its first query from the host)',
          `${(ready + first / 1000).toFixed(1)} s`,
        );
        row("Connect: a new session's first query (thin client on the host, no JVM)", `${first} ms`);
        row(`Connect: the small query warm (${SMALL_QUERY}, median of 5)`, `${warm} ms`);
        row(
          `the same query by spark-submit in cluster mode (submit → driver done; reference) vs Connect warm`,
          `${submitted.toFixed(1)} s = ${((submitted * 1000) / warm).toFixed(0)}× the Connect query`,
        );
        // Issue 24: the line's class-data archive, by scenarios cds 1 and 2 (SparkPi with it, then without).
        if (line.cds) {
          const cds = cdsScenarios({ cluster: () => c, k, ns, imageRef: image, base: async () => {} }, line).map(([, fn]) => fn);
          await cds[0]!();
          const out = await cds[1]!();
          for (const x of out.matchAll(/(driver|executor) (\w+) at ([\d.]+) s against ([\d.]+) s/g))
            row(
              `class-data archive (${line.track}): ${x[1]} JVM uptime when ${x[2]} loads, with vs without (SPARK_CDS=off)`,
              `${x[3]} s vs ${x[4]} s = ${(Number(x[3]) / Number(x[4])).toFixed(2)}×`,
              '≤ 0.70×',
            );
        }
      } else row('Connect rows', 'skipped: no line of the matrix has a spark-connect server');
      await dropServerBuckets(c, ns);
    } else row('S3 rows', 'skipped: the cluster runs without S3 (LOCAL_K8S_S3=0)');
  } finally {
    await k.run(['delete', 'clusterrolebinding', `${ns}-admin`], { reject: false });
    await k.run(['delete', 'namespace', ns, '--wait=true', '--timeout=120s'], { reject: false });
  }
  await sleep(10_000);
  const pids = clusterPids(dir);
  const a = usage(pids);
  await sleep(20_000);
  const b = usage(clusterPids(dir));
  row('idle cluster RSS (all its processes and pods)', `${(b.rssKiB / 1024).toFixed(0)} MiB in ${pids.length} processes`, '≤ 1 GiB');
  row('idle cluster CPU', `${(((b.ticks - a.ticks) / 100 / 20) * 1000).toFixed(0)} millicores`);
  table();
}

/**
 * SMALL_QUERY as a PySpark application in cluster mode (the script and a driver pod template from a
 * ConfigMap, no upload): seconds from spark-submit's start to its end, the driver's answer checked.
 */
async function smallQueryByCluster(k: Kube, ns: string, image: string): Promise<number> {
  const script = `from pyspark.sql import SparkSession\nprint("SMALL", SparkSession.builder.getOrCreate().sql(${JSON.stringify(SMALL_QUERY)}).collect()[0].s)\n`;
  const template =
    'apiVersion: v1\nkind: Pod\nspec:\n  volumes: [{name: q, configMap: {name: small-query}}]\n  containers: [{name: driver, volumeMounts: [{name: q, mountPath: /q}]}]\n';
  await k.apply([{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'small-query', namespace: ns }, data: { 'q.py': script, 'driver.yaml': template } }]);
  await k.apply([
    rockPod(
      'small',
      ns,
      image,
      `spark-client.service-account-registry create --username q --namespace ${ns} >/dev/null && echo "submit-at=$(date +%s.%N)" && spark-client.spark-submit --username q --namespace ${ns} --deploy-mode cluster --name small --conf spark.kubernetes.driver.pod.name=small-driver --conf spark.kubernetes.driver.podTemplateFile=/files/driver.yaml ${SMALL.join(' ')} --conf spark.executor.instances=1 local:///q/q.py 2>&1; rc=$?; echo "done-at=$(date +%s.%N) rc=$rc"; exit $rc`,
      { serviceAccount: 'admin', configMap: 'small-query' },
    ),
  ]);
  const done = await k.waitDone(ns, 'small', 900);
  const at = (what: string) => Number(done.log.match(new RegExp(`${what}=([\\d.]+)`))?.[1] ?? Number.NaN);
  const said = await k.logs(ns, 'small-driver', 50);
  if (done.phase !== 'Succeeded' || !said.includes(`SMALL ${SMALL_SUM}`))
    throw new Error(`the cluster-mode query did not answer ${SMALL_SUM}: submit pod ${done.phase}\n${done.log.slice(-1500)}\n${said.slice(-800)}`);
  return at('done-at') - at('submit-at');
}

function table() {
  const w = [Math.max(...rows.map((x) => x[0].length)), Math.max(...rows.map((x) => x[1].length))];
  console.log(`| ${'what'.padEnd(w[0]!)} | ${'measured'.padEnd(w[1]!)} | target |`);
  console.log(`|${'-'.repeat(w[0]! + 2)}|${'-'.repeat(w[1]! + 2)}|--------|`);
  for (const [x, y, t] of rows) console.log(`| ${x.padEnd(w[0]!)} | ${y.padEnd(w[1]!)} | ${t} |`);
  console.log(
    `load average after: ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')} (${cpus().length} cores)`,
  );
}

main().catch((e) => {
  console.error(`error: ${(e as Error).message}`);
  process.exit(1);
});
