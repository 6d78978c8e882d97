import { beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdtempSync, writeFileSync, mkdirSync, chmodSync, readFileSync, rmSync } from 'node:fs';
import { parse } from 'yaml';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, type ClusterInfo, ensureCluster, kubectl, kubectlJson, uniqueName } from '../support/k8s.ts';
import { ours } from './support.ts';

let info: ClusterInfo;
let sparkHome: string;
/** SparkPi submitted without waiting for it: what Spark creates is checked, the driver (an image that does not exist) never runs. */
const PI_NO_WAIT = [
  '--conf',
  'spark.kubernetes.submission.waitAppCompletion=false',
  '--conf',
  'spark.kubernetes.container.image=example/spark:1',
  '--class',
  'org.apache.spark.examples.SparkPi',
  'local:///opt/spark/examples/jars/spark-examples.jar',
  '10',
];

beforeAll(async () => {
  info = await ensureCluster();
  sparkHome = (await execa('bash', [join(ROOT, 'scripts/spark-home.sh')])).stdout.trim();
}, 600_000);

describe('spark-submit with real Spark against the real apiserver', () => {
  it('creates the driver pod and config map with the account and properties of all six levels', async () => {
    const ns = uniqueName('submit');
    const env = { KUBECONFIG: info.adminKubeconfig, SPARK_HOME: sparkHome };
    expect(
      (
        await ours(
          'service-account-registry',
          ['create', '--username', 'sub', '--namespace', ns, '--conf', 'spark.level.account=3', '--conf', 'spark.level.over=account'],
          env,
        )
      ).exitCode,
    ).toBe(0);
    const dir = mkdtempSync(join(tmpdir(), 'lv-'));
    const confs = join(dir, 'confs');
    mkdirSync(confs);
    writeFileSync(
      join(confs, 'spark-defaults.conf'),
      'spark.level.defaults=1\nspark.level.over=defaults\nspark.kubernetes.container.image=example/spark:1\nspark.driver.extraJavaOptions=-Dfrom.defaults=1 -XX:+UseG1GC\n',
    );
    writeFileSync(join(dir, 'env.conf'), 'spark.level.env=4\nspark.level.over=env\n');
    writeFileSync(join(dir, 'cli.conf'), 'spark.level.file=5\nspark.level.over=file\nspark.driver.extraJavaOptions=-Dfrom.file="a b"\n');
    const r = await ours(
      'spark-submit',
      [
        '--username',
        'sub',
        '--namespace',
        ns,
        '--properties-file',
        join(dir, 'cli.conf'),
        '--conf',
        'spark.level.conf=6',
        '--conf',
        'spark.level.over=conf',
        '--conf',
        'spark.kubernetes.submission.waitAppCompletion=false',
        '--class',
        'org.apache.spark.examples.SparkPi',
        'local:///opt/spark/examples/jars/spark-examples.jar',
        '10',
      ],
      { ...env, SPARK_CONFS: confs, SPARK_CLIENT_ENV_CONF: join(dir, 'env.conf') },
    );
    expect(r.exitCode, r.stderr.slice(-2000)).toBe(0);
    const pods = await kubectlJson(info, ['-n', ns, 'get', 'pods']);
    expect(pods.items).toHaveLength(1);
    const pod = pods.items[0];
    expect(pod.spec.serviceAccountName).toBe('sub');
    expect(pod.spec.containers[0].image).toBe('example/spark:1');
    expect(pod.spec.containers[0].args).toEqual(expect.arrayContaining(['driver']));
    const cms = await kubectlJson(info, ['-n', ns, 'get', 'configmaps']);
    const cm = cms.items.find((c: any) => c.metadata.name.startsWith('spark-drv-'));
    const props: string = cm.data['spark.properties'];
    for (const [k, v] of <Array<[string, string]>>[
      ['spark.level.defaults', '1'],
      ['spark.level.account', '3'],
      ['spark.level.env', '4'],
      ['spark.level.file', '5'],
      ['spark.level.conf', '6'],
      ['spark.level.over', 'conf'],
      ['spark.kubernetes.namespace', ns],
      ['spark.kubernetes.authenticate.driver.serviceAccountName', 'sub'],
    ]) {
      expect(props).toMatch(new RegExp(`^${k.replace(/\./g, '\\.')}=${v}$`, 'm'));
    }
    // JavaOptions merged option by option, the non -D option and the quoted value kept.
    // (java.util.Properties escapes = and : in values: `-Dfrom.defaults\=1`.)
    expect(props).toMatch(/^spark\.driver\.extraJavaOptions=-Dfrom\.defaults\\?=1 -XX\\?:\+UseG1GC -Dfrom\.file\\?="a b"$/m);
  });

  it("Pod Security restricted (the namespace create made): Spark alone is refused; spark8t's driver pod is admitted, a read-only root, a user's template merged", async () => {
    const ns = uniqueName('psa');
    const env = { KUBECONFIG: info.adminKubeconfig, SPARK_HOME: sparkHome };
    expect((await ours('service-account-registry', ['create', '--username', 'psa', '--namespace', ns], env)).exitCode).toBe(0);
    const job = PI_NO_WAIT;
    // The control: Spark's own spark-submit, same account and job, no template.
    const alone = await execa(
      join(sparkHome, 'bin', 'spark-submit'),
      [
        '--master',
        `k8s://${info.apiUrl}`,
        '--deploy-mode',
        'cluster',
        '--conf',
        `spark.kubernetes.namespace=${ns}`,
        '--conf',
        'spark.kubernetes.authenticate.driver.serviceAccountName=psa',
        ...job,
      ],
      { reject: false, env: { KUBECONFIG: info.adminKubeconfig } },
    );
    expect(alone.exitCode).not.toBe(0);
    expect(`${alone.stdout}${alone.stderr}`).toMatch(/violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false/);
    expect((await kubectlJson(info, ['-n', ns, 'get', 'pods'])).items).toHaveLength(0);
    // spark8t, with a driver template of the user's (a label, a volume of theirs).
    const dir = mkdtempSync(join(tmpdir(), 'psa-'));
    const tpl = join(dir, 'driver.yaml');
    writeFileSync(
      tpl,
      'apiVersion: v1\nkind: Pod\nmetadata:\n  labels: {team: a}\nspec:\n  containers:\n  - name: main\n    volumeMounts: [{name: data, mountPath: /data}]\n  volumes:\n  - {name: data, emptyDir: {}}\n',
    );
    const r = await ours('spark-submit', ['--username', 'psa', '--namespace', ns, '--conf', `spark.kubernetes.driver.podTemplateFile=${tpl}`, ...job], env);
    expect(r.exitCode, r.stderr.slice(-2000)).toBe(0);
    const pods = (await kubectlJson(info, ['-n', ns, 'get', 'pods'])).items;
    expect(pods).toHaveLength(1);
    const pod = pods[0];
    expect(pod.metadata.labels.team).toBe('a');
    expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    const c = pod.spec.containers[0];
    expect(c.name).toBe('main');
    expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    const mounts = Object.fromEntries(c.volumeMounts.map((m: any) => [m.mountPath, m.name]));
    expect(mounts).toMatchObject({ '/tmp': 'spark8t-tmp', '/var/lib/spark': 'spark8t-home', '/data': 'data' });
    const emptyDirs = pod.spec.volumes.filter((v: any) => v.emptyDir).map((v: any) => v.name);
    expect(emptyDirs).toEqual(expect.arrayContaining(['spark8t-tmp', 'spark8t-home', 'spark8t-log', 'data']));
    // The executors' template (ours) travels in the ConfigMap Spark mounts into the driver.
    const cms = (await kubectlJson(info, ['-n', ns, 'get', 'configmaps'])).items;
    const exec = cms.flatMap((m: any) => Object.values(m.data ?? {}) as string[]).find((v: string) => v.includes('spark-kubernetes-executor'));
    expect(exec && JSON.parse(exec).spec.containers[0].securityContext.readOnlyRootFilesystem).toBe(true);
  });

  it('--context reaches Spark too: it authenticates as that context, not as current-context', async () => {
    const ns = uniqueName('ctx');
    // current-context is a user the apiserver refuses; --context names the admin.
    const dir = mkdtempSync(join(tmpdir(), 'ctx-'));
    const admin = parse(readFileSync(info.adminKubeconfig, 'utf8'));
    admin.users.push({ name: 'refused', user: { token: 'not-a-valid-token' } });
    admin.contexts.push({ name: 'refused@local', context: { cluster: admin.contexts[0].context.cluster, user: 'refused' } });
    const good = admin['current-context'];
    admin['current-context'] = 'refused@local';
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, JSON.stringify(admin), { mode: 0o600 });
    const env = { KUBECONFIG: kubeconfig, SPARK_HOME: sparkHome };
    expect((await ours('service-account-registry', ['create', '--context', good, '--username', 'c', '--namespace', ns], env)).exitCode).toBe(0);
    const r = await ours('spark-submit', ['--context', good, '--username', 'c', '--namespace', ns, ...PI_NO_WAIT], env);
    expect(
      r.exitCode,
      r.stderr
        .split('\n')
        .filter((l) => /Exception|Unauthorized|Forbidden/.test(l))
        .slice(0, 4)
        .join('\n'),
    ).toBe(0);
    const pods = await kubectlJson(info, ['-n', ns, 'get', 'pods']);
    expect(pods.items.map((p: { spec: { serviceAccountName: string } }) => p.spec.serviceAccountName)).toEqual(['c']);
    rmSync(dir, { recursive: true, force: true });
  });
  it("exits with Spark's status and passes arguments with spaces intact (no shell)", async () => {
    // A fake Spark that records its arguments and exits 7: testing our argument handling.
    const home = mkdtempSync(join(tmpdir(), 'fake-spark-'));
    mkdirSync(join(home, 'bin'));
    const script = join(home, 'bin', 'spark-submit');
    writeFileSync(script, '#!/bin/bash\nfor a in "$@"; do printf "<%s>\\n" "$a"; done\ngrep -c . "${6}" >&2 || true\nexit 7\n');
    chmodSync(script, 0o755);
    const ns = uniqueName('exit');
    const env = { KUBECONFIG: info.adminKubeconfig, SPARK_HOME: home, SPARK_CONFS: join(home, 'conf') };
    await ours('service-account-registry', ['create', '--username', 'e', '--namespace', ns], env);
    const r = await ours('spark-submit', ['--username', 'e', '--namespace', ns, '--deploy-mode', 'client', 'app.py', 'a b', '$HOME', ';ls'], env);
    expect(r.exitCode).toBe(7);
    const lines = r.stdout.split('\n');
    expect(lines.slice(0, 6)).toEqual([
      '<--master>',
      `<k8s://${info.apiUrl}>`,
      '<--deploy-mode>',
      '<client>',
      '<--properties-file>',
      expect.stringMatching(/^<\/.*spark\.conf>$/),
    ]);
    expect(lines.slice(6, 10)).toEqual(['<app.py>', '<a b>', '<$HOME>', '<;ls>']);
  });

  it('the primary account is used when no --username/--namespace is given; no primary is a clear error', async () => {
    const home = mkdtempSync(join(tmpdir(), 'fake-spark-'));
    mkdirSync(join(home, 'bin'));
    writeFileSync(join(home, 'bin', 'spark-submit'), '#!/bin/bash\ncat "$6"\n');
    chmodSync(join(home, 'bin', 'spark-submit'), 0o755);
    const ns = uniqueName('prim');
    const env = { KUBECONFIG: info.adminKubeconfig, SPARK_HOME: home, SPARK_CONFS: join(home, 'conf') };
    await ours('service-account-registry', ['create', '--username', 'pp', '--namespace', ns, '--primary'], env);
    // The fake Spark starts no driver: nothing to wait for (a driver pod never seen would be status 91).
    const r = await ours('spark-submit', ['--conf', 'spark.kubernetes.submission.waitAppCompletion=false', 'x.py'], env);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(`spark.kubernetes.namespace=${ns}`);
    expect(r.stdout).toContain('spark.kubernetes.authenticate.driver.serviceAccountName=pp');
  });
});

describe("spark-submit in cluster mode exits with the driver's final state", () => {
  // No kubelet here: the test plays it, writing the driver pod's status subresource while Spark's
  // own watcher waits for the pod to finish (spark.kubernetes.submission.waitAppCompletion, default true).
  // `finish` gives the status to write, or 'delete': the pod disappears (deleted at once) while it runs.
  async function submitAndFinish(finish: (pod: any) => object | 'delete', extra: string[] = []) {
    const ns = uniqueName('final');
    const env = { KUBECONFIG: info.adminKubeconfig, SPARK_HOME: sparkHome };
    expect((await ours('service-account-registry', ['create', '--username', 'fin', '--namespace', ns], env)).exitCode).toBe(0);
    const run = ours(
      'spark-submit',
      [
        '--username',
        'fin',
        '--namespace',
        ns,
        '--conf',
        'spark.kubernetes.container.image=example/spark:1',
        '--conf',
        'spark.kubernetes.report.interval=200ms',
        ...extra,
        '--class',
        'org.apache.spark.examples.SparkPi',
        'local:///opt/spark/examples/jars/spark-examples.jar',
        '10',
      ],
      env,
    );
    let pod: any;
    for (let i = 0; i < 240 && !pod; i++) {
      pod = (await kubectlJson(info, ['-n', ns, 'get', 'pods'])).items[0];
      if (!pod) await new Promise((r) => setTimeout(r, 500));
    }
    expect(pod, 'Spark never created the driver pod').toBeDefined();
    const how = finish(pod);
    if (how === 'delete') {
      // Long enough for the wrapper to have seen the pod once (it reads it every few seconds).
      await new Promise((r) => setTimeout(r, 4000));
      await kubectl(info, ['-n', ns, 'delete', 'pod', pod.metadata.name, '--grace-period=0', '--force']);
    } else await kubectl(info, ['-n', ns, 'patch', 'pod', pod.metadata.name, '--subresource=status', '--type=merge', '-p', JSON.stringify(how)]);
    return { r: await run, ns, pod };
  }
  const terminated = (pod: any, phase: string, exitCode: number, reason = exitCode ? 'Error' : 'Completed') => ({
    status: {
      phase,
      containerStatuses: [
        {
          name: pod.spec.containers[0].name,
          image: pod.spec.containers[0].image,
          imageID: '',
          ready: false,
          restartCount: 0,
          state: { terminated: { exitCode, reason, startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:00:01Z' } },
        },
      ],
    },
  });

  it('driver pod Failed, container exit code 10: we exit 10 with one line naming the reason and where its log is', async () => {
    const { r, ns, pod } = await submitAndFinish((p) => terminated(p, 'Failed', 10));
    expect(r.exitCode, r.stderr.slice(-1500)).toBe(10);
    const ours_ = r.stderr.split('\n').filter((l) => l.startsWith('error: '));
    expect(ours_).toEqual([
      `error: the Spark driver failed: pod ${ns}/${pod.metadata.name} ended Failed with exit code 10 (Error); its log: kubectl logs -n ${ns} ${pod.metadata.name}`,
    ]);
  }, 240_000);

  it('driver pod Succeeded: exit 0; a driver pod name the user chose is the one watched', async () => {
    const { r, pod } = await submitAndFinish((p) => terminated(p, 'Succeeded', 0), ['--conf', 'spark.kubernetes.driver.pod.name=chosen-driver']);
    expect(pod.metadata.name).toBe('chosen-driver');
    expect(r.exitCode, r.stderr.slice(-1500)).toBe(0);
    expect(r.stderr).not.toMatch(/^error: /m);
  }, 240_000);

  const errorLines = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('error: '));

  it('driver pod evicted (Failed, reason Evicted, no container status): exit 92, the line names the eviction', async () => {
    const { r, ns, pod } = await submitAndFinish(() => ({ status: { phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' } }));
    expect(r.exitCode, r.stderr.slice(-1500)).toBe(92);
    expect(errorLines(r.stderr)).toEqual([
      `error: the Spark driver was evicted: pod ${ns}/${pod.metadata.name} ended Failed (Evicted: The node was low on resource: memory.); its log: kubectl logs -n ${ns} ${pod.metadata.name}`,
    ]);
  }, 240_000);

  it('driver container OOMKilled: its exit code, and the line names OOMKilled and the settings to raise', async () => {
    const { r } = await submitAndFinish((p) => terminated(p, 'Failed', 137, 'OOMKilled'));
    expect(r.exitCode, r.stderr.slice(-1500)).toBe(137);
    const lines = errorLines(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/with exit code 137 \(OOMKilled\b.*spark\.driver\.memoryOverhead.*spark\.driver\.memory\b/);
  }, 240_000);

  it("the driver's node goes away (PodGC fails the pod: DisruptionTarget DeletionByPodGC): exit 93", async () => {
    const { r, ns, pod } = await submitAndFinish(() => ({
      status: {
        phase: 'Failed',
        conditions: [
          {
            type: 'DisruptionTarget',
            status: 'True',
            reason: 'DeletionByPodGC',
            message: 'PodGC: node no longer exists',
            lastTransitionTime: '2026-01-01T00:00:00Z',
          },
        ],
      },
    }));
    expect(r.exitCode, r.stderr.slice(-1500)).toBe(93);
    expect(errorLines(r.stderr)).toEqual([
      `error: the Spark driver's node went away: pod ${ns}/${pod.metadata.name} ended Failed (DeletionByPodGC: PodGC: node no longer exists); its log: kubectl logs -n ${ns} ${pod.metadata.name}`,
    ]);
  }, 240_000);

  it('driver pod deleted while it runs (Spark itself exits 0 then): exit 91, one line saying what was last seen', async () => {
    const { r, ns, pod } = await submitAndFinish(() => 'delete');
    expect(r.exitCode, r.stderr.slice(-1500)).toBe(91);
    const lines = errorLines(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(`^error: the Spark driver pod ${ns}/${pod.metadata.name} disappeared: last seen (Pending|Running)\\b.*; its result is unknown`),
    );
    expect(r.stderr).not.toMatch(/WARN the driver pod/);
  }, 240_000);
});

describe('interactive shells', () => {
  it('spark-shell adds the history file option and a detected driver host', async () => {
    const home = mkdtempSync(join(tmpdir(), 'fake-spark-'));
    mkdirSync(join(home, 'bin'));
    writeFileSync(join(home, 'bin', 'spark-shell'), '#!/bin/bash\ncat "$4"\n');
    chmodSync(join(home, 'bin', 'spark-shell'), 0o755);
    const ns = uniqueName('shell');
    const env = { KUBECONFIG: info.adminKubeconfig, SPARK_HOME: home, SPARK_CONFS: join(home, 'conf'), SPARK_USER_DATA: home };
    await ours('service-account-registry', ['create', '--username', 'sh', '--namespace', ns], env);
    const r = await ours('spark-shell', ['--username', 'sh', '--namespace', ns, '--conf', 'spark.driver.extraJavaOptions=-Dmine=1'], env);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^spark\.driver\.host=127\.0\.0\.1$/m);
    expect(r.stdout).toContain(`spark.driver.extraJavaOptions=-Dscala.shell.histfile=${home}/.scala_history -Dmine=1`);
  });
});

describe('--master local[N]', () => {
  it('runs Spark locally without a cluster or an account', async () => {
    const home = (await execa('bash', [join(ROOT, 'scripts/spark-home.sh')])).stdout.trim();
    const r = await ours('spark-submit', ['--master', 'local[1]', join(home, 'examples', 'pi.py'), '2'], { SPARK_HOME: home, KUBECONFIG: '/nonexistent' });
    expect(r.exitCode, r.stderr.slice(-1000)).toBe(0);
    expect(r.stdout).toMatch(/Pi is roughly 3\.1/);
  }, 300_000);
});

describe('shells given a script on stdin (not a terminal) run it as the interactive shell does', () => {
  const local = () => ({ SPARK_HOME: sparkHome, KUBECONFIG: '/nonexistent' });
  it('pyspark: spark and sc are defined, the lines run in order, results printed', async () => {
    const r = await ours('pyspark', ['--master', 'local[1]'], local(), 'exe', 'print(spark.range(5).count())\nprint(sc.parallelize([1, 2, 3]).sum())\n');
    expect(r.stderr).not.toContain('NameError');
    expect(r.exitCode, r.stderr.slice(-1500)).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines).toContain('5');
    expect(lines.indexOf('6')).toBeGreaterThan(lines.indexOf('5'));
  }, 300_000);

  it('spark-shell: spark and sc are defined, results printed', async () => {
    const r = await ours(
      'spark-shell',
      ['--master', 'local[1]'],
      { ...local(), SPARK_USER_DATA: mkdtempSync(join(tmpdir(), 'ud-')) },
      'exe',
      'println(spark.range(5).count())\nprintln(sc.parallelize(Seq(1, 2, 3)).sum().toInt)\n',
    );
    expect(r.exitCode, r.stderr.slice(-1500)).toBe(0);
    const lines = r.stdout.split('\n').map((l) => l.trim());
    expect(lines).toContain('5');
    expect(lines).toContain('6');
  }, 300_000);
});

describe('signals', () => {
  it('SIGTERM to the wrapper reaches Spark, which stops; the wrapper exits with its status', async () => {
    const home = (await execa('bash', [join(ROOT, 'scripts/spark-home.sh')])).stdout.trim();
    const dir = mkdtempSync(join(tmpdir(), 'sig-'));
    const marker = `sigtest-${Date.now()}`;
    const app = join(dir, `${marker}.py`);
    writeFileSync(
      app,
      'import sys, time\nfrom pyspark.sql import SparkSession\nspark = SparkSession.builder.getOrCreate()\nprint("ready", flush=True)\ntime.sleep(300)\n',
    );
    const exe = await (await import('../../src/spark8t/build/build.ts')).ensureSpark8t();
    const p = execa(exe, ['spark-submit', '--master', 'local[1]', app], { env: { SPARK_HOME: home, KUBECONFIG: '/nonexistent' }, reject: false });
    await new Promise<void>((res, rej) => {
      const t = setTimeout(() => rej(new Error('the app never got ready')), 240_000);
      p.stdout!.on('data', (c: Buffer) => {
        if (c.toString().includes('ready')) {
          clearTimeout(t);
          res();
        }
      });
    });
    const t0 = Date.now();
    p.kill('SIGTERM'); // to our wrapper only: it must pass it on
    const r = await p;
    expect(Date.now() - t0).toBeLessThan(60_000);
    // The JVM ends on SIGTERM with 128+15; the wrapper reports Spark's status, not its own.
    expect(r.exitCode, r.stderr.slice(-800)).toBe(143);
    const left = await execa('pgrep', ['-f', marker], { reject: false });
    expect(left.stdout.trim()).toBe('');
  }, 300_000);
});
