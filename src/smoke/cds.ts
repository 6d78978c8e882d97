/**
 * Class-data sharing on the local node (issue 24): SparkPi in cluster mode from a Java 21 rock that
 * ships the archive (lib/cds.ts), its driver and executor JVMs run with `-Xshare:on` (the JVM refuses to
 * start unless it maps the archive) and `-Xlog:class+load`, so their logs say where each class came from
 * and at which JVM uptime; then the same job with `SPARK_CDS=off`. `--only '^cds'` selects it.
 */
import { type DataContext, unprefix } from './data.ts';
import { rockPod, scenarioFailures, SMALL, type Json } from './kube.ts';

/** One class load of `-Xlog:class+load`: the JVM's uptime (s) and whether the class came from a shared archive. */
export interface ClassLoad {
  uptime: number;
  shared: boolean;
}

/** Pure: the first load of each class in a `-Xlog:class+load=info` log (pebble's prefixes allowed). */
export function classLoads(log: string): Map<string, ClassLoad> {
  const out = new Map<string, ClassLoad>();
  for (const m of unprefix(log).matchAll(/^\[(\d+\.\d+)s\]\[info\]\[class,load\] (\S+) source: (.*)$/gm)) {
    if (!out.has(m[2]!)) out.set(m[2]!, { uptime: Number(m[1]), shared: m[3]!.startsWith('shared objects file') });
  }
  return out;
}

/**
 * The classes whose load times the figures give: the driver's SparkContext (about Spark's first log
 * line) and first task set; the executor's RPC environment (its start, before it waits on the driver)
 * and its Executor (made once the driver registered it).
 */
export const MILESTONES = {
  driver: ['org.apache.spark.SparkContext', 'org.apache.spark.scheduler.TaskSetManager'],
  executor: ['org.apache.spark.rpc.netty.NettyRpcEnv', 'org.apache.spark.executor.Executor'],
} as const;

/** Pure: what is wrong with a JVM's loads when the archive is meant to be used (on) or not (off). */
export function checkLoads(role: 'driver' | 'executor', loads: Map<string, ClassLoad>, archive: boolean): string[] {
  const wrong: string[] = [];
  const spark = [...loads].filter(([n]) => n.startsWith('org.apache.spark.'));
  const shared = spark.filter(([, l]) => l.shared).length;
  for (const n of MILESTONES[role]) if (!loads.has(n)) wrong.push(`the ${role} never loaded ${n}`);
  if (archive && shared < spark.length / 2) wrong.push(`the ${role} took ${shared} of its ${spark.length} Spark classes from the archive`);
  if (!archive && shared > 0) wrong.push(`with SPARK_CDS=off the ${role} still took ${shared} Spark classes from an archive`);
  return wrong;
}

const pct = (a: number, b: number) => `${Math.round((1 - a / b) * 100)} %`;

export function cdsScenarios(d: DataContext, line: { track: string; image: () => Promise<string> }): Array<[string, () => Promise<string>]> {
  const { k, ns } = d;
  const { fail, guard } = scenarioFailures(k, ns, 40);
  const user = 'cdsuser';
  const log = ['-Xlog:class+load=info', '-Xlog:cds=off', '-Xlog:cds+dynamic=off'].join(' ');
  /** SparkPi in cluster mode from a pod of the rock; the driver's and the executor's class loads. */
  const run = async (app: string, archive: boolean) => {
    const image = await line.image();
    const conf = [
      ...SMALL,
      '--conf spark.executor.instances=1',
      '--conf spark.kubernetes.executor.deleteOnTermination=false',
      `--conf spark.kubernetes.driver.pod.name=${app}-driver`,
      archive
        ? `--conf "spark.driver.extraJavaOptions=-Xshare:on ${log}" --conf "spark.executor.extraJavaOptions=-Xshare:on ${log}"`
        : `--conf spark.kubernetes.driverEnv.SPARK_CDS=off --conf "spark.driver.extraJavaOptions=${log}" --conf "spark.executor.extraJavaOptions=${log}"`,
    ].join(' ');
    const script = [
      `spark-client.service-account-registry get-config --username ${user} --namespace ${ns} >/dev/null 2>&1 || spark-client.service-account-registry create --username ${user} --namespace ${ns}`,
      `spark-client.spark-submit --username ${user} --namespace ${ns} --deploy-mode cluster --name ${app} ${conf} --class org.apache.spark.examples.SparkPi local://$(ls /opt/spark/examples/jars/spark-examples_*.jar) 10 2>&1 | tail -n 5`,
    ].join('\n');
    await d.base();
    await k.apply([rockPod(`${app}-submit`, ns, image, script, { serviceAccount: 'admin' })]);
    const r = await k.waitDone(ns, `${app}-submit`, 600);
    const driver = `${app}-driver`;
    const driverLog = await k.logs(ns, driver, -1);
    if (r.phase !== 'Succeeded' || !/Pi is roughly 3\.1/.test(driverLog))
      throw await fail(`${app}: submission ${r.phase}, no "Pi is roughly 3.1"`, `${r.log}\n${driverLog}`);
    const ex = await k.executorsOf(ns, await k.json(['-n', ns, 'get', 'pod', driver]));
    if (!ex.length) throw await fail(`${app}: no executor pod of the application is left`);
    const exLog = await k.logs(ns, ex[0]!.metadata.name, -1);
    await k.run(['-n', ns, 'delete', 'pod', '--wait=false', ...ex.map((p: Json) => p.metadata.name as string)], { reject: false });
    return { driver: classLoads(driverLog), executor: classLoads(exLog), driverLog, exLog };
  };
  let withArchive: ReturnType<typeof run> | undefined;
  const onRun = () => (withArchive ??= run('cds-on', true));
  const sharedOf = (m: Map<string, ClassLoad>) => [...m.values()].filter((l) => l.shared).length;
  return [
    [
      `cds 1. Spark ${line.track}'s class-data archive on the node: the driver and the executor start with -Xshare:on and take most of Spark's classes from it`,
      () =>
        guard(async () => {
          const on = await onRun();
          const wrong = [...checkLoads('driver', on.driver, true), ...checkLoads('executor', on.executor, true)];
          if (wrong.length) throw await fail(wrong.join('; '), `${on.driverLog.slice(-3000)}\n${on.exLog.slice(-2000)}`);
          return `archive mapped (-Xshare:on); driver ${sharedOf(on.driver)} of ${on.driver.size} classes from it, executor ${sharedOf(on.executor)} of ${on.executor.size}`;
        }),
    ],
    [
      `cds 2. the same job with SPARK_CDS=off takes no class from the archive; JVM uptime to SparkContext, the first task set, the executor's RPC environment and its Executor, with and without (the bench's figures; not in the suite)`,
      () =>
        guard(async () => {
          const on = await onRun();
          const off = await run('cds-off', false);
          const wrong = [...checkLoads('driver', off.driver, false), ...checkLoads('executor', off.executor, false)];
          if (wrong.length) throw await fail(wrong.join('; '), `${off.driverLog.slice(-3000)}\n${off.exLog.slice(-2000)}`);
          const at = (m: Map<string, ClassLoad>, n: string) => m.get(n)!.uptime;
          const figures = [...MILESTONES.driver.map((n) => ['driver', n] as const), ...MILESTONES.executor.map((n) => ['executor', n] as const)].map(
            ([role, n]) => {
              const a = at(on[role], n);
              const b = at(off[role], n);
              return `${role} ${n.split('.').pop()} at ${a.toFixed(2)} s against ${b.toFixed(2)} s (${pct(a, b)} sooner)`;
            },
          );
          return figures.join('; ');
        }),
    ],
  ];
}
