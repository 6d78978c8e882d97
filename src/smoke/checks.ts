/**
 * The smoke checks of the rock and the snap: real Spark jobs, the history server, the sparkd
 * entrypoint, spark8t against the local kube-apiserver. Each check is named; a failure carries
 * the last lines of the relevant log.
 */
import { execa } from 'execa';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RockRunner, SnapRunner } from './runner.ts';
import { flatten as flattenKubeconfig, getJson } from '../lib/tools/kubectl.ts';
import { findingLine, rockFindings } from '../lib/hardening.ts';
import { escapeRegExp } from '../lib/regexp.ts';

export interface Cluster {
  apiUrl: string;
  adminKubeconfig: string;
  kubectl: string;
}

export interface CheckResult {
  name: string;
  ok: boolean;
  seconds: number;
  detail: string;
}

export class CheckFailed extends Error {
  constructor(
    message: string,
    readonly log: string,
  ) {
    super(message);
  }
}

/** The last lines of a log a failed check shows (SMOKE_TAIL of them, 15 by default). */
export const tail = (s: string, n = Number(process.env.SMOKE_TAIL) || 15) => s.trim().split('\n').slice(-n).join('\n');

/**
 * What is wrong with a cluster-mode SparkPi run, each failed condition named (pure); '' when nothing is.
 * SparkPi's estimate from n = 1e5 × slices samples has a standard deviation of about 5e-4 at 100 slices,
 * so "3.14" is 3 σ from π (one run in ~900 misses it); "3.1" is what a working Spark always prints.
 */
export function piFailures(submitPhase: string | undefined, driverPhase: string | undefined, driverLog: string): string {
  const out: string[] = [];
  if (submitPhase !== 'Succeeded') out.push(`submit pod ${submitPhase}`);
  if (driverPhase !== 'Succeeded') out.push(`driver ${driverPhase ?? 'not found'}`);
  if (!/Pi is roughly 3\.1/.test(driverLog)) {
    const pi = driverLog.match(/Pi is roughly \S+/)?.[0];
    out.push(pi ? `the driver printed "${pi}"` : 'no "Pi is roughly" line in the driver log');
  }
  if (!/Finished task/.test(driverLog)) out.push('no "Finished task" line in the driver log');
  return out.join('; ');
}

export function expectOutput(what: string, out: { exitCode?: number; stdout: string; stderr: string }, re: RegExp): string {
  // pebble prefixes each line of a service's output with a timestamp and [service].
  const all = `${out.stdout}\n${out.stderr}`.replace(/^\S+ \[[\w-]+\] /gm, '');
  if (out.exitCode !== 0 || !re.test(all)) throw new CheckFailed(`${what}: exit ${out.exitCode}, expected ${re}`, tail(all));
  return all.match(re)![0];
}

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((res) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

const kubectlJson = (c: Cluster, args: string[]) => getJson({ kubectl: c.kubectl, kubeconfig: c.adminKubeconfig }, args);

const JOBS = join(dirname(fileURLToPath(import.meta.url)), 'jobs');

/** Compile our JVM job against the staged Spark jars (javac from the JDK). */
export async function compileJob(sparkJars: string, work: string): Promise<string> {
  const out = join(work, 'classes');
  mkdirSync(out, { recursive: true });
  await execa('javac', ['-nowarn', '-cp', `${sparkJars}/*`, '-d', out, join(JOBS, 'SmokePi.java')]);
  const jar = join(work, 'smoke-pi.jar');
  await execa('jar', ['cf', jar, '-C', out, '.']);
  return jar;
}

/** The reference rock's documented smoke command, on the examples jar our rock builds (in local mode). */
export async function sparkPiFromExamplesJar(rock: RockRunner, jar: string): Promise<string> {
  const r = await rock.run(['-c', `spark-submit --master "local[2]" --class org.apache.spark.examples.SparkPi local://${jar} 10 2>&1`], {
    entrypoint: '/bin/bash',
  });
  return expectOutput('SparkPi from the examples jar', r, /Pi is roughly 3\.1\d*/);
}

/**
 * The rock's file-mode rule (lib/hardening.ts) over its image as a container gets it (every layer of
 * the oci-archive, whiteouts applied): no setuid or setgid path, nothing world-writable but /tmp.
 * A failure lists every path that breaks it.
 */
export async function hardenedRock(archive: string): Promise<string> {
  const { paths, findings } = await rockFindings(archive);
  if (findings.length) throw new CheckFailed(`${findings.length} of ${paths} paths break the rule`, findings.map(findingLine).join('\n'));
  return `${paths} paths, none setuid or setgid, none world-writable but /tmp (1777)`;
}

export async function runCheck(name: string, fn: () => Promise<string>): Promise<CheckResult> {
  const t = Date.now();
  try {
    const detail = await fn();
    return { name, ok: true, seconds: (Date.now() - t) / 1000, detail };
  } catch (e) {
    const d = e instanceof CheckFailed ? `${e.message}\n${e.log}` : (e as Error).message;
    return { name, ok: false, seconds: (Date.now() - t) / 1000, detail: d };
  }
}

/** `work`: a directory of the caller's, removed by it (it will hold a kubeconfig with credentials). */
/** What a Spark pod gives sparkd (an executor's), with the entrypoint printing the command instead of running it. */
export const SPARKD_DRY_RUN = {
  SPARK_ENTRYPOINT_DRY_RUN: '1',
  SPARK_DRIVER_URL: 'spark://d:7078',
  SPARK_EXECUTOR_ID: '1',
  SPARK_EXECUTOR_CORES: '1',
  SPARK_APPLICATION_ID: 'a',
  SPARK_EXECUTOR_POD_IP: '127.0.0.1',
};
/** The executor's command sparkd prints for SPARKD_DRY_RUN. */
export const SPARKD_EXECUTOR_COMMAND = /KubernetesExecutorBackend[\s\S]*--driver-url\s+spark:\/\/d:7078/;

export function rockChecks(
  rock: RockRunner,
  c: Cluster,
  opts: { archive: string; sparkJars: string; imageRef: string; work: string; examplesJar: string; python: string; java: number },
) {
  const work = opts.work;
  mkdirSync(work, { recursive: true });
  chmodSync(work, 0o755);
  // A self-contained kubeconfig (certificates inline) the run user can read.
  const kube = join(work, 'kubeconfig');
  const kubeVol = [`${kube}:/kube/config:ro`];
  const flatten = flattenKubeconfig({ kubectl: c.kubectl, kubeconfig: c.adminKubeconfig }).then((text) => {
    writeFileSync(kube, text, { mode: 0o644 });
    chmodSync(kube, 0o644);
  });
  const ns = `smoke-${Date.now().toString(36)}`;
  const name = `smoke-${process.pid}`;
  // The service account both spark8t checks use, made once by spark8t inside the rock.
  let account: Promise<Awaited<ReturnType<typeof rock.run>>> | undefined;
  const rockAccount = () =>
    (account ??= flatten.then(() =>
      rock.run(
        [
          '-c',
          `spark-client.service-account-registry create --username smoke --namespace ${ns} --conf spark.smoke=1 && spark-client.service-account-registry list && spark-client.service-account-registry get-config --username smoke --namespace ${ns}`,
        ],
        { entrypoint: '/bin/bash', volumes: kubeVol, envs: { KUBECONFIG: '/kube/config' } },
      ),
    ));
  const checks: Array<[string, () => Promise<string>]> = [
    ['rock: no setuid or setgid file, nothing world-writable but /tmp', () => hardenedRock(opts.archive)],
    [
      'rock: PySpark job in local mode',
      async () => {
        // The cell's Python and Java are what the image runs (matrix.yaml's debianSuites say which).
        const r = await rock.run(
          [
            '-c',
            `python3 -c 'import sys; print("python=%d.%d" % sys.version_info[:2])' && java -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = /java=/p' && spark-submit --master "local[2]" /opt/spark/examples/pi.py 4 2>&1`,
          ],
          { entrypoint: '/bin/bash' },
        );
        expectOutput('the image', r, new RegExp(`^python=${escapeRegExp(opts.python)}\njava=${opts.java}$`, 'm'));
        return expectOutput('pi.py', r, /Pi is roughly 3\.1\d*/);
      },
    ],
    [
      'rock: JVM job (SmokePi) in local mode',
      async () => {
        const jar = await compileJob(opts.sparkJars, work);
        chmodSync(jar, 0o644);
        const r = await rock.run(['-c', 'spark-submit --master "local[2]" --class SmokePi /smoke/smoke-pi.jar 4 2>&1'], {
          entrypoint: '/bin/bash',
          volumes: [`${jar}:/smoke/smoke-pi.jar:ro`],
        });
        return expectOutput('SmokePi', r, /Pi is roughly 3\.1\d*/);
      },
    ],
    ['rock: SparkPi from the examples jar (the documented command) in local mode', () => sparkPiFromExamplesJar(rock, opts.examplesJar)],
    [
      'rock: history server lists a completed application',
      async () => {
        const port = await freePort();
        await rock.start(name, { envs: { SPARK_HISTORY_OPTS: `-Dspark.history.ui.port=${port}` } });
        try {
          const job = await rock.exec(name, [
            'bash',
            '-c',
            'mkdir -p /tmp/spark-events && spark-submit --master "local[1]" --name smoke-history --conf spark.eventLog.enabled=true --conf spark.eventLog.dir=file:///tmp/spark-events /opt/spark/examples/pi.py 2 2>&1',
          ]);
          expectOutput('event-logged job', job, /Pi is roughly/);
          const st = await rock.exec(name, ['pebble', 'start', 'history-server']);
          if (st.exitCode !== 0) throw new CheckFailed('pebble start history-server failed', tail(st.stderr + st.stdout));
          let body = '';
          for (let i = 0; i < 90; i++) {
            try {
              const res = await fetch(`http://127.0.0.1:${port}/api/v1/applications`);
              body = await res.text();
              const apps = JSON.parse(body) as Array<{ name: string; attempts: Array<{ completed: boolean }> }>;
              const app = apps.find((a) => a.name === 'PythonPi' || a.name === 'smoke-history');
              if (app?.attempts[0]?.completed) return `${app.name} completed (port ${port})`;
            } catch {
              /* not up yet */
            }
            await new Promise((r) => setTimeout(r, 1000));
          }
          const logs = await rock.logs(name);
          throw new CheckFailed(`the history server did not list the application: ${body.slice(0, 200)}`, tail(logs.stdout + logs.stderr));
        } finally {
          await rock.remove(name);
        }
      },
    ],
    [
      'rock: sparkd runs driver and executor through the Spark entrypoint',
      async () => {
        const dry = SPARKD_DRY_RUN;
        const ex = await rock.run(['executor'], { envs: dry, timeout: 120_000 });
        expectOutput('sparkd executor', ex, SPARKD_EXECUTOR_COMMAND);
        const dr = await rock.run(['driver', '--properties-file', '/tmp/x.conf', '--class', 'A'], { envs: dry, timeout: 120_000 });
        expectOutput('sparkd driver', dr, /\/opt\/spark\/bin\/spark-submit[\s\S]*--deploy-mode\s+client\s+--properties-file\s+\/tmp\/x\.conf/);
        const bad = await rock.run(['painter'], { timeout: 120_000 });
        if (!/unknown role "painter"/.test(bad.stdout + bad.stderr)) throw new CheckFailed('sparkd accepted an unknown role', tail(bad.stdout + bad.stderr));
        return 'driver, executor and unknown role behave';
      },
    ],
    [
      'rock: spark8t creates and lists service accounts on the kube-apiserver',
      async () => {
        const r = await rockAccount();
        return expectOutput('spark8t in the rock', r, new RegExp(`${ns}:smoke[\\s\\S]*spark\\.smoke=1`));
      },
    ],
    [
      'rock: spark-submit --deploy-mode cluster creates the driver pod',
      async () => {
        await rockAccount(); // it submits as that account (also when run alone with --only)
        const r = await rock.run(
          [
            '-c',
            `spark-client.spark-submit --username smoke --namespace ${ns} --deploy-mode cluster --conf spark.kubernetes.submission.waitAppCompletion=false --conf spark.from.cli=yes local:///opt/spark/examples/pi.py 2>&1`,
          ],
          { entrypoint: '/bin/bash', volumes: kubeVol, envs: { KUBECONFIG: '/kube/config' } },
        );
        // Spark ≥ 3.5 says "Deployed Spark application"; 3.4 says nothing: the pod is the proof.
        if (r.exitCode !== 0) throw new CheckFailed(`cluster submit from the rock: exit ${r.exitCode}`, tail(`${r.stdout}\n${r.stderr}`));
        const pods = await kubectlJson(c, ['-n', ns, 'get', 'pods']);
        const pod = pods.items[0];
        if (!pod || pod.spec.serviceAccountName !== 'smoke' || pod.spec.containers[0].image !== opts.imageRef) {
          throw new CheckFailed('driver pod missing or wrong', JSON.stringify(pod?.spec ?? {}).slice(0, 500));
        }
        const cms = await kubectlJson(c, ['-n', ns, 'get', 'configmaps']);
        const props = JSON.stringify(cms.items.map((x: { data?: unknown }) => x.data));
        if (!props.includes('spark.from.cli=yes') || !props.includes('spark.smoke=1'))
          throw new CheckFailed('merged properties missing from the driver config map', props.slice(0, 500));
        return `${pod.metadata.name} (image ${opts.imageRef}, service account smoke)`;
      },
    ],
  ];
  return checks;
}

export function snapChecks(snap: SnapRunner, c: Cluster) {
  const ns = `smoke-snap-${Date.now().toString(36)}`;
  // The account both spark8t checks use, made once through the snap's app with ~/.kube/config.
  let account: Promise<Awaited<ReturnType<typeof snap.app>>> | undefined;
  // snapd runs the install hook before any app: so does every check, once.
  let hook: Promise<Awaited<ReturnType<typeof snap.hook>>> | undefined;
  const installed = () => (hook ??= snap.hook('install'));
  const snapAccount = async () => {
    await installed();
    if (!account) {
      mkdirSync(join(snap.dirs.realHome, '.kube'), { recursive: true });
      writeFileSync(join(snap.dirs.realHome, '.kube', 'config'), readFileSync(c.adminKubeconfig));
      account = snap.app('service-account-registry', ['create', '--username', 'snappy', '--namespace', ns, '--conf', 'spark.snap=1']);
    }
    return account;
  };
  const checks: Array<[string, () => Promise<string>]> = [
    [
      'snap: install hook writes the configuration under SNAP_DATA',
      async () => {
        const r = await installed();
        if (r.exitCode !== 0) throw new CheckFailed('install hook failed', tail(r.stderr + r.stdout));
        const conf = readFileSync(join(snap.dirs.data, 'etc/spark8t/conf/spark-defaults.conf'), 'utf8');
        if (!/spark\.kubernetes\.container\.image=/.test(conf)) throw new CheckFailed('spark-defaults.conf lacks the image', conf);
        return conf.trim().split('\n').pop()!;
      },
    ],
    [
      'snap: service-account-registry create, list, get-config',
      async () => {
        const cr = await snapAccount();
        if (cr.exitCode !== 0) throw new CheckFailed('create failed', tail(`${cr.stdout}\n${cr.stderr}`));
        const ls = await snap.app('service-account-registry', ['list']);
        expectOutput('list', ls, new RegExp(`${ns}:snappy`));
        const gc = await snap.app('service-account-registry', ['get-config', '--username', 'snappy', '--namespace', ns]);
        return expectOutput('get-config', gc, /spark\.snap=1/);
      },
    ],
    [
      'snap: spark-submit --deploy-mode cluster creates the driver pod',
      async () => {
        await snapAccount();
        const r = await snap.app('spark-submit', [
          '--username',
          'snappy',
          '--namespace',
          ns,
          '--deploy-mode',
          'cluster',
          '--conf',
          'spark.kubernetes.submission.waitAppCompletion=false',
          'local:///opt/spark/examples/pi.py',
        ]);
        if (r.exitCode !== 0) throw new CheckFailed(`cluster submit from the snap: exit ${r.exitCode}`, tail(`${r.stdout}\n${r.stderr}`));
        const pods = await kubectlJson(c, ['-n', ns, 'get', 'pods']);
        if (pods.items[0]?.spec.serviceAccountName !== 'snappy') throw new CheckFailed('driver pod missing', JSON.stringify(pods.items).slice(0, 300));
        return pods.items[0].metadata.name;
      },
    ],
    [
      'snap: pyspark runs a local job from piped input',
      async () => {
        await installed();
        const r = await snap.app('pyspark', ['--master', 'local[1]'], {
          // Piped input is not an interactive shell (no PYTHONSTARTUP): the script makes its session,
          // which the pyspark launcher has configured (master local[1], our properties file).
          input:
            'from pyspark.sql import SparkSession\nspark = SparkSession.builder.getOrCreate()\nprint("master=%s sum=%d" % (spark.sparkContext.master, spark.range(100).selectExpr("sum(id)").first()[0]))\n',
        });
        return expectOutput('pyspark', r, /master=local\[1\] sum=4950/);
      },
    ],
  ];
  return checks;
}
