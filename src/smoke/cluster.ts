/**
 * Spark on the local node (scripts/local-k8s.sh): the reference rock's and snap's acceptance
 * scenarios run on our artifacts. Every workload is the built rock, imported into the node's
 * containerd under the line's image reference (what the rock's spark-defaults.conf names).
 * A failing scenario says which, with the pod phases, the namespace's events and the last lines
 * of the driver's and executors' logs.
 */
import { stringify } from 'yaml';
import { evictImage, nodeHolds, pulledSeconds, tagImage, type LocalCluster, type RegistryImage } from '../lib/cluster.ts';
import { CheckFailed, tail, piFailures } from './checks.ts';
import { Kube, rockPod, scenarioFailures, SMALL, sleep, type Json } from './kube.ts';
import { POD_SECURITY_ENFORCE } from '../lib/pod-security.ts';
import { cleanupData, dataScenarios } from './data.ts';
import { jdbcScenarios } from './jdbc.ts';
import { connectScenarios } from './connect.ts';
import { cdsScenarios } from './cds.ts';
import { dropServerBuckets } from './server-node.ts';
import type { ScenarioKit, Scenario } from '../flavours/index.ts';
import type { SnapRunner } from './runner.ts';

export interface ScenarioContext {
  cluster: LocalCluster;
  /** The image the pods run: the line's reference, present on the node. */
  imageRef: string;
  /** The examples jar's path in the rock (`ResolvedLine.paths.examplesJar`). */
  examplesJar: string;
  /**
   * Scenario 8: push the rock to the local TLS registry with publish:rock, the node trusting it
   * (publish), and put the line's reference back on the node if the scenario took it away (restore:
   * imports the archive again unless the reference already holds the rock); absent: not listed.
   */
  registry?: {
    publish: () => Promise<RegistryImage>;
    restore: () => Promise<unknown>;
    /**
     * Scenario 9: the architectures publish adds beside the node's (an image index), and what makes the
     * node run them (binfmt_misc's qemu-user-static entries); none: not listed.
     */
    emulated?: { arches: string[]; register: () => Promise<unknown>; restore: () => Promise<unknown> };
  };
  /** Makes the unpacked snap (scenario 6); absent: that scenario is not listed. */
  snap?: () => Promise<SnapRunner>;
  /**
   * The scenarios of the line's other flavours (their modules' `scenarios`), each with its image put on
   * the node on first use; listed after the data scenarios, before 7 deletes the account.
   */
  flavours?: Array<{ image: () => Promise<string>; scenarios: (kit: ScenarioKit) => Scenario[] }>;
  /** The line the connect scenarios run on and its rock, put on the node on first use (smoke.ts connectLine). */
  connect?: { track: string; image: () => Promise<string>; cds?: boolean };
}

export { Kube, rockPod, SMALL } from './kube.ts';

const RBAC_ERROR = /is forbidden: User "system:serviceaccount/;
/** A UID the rock has no passwd entry for, as OpenShift's restricted-v2 assigns (a namespace's range starts near 1000680000). */
const ANY_UID = 1000680000;
/** Scenario 5e's second account of the namespace. */
const INTRUDER = 'mallory';
/** Scenario 5d's package, served by a repository pod in the scenarios' namespace. */
const PKG = (() => {
  const group = 'org.sparkcraft';
  const artifact = 'hello';
  const version = '1.0';
  return {
    group,
    artifact,
    version,
    coordinate: `${group}:${artifact}:${version}`,
    path: `${group.replace(/\./g, '/')}/${artifact}/${version}`,
    file: `${artifact}-${version}`,
    jarName: `${group}_${artifact}-${version}.jar`,
  };
})();

/**
 * The scenarios in order; they share one namespace and one account (made by scenario 1). Each is a
 * [name, fn] pair like the smoke checks; fn returns a one-line result or throws CheckFailed.
 */
export function clusterScenarios(ctx: ScenarioContext): { namespace: string; scenarios: Array<[string, () => Promise<string>]> } {
  const k = new Kube(() => ctx.cluster);
  const ns = `scn-${Date.now().toString(36)}`;
  const user = 'sparky';
  const examplesJar = `local://${ctx.examplesJar}`;
  let setup: Promise<void> | undefined;
  let piPath = '/opt/spark/examples/pi.py';
  const fail = async (what: string, log = '') => new CheckFailed(what, `${log ? `${tail(log)}\n` : ''}${await k.diagnose(ns)}`);

  /** The namespace and its admin ServiceAccount (cluster-admin). */
  let nsSetup: Promise<void> | undefined;
  const base = () =>
    (nsSetup ??= (async () => {
      await k.apply([
        // Pod Security `restricted`, as namespaces spark8t's `create` makes enforce it: every pod of the
        // scenarios (Spark's driver and executors from spark8t's templates, ours from rockPod) must meet it.
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { [POD_SECURITY_ENFORCE]: 'restricted' } } },
        { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'admin', namespace: ns } },
        {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRoleBinding',
          metadata: { name: `${ns}-admin` },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
          subjects: [{ kind: 'ServiceAccount', name: 'admin', namespace: ns }],
        },
      ]);
    })());
  /** Scenario 1's admin pod: the account every other scenario submits as. */
  const account = () =>
    (setup ??= (async () => {
      const r = await asAdmin(
        'admin',
        `spark-client.service-account-registry create --username ${user} --namespace ${ns} --conf spark.scenario=1 && spark-client.service-account-registry get-config --username ${user} --namespace ${ns} && ls /opt/spark/examples/src/main/python/pi.py /opt/spark/examples/pi.py 2>/dev/null | head -1 | sed 's/^/pi-path=/'`,
      );
      if (r.phase !== 'Succeeded' || !/spark\.scenario=1/.test(r.log)) throw await fail(`admin pod: ${r.phase}`, r.log);
      piPath = r.log.match(/^pi-path=(\S+)/m)?.[1] ?? '/opt/spark/examples/pi.py';
    })());

  /** A pod of the namespace's admin (cluster-admin) that runs SCRIPT; its phase and log. */
  const asAdmin = async (name: string, script: string, seconds = 180) => {
    await base();
    await k.apply([rockPod(name, ns, ctx.imageRef, script, { serviceAccount: 'admin' })]);
    return k.waitDone(ns, name, seconds);
  };
  /** A pod running as the account (only spark8t's rights) that runs SCRIPT; its phase and log. */
  const asUser = async (name: string, script: string, seconds: number, o: { configMap?: string; runAs?: { uid: number; gid: number } } = {}) => {
    await account();
    await k.apply([rockPod(name, ns, ctx.imageRef, script, { serviceAccount: user, ...o })]);
    return k.waitDone(ns, name, seconds);
  };
  /** The driver pod a cluster-mode submission with --conf spark.app.name=APP made. */
  const driverOf = async (app: string) => (await k.pods(ns, `spark-role=driver`)).find((p) => (p.metadata.name as string).startsWith(app));
  // pi.py: where the rock has it (Spark's layout, src/main/python, or the examples folder itself).
  const findPi = 'PI=$(ls /opt/spark/examples/src/main/python/pi.py /opt/spark/examples/pi.py 2>/dev/null | head -1);';
  const submit = (app: string, rest: string) =>
    `${findPi} spark-client.spark-submit --username ${user} --namespace ${ns} --deploy-mode cluster --name ${app} --conf spark.kubernetes.driver.pod.name=${app}-driver ${SMALL.join(' ')} ${rest} 2>&1`;

  const scenarios: Array<[string, () => Promise<string>]> = [
    [
      '1. an admin pod creates a spark8t account with its in-cluster credentials',
      async () => {
        await account();
        const sa = await k.json(['-n', ns, 'get', 'serviceaccount', user]);
        const rb = await k.json(['-n', ns, 'get', 'rolebindings']);
        if (!rb.items.some((b: Json) => b.subjects?.some((s: Json) => s.name === user))) throw await fail('no RoleBinding for the account');
        return `serviceaccount ${ns}/${sa.metadata.name}, ${rb.items.length} rolebinding(s)`;
      },
    ],
    [
      '2. the documented SparkPi command: 2 executors, exit 0, task lines, Pi is roughly 3.1, driver Succeeded',
      async () => {
        const r = await asUser(
          'submit-jvm',
          submit('sparkpi', `--conf spark.executor.instances=2 --class org.apache.spark.examples.SparkPi ${examplesJar} 1000`),
          600,
        );
        const d = await driverOf('sparkpi');
        const log = d ? await k.logs(ns, d.metadata.name, 2000) : '';
        const piWrong = piFailures(r.phase, d?.status?.phase, log);
        if (piWrong || !d) {
          throw await fail(piWrong, `${r.log}\n${log}`);
        }
        if (RBAC_ERROR.test(log)) throw await fail('the driver log has an RBAC error', log);
        return `${log.match(/Pi is roughly [\d.]+/)![0]}, ${log.match(/Finished task/g)!.length} task lines`;
      },
    ],
    [
      '3. a job that throws: driver pod Failed, spark-submit exits non-zero',
      async () => {
        // pi.py's argument is the number of partitions: int("boom") raises in the driver.
        const r = await asUser('submit-fail', `${submit('throws', 'local://$PI boom')}; echo "exit=$?"`, 300);
        const d = await driverOf('throws');
        const code = Number(r.log.match(/exit=(\d+)/)?.[1] ?? NaN);
        if (d?.status?.phase !== 'Failed' || !(code > 0)) throw await fail(`driver ${d?.status?.phase}, spark-submit exit ${code}`, r.log);
        return `driver Failed, spark-submit exit ${code}`;
      },
    ],
    [
      "4. driver and executor pod templates: their labels and annotations are on the pods, merged over spark8t's restricted ones",
      async () => {
        // Spark needs a spec with the container it fills in (the first one, by default).
        const tpl = (role: string) =>
          stringify({
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: { labels: { 'scenario-template': role }, annotations: { 'sparkcraft.io/template': `${role}-annotation` } },
            spec: { containers: [{ name: `spark-${role}` }] },
          });
        await account();
        await k.apply([
          {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: 'templates', namespace: ns },
            data: { 'driver.yaml': tpl('driver'), 'executor.yaml': tpl('executor') },
          },
        ]);
        const r = await asUser(
          'submit-tpl',
          submit(
            'tpl',
            [
              '--conf spark.kubernetes.driver.podTemplateFile=/files/driver.yaml',
              '--conf spark.kubernetes.executor.podTemplateFile=/files/executor.yaml',
              '--conf spark.kubernetes.executor.deleteOnTermination=false',
              '--conf spark.executor.instances=1 local://$PI 2',
            ].join(' '),
          ),
          300,
          { configMap: 'templates' },
        );
        const d = await driverOf('tpl');
        // The executors of that application (named after pi.py's own app name, selected by the app's id).
        const ex = await k.executorsOf(ns, d);
        // The user's templates are merged over spark8t's: their label and annotation, and a read-only
        // root, no privilege escalation (the namespace enforces restricted, so the pods exist at all).
        const ok = (p: Json | undefined, role: string) =>
          p?.metadata.labels?.['scenario-template'] === role &&
          p?.metadata.annotations?.['sparkcraft.io/template'] === `${role}-annotation` &&
          p?.spec.containers[0]?.securityContext?.readOnlyRootFilesystem === true &&
          p?.spec.containers[0]?.securityContext?.allowPrivilegeEscalation === false;
        if (r.phase !== 'Succeeded' || !ok(d, 'driver') || ex.length === 0 || !ex.every((p) => ok(p, 'executor'))) {
          throw await fail(
            `submit ${r.phase}; driver labels ${JSON.stringify(d?.metadata.labels)}; ${ex.length} executor(s) ${JSON.stringify(ex[0]?.metadata.labels)}`,
            r.log,
          );
        }
        return `driver and ${ex.length} executor pod(s) carry the templates' label and annotation, and spark8t's read-only root`;
      },
    ],
    [
      '5a. spark-shell in client mode in a pod: executors as pods, script on stdin, result printed',
      async () => {
        const script =
          'val n = sc.parallelize(1 to 1000, 4).map(_ * 2).sum\nprintln(s"shell-sum=${n.toLong} executors=${sc.statusTracker.getExecutorInfos.length - 1}")\n';
        const r = await asUser('shell', clientMode('spark-shell', script), 420);
        if (r.phase !== 'Succeeded' || !/shell-sum=1001000 executors=[1-9]/.test(r.log)) throw await fail(`spark-shell pod ${r.phase}`, r.log);
        if (RBAC_ERROR.test(r.log)) throw await fail('the session log has an RBAC error', r.log);
        return r.log.match(/shell-sum=\S+ executors=\d+/)![0];
      },
    ],
    [
      // (Also what scenario 2a checked, a user pod submitting PySpark pi.py in cluster mode, which it ran again.)
      "5c. any UID (OpenShift's restricted-v2): a user pod submits PySpark pi.py in cluster mode, user pod, driver and executor as a UID with no passwd entry and GID 0: driver Succeeded, Pi printed",
      async () => {
        const runAs = { uid: ANY_UID, gid: 0 };
        const tpl = stringify({
          apiVersion: 'v1',
          kind: 'Pod',
          spec: { securityContext: { runAsUser: ANY_UID, runAsGroup: 0 }, containers: [{ name: 'spark' }] },
        });
        await account();
        await k.apply([{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'anyuid', namespace: ns }, data: { 'pod.yaml': tpl } }]);
        const conf = [
          '--conf spark.kubernetes.driver.podTemplateFile=/files/pod.yaml',
          '--conf spark.kubernetes.executor.podTemplateFile=/files/pod.yaml',
          '--conf spark.kubernetes.executor.deleteOnTermination=false',
          '--conf spark.executor.instances=1 local://$PI 4',
        ].join(' ');
        const r = await asUser('submit-anyuid', `id; ${submit('anyuid', conf)}`, 300, { configMap: 'anyuid', runAs });
        const d = await driverOf('anyuid');
        const log = d ? await k.logs(ns, d.metadata.name, 300) : '';
        const ex = await k.executorsOf(ns, d);
        const uids = [d, ...ex].map((p) => p?.spec.securityContext?.runAsUser);
        if (
          r.phase !== 'Succeeded' ||
          d?.status?.phase !== 'Succeeded' ||
          !/Pi is roughly 3\.1/.test(log) ||
          ex.length === 0 ||
          uids.some((u) => u !== ANY_UID)
        ) {
          throw await fail(
            `submit pod ${r.phase}, driver ${d?.status?.phase}, ${ex.length} executor(s), runAsUser ${JSON.stringify(uids)}`,
            `${r.log}\n${log}`,
          );
        }
        if (RBAC_ERROR.test(log)) throw await fail('the driver log has an RBAC error', log);
        return `${r.log.match(/^uid=\S+ gid=\S+/m)?.[0] ?? 'uid ?'}; ${log.match(/Pi is roughly [\d.]+/)![0]}; driver and ${ex.length} executor(s) as ${ANY_UID}`;
      },
    ],
    [
      '5d. --packages with a read-only root: a jar from a Maven repository in the cluster (spark.jars.repositories) reaches the session and its executors',
      async () => {
        await account();
        // The repository: a pod of the rock that writes a Maven layout (a jar with one resource, its pom) and serves it.
        const layout = [
          'import os, zipfile',
          `d = '/tmp/repo/${PKG.path}'`,
          'os.makedirs(d)',
          `z = zipfile.ZipFile(d + '/${PKG.file}.jar', 'w')`,
          "z.writestr('META-INF/MANIFEST.MF', 'Manifest-Version: 1.0\\n')",
          "z.writestr('sparkcraft-hello.txt', 'hello from the cluster repository\\n')",
          'z.close()',
          `open(d + '/${PKG.file}.pom', 'w').write('<project><modelVersion>4.0.0</modelVersion><groupId>${PKG.group}</groupId><artifactId>${PKG.artifact}</artifactId><version>${PKG.version}</version></project>')`,
        ].join('\n');
        await k.apply([
          rockPod(
            'maven-repo',
            ns,
            ctx.imageRef,
            `python3 -c "${layout.replace(/"/g, '\\"')}" && exec python3 -m http.server 8000 --bind 0.0.0.0 --directory /tmp/repo`,
          ),
        ]);
        const { ip, phase } = await k.waitRunning(ns, 'maven-repo', 120);
        if (phase === 'timeout') throw await fail('the repository pod did not start in 120 s');
        if (!ip) throw await fail(`repository pod ${phase}`, await k.logs(ns, 'maven-repo', 50));
        await sleep(2000);
        const check = [
          'import os, zipfile',
          'from pyspark import SparkFiles',
          "jar = [j for j in spark.sparkContext.getConf().get('spark.jars', '').split(',') if j.endswith('" + PKG.jarName + "')][0]",
          "local = jar.replace('file://', '').replace('file:', '')",
          "print('driver-jar=%s resource=%s' % (local, zipfile.ZipFile(local).read('sparkcraft-hello.txt').decode().strip()))",
          "print('executor-files=%s' % sc.parallelize([0], 1).map(lambda _: ','.join(sorted(os.listdir(SparkFiles.getRootDirectory())))).collect()[0])",
          '',
        ].join('\n');
        const r = await asUser(
          'packages',
          clientMode('pyspark', check).replace(' 2>&1', ` --packages ${PKG.coordinate} --conf spark.jars.repositories=http://${ip}:8000 2>&1`),
          420,
        );
        // (the lines follow the shell's prompts)
        const driver = r.log.match(/driver-jar=(\S+) resource=(.*)$/m);
        const files = r.log.match(/executor-files=(\S*)/)?.[1] ?? '';
        if (r.phase !== 'Succeeded' || driver?.[2] !== 'hello from the cluster repository' || !files.split(',').some((f) => f.endsWith(PKG.jarName))) {
          throw await fail(`pyspark pod ${r.phase}; driver ${driver?.[0] ?? 'no jar'}; executor files ${files || 'none'}`, r.log);
        }
        await k.run(['-n', ns, 'delete', 'pod', 'maven-repo', '--wait=false'], { reject: false });
        return `${driver[1]} (${driver[2]}); the executor fetched it`;
      },
    ],
    [
      "5e. pyspark in client mode in a pod (a script on stdin sees spark and sc as the shell does), and another account's pod cannot join that session as an executor: Spark's RPC authenticated with the account's secret, by file",
      async () => {
        await account();
        // The intruder: a second account of the namespace, made as scenario 1 made the user's.
        const made = await asAdmin('admin-intruder', `spark-client.service-account-registry create --username ${INTRUDER} --namespace ${ns}`);
        if (made.phase !== 'Succeeded') throw await fail(`creating account ${INTRUDER}: pod ${made.phase}`, made.log);
        // The victim: the user's pyspark session in client mode, its driver in the pod on a known port, kept up 90 s.
        // Its script is what scenario 5b checked (it ran a session of its own): spark and sc defined as in the shell.
        const session =
          'n = sc.parallelize(range(1, 1001), 4).map(lambda x: x * 2).sum()\nprint("victim-ready py-sum=%d rows=%d executors=%d" % (n, spark.range(100).count(), len(sc._jsc.sc().statusTracker().getExecutorInfos()) - 1))\nimport time\ntime.sleep(90)\n';
        await k.apply([
          rockPod('victim', ns, ctx.imageRef, clientMode('pyspark', session).replace(' 2>&1', ' --conf spark.driver.port=7078 2>&1'), { serviceAccount: user }),
        ]);
        const { ip, phase } = await k.waitRunning(ns, 'victim', 180, (log) => /victim-ready py-sum=/.test(log));
        if (phase === 'timeout') throw await fail('the victim session was not ready in 180 s', await k.logs(ns, 'victim', 100));
        if (!ip) throw await fail(`the victim's session ended ${phase} before the attack`, await k.logs(ns, 'victim', 100));
        const ready = await k.logs(ns, 'victim', 200);
        if (!/victim-ready py-sum=1001000 rows=100 executors=[1-9]/.test(ready) || RBAC_ERROR.test(ready))
          throw await fail('the victim session (pyspark in client mode) did not see spark and sc as the shell does, or logged an RBAC error', ready);
        const executors = (await k.pods(ns, 'spark-role=executor')).filter((p) => p.metadata.ownerReferences?.some((o: Json) => o.name === 'victim'));
        // Spark's default hands the executors the secret as a plain value of their pod spec.
        const leaked = executors
          .flatMap((p) => (p.spec.containers[0].env ?? []) as Json[])
          .filter((e) => /^(_SPARK_AUTH_SECRET|SPARK_AUTHENTICATE_SECRET)$/.test(e.name) && e.value);
        // The attack: Spark's own executor backend, in a pod of the other account, pointed at the victim's driver.
        const opens = [
          'java.lang',
          'java.lang.invoke',
          'java.lang.reflect',
          'java.io',
          'java.net',
          'java.nio',
          'java.util',
          'java.util.concurrent',
          'java.util.concurrent.atomic',
          'sun.nio.ch',
          'sun.nio.cs',
          'sun.security.action',
          'sun.util.calendar',
        ]
          .map((p) => `--add-opens=java.base/${p}=ALL-UNNAMED`)
          .join(' ');
        const attack = `timeout 45 "$JAVA_HOME/bin/java" ${opens} -cp '/opt/spark/jars/*' org.apache.spark.executor.CoarseGrainedExecutorBackend --driver-url spark://CoarseGrainedScheduler@${ip}:7078 --executor-id 99 --hostname "$POD_IP" --cores 1 --app-id intruder 2>&1 | grep -vE '^[[:space:]]+at |SecurityManager: Changing|SignalUtils' | head -40; true`;
        await k.apply([rockPod('intruder', ns, ctx.imageRef, attack, { serviceAccount: INTRUDER })]);
        const r = await k.waitDone(ns, 'intruder', 120);
        const victimLog = await k.logs(ns, 'victim', 500);
        await k.run(['-n', ns, 'delete', 'pod', 'victim', '--wait=false'], { reject: false });
        // Joined: registered, or got as far as the driver's configuration (which it fetches first).
        const joined = /Successfully registered with driver|MemoryStore started/.test(r.log) || /Registered executor .* with ID 99/.test(victimLog);
        if (joined || leaked.length || r.phase !== 'Succeeded') {
          const what = [
            joined ? `${INTRUDER}'s pod joined the user's session as executor 99` : '',
            leaked.length ? `the executors' pod specs hold the RPC secret by value` : '',
            r.phase !== 'Succeeded' ? `the intruder pod ${r.phase}` : '',
          ];
          throw await fail(what.filter(Boolean).join('; '), `${r.log}\n${victimLog}`);
        }
        // What stopped it: the connection refused for want of the secret, not a wrong address.
        const why = `${r.log}\n${victimLog}`.match(/Expected SaslMessage[^\n]*|[^\n]*(Authentication failed|SaslException)[^\n]*/)?.[0]?.trim();
        if (!why) throw await fail(`${INTRUDER}'s executor did not join, but nothing says it was for want of the secret`, `${r.log}\n${victimLog}`);
        return `${ready.match(/py-sum=\S+ rows=\d+ executors=\d+/)![0]}; ${INTRUDER}'s executor refused (${why.slice(0, 120)}); ${executors.length} executor(s) of the session, none with the secret by value in its spec`;
      },
    ],
  ];

  /** An interactive tool in client mode from the pod: the driver is the pod, executors reach it at its IP. */
  function clientMode(tool: string, script: string): string {
    return `printf '%s' '${script.replace(/'/g, `'\\''`)}' | spark-client.${tool} --username ${user} --namespace ${ns} ${SMALL.join(' ')} --conf spark.executor.instances=1 --conf spark.driver.host=$POD_IP --conf spark.driver.bindAddress=0.0.0.0 --conf spark.kubernetes.driver.pod.name=$HOSTNAME 2>&1`;
  }

  // Issue 13: S3, Iceberg, metrics and the history server, with their own account.
  const data = { cluster: () => ctx.cluster, k, ns, imageRef: ctx.imageRef, base };
  scenarios.push(...dataScenarios(data, ctx.snap));
  // Issue 25: the Thrift JDBC server as an account of its own, beeline as its client.
  scenarios.push(...jdbcScenarios(data, ctx.snap));
  if (ctx.connect) scenarios.push(...connectScenarios(data, ctx.connect));
  // The newest line's rock ships the class-data archive where its Java has cds (4.1, Java 21).
  if (ctx.connect?.cds) scenarios.push(...cdsScenarios(data, ctx.connect));

  // The flavours' own scenarios (the account's, before 7 deletes it).
  const kitFail = scenarioFailures(k, ns).fail;
  for (const f of ctx.flavours ?? []) scenarios.push(...f.scenarios({ k, ns, user, account, image: f.image, fail: kitFail, small: SMALL, sleep }));

  if (ctx.snap) {
    const snapOf = ctx.snap;
    scenarios.push([
      "6. the snap's spark-submit on the host runs a cluster-mode job to completion",
      async () => {
        await account();
        const snap = await snapOf();
        // The host's user: the admin's kubeconfig, as `~/.kube/config` of the snap's user.
        await snap.asHostUser(ctx.cluster.adminKubeconfig);
        const r = await snap.app('spark-submit', [
          '--username',
          user,
          '--namespace',
          ns,
          '--deploy-mode',
          'cluster',
          '--name',
          'snappi',
          '--conf',
          'spark.kubernetes.driver.pod.name=snappi-driver',
          ...SMALL,
          '--conf',
          'spark.executor.instances=1',
          `local://${piPath}`,
          '10',
        ]);
        const d = await driverOf('snappi');
        const log = d ? await k.logs(ns, d.metadata.name, 200) : '';
        if (r.exitCode !== 0 || d?.status?.phase !== 'Succeeded' || !/Pi is roughly 3\.1/.test(log))
          throw await fail(`snap spark-submit exit ${r.exitCode}, driver ${d?.status?.phase}`, `${r.stdout}\n${r.stderr}`);
        return `${log.match(/Pi is roughly [\d.]+/)![0]} (from the snap on the host)`;
      },
    ]);
  }

  if (ctx.registry) {
    const reg = ctx.registry;
    // Before 7, which deletes the account.
    scenarios.push([
      '8. the rock from the local TLS registry: publish:rock pushes it, the user pod, driver and 2 executors pull it by tag, SparkPi runs',
      async () => {
        await account();
        const img = await reg.publish();
        // A real pull: the node loses every name of that manifest and, garbage-collected, its layers
        // (the line's reference too: put back below, so later scenarios still find it).
        // Finished pods of the namespace keep their containers, whose snapshots keep the layers unpacked
        // (containerd then skips fetching them): they go first.
        for (const phase of ['Succeeded', 'Failed'])
          await k.run(['-n', ns, 'delete', 'pods', `--field-selector=status.phase==${phase}`, '--wait=true', '--timeout=120s']);
        const evicted = await evictImage(ctx.cluster, img, { deletedPodsOf: ns });
        try {
          const fromRegistry = `--conf spark.kubernetes.container.image=${img.ref} --conf spark.kubernetes.container.image.pullPolicy=Always --conf spark.kubernetes.executor.deleteOnTermination=false`;
          await k.apply([
            rockPod(
              'submit-reg',
              ns,
              img.ref,
              submit('regpi', `${fromRegistry} --conf spark.executor.instances=2 --class org.apache.spark.examples.SparkPi ${examplesJar} 100`),
              { serviceAccount: user, pullPolicy: 'Always' },
            ),
          ]);
          const r = await k.waitDone(ns, 'submit-reg', 900);
          const d = await driverOf('regpi');
          const log = d ? await k.logs(ns, d.metadata.name, 2000) : '';
          const piWrong = piFailures(r.phase, d?.status?.phase, log);
          if (piWrong || !d) {
            throw await fail(piWrong, `${r.log}\n${log}`);
          }
          const ex = await k.executorsOf(ns, d);
          const submitPod = await k.json(['-n', ns, 'get', 'pod', 'submit-reg']);
          const pods = [submitPod, d, ...ex];
          // Each pod names the tag, ran the pushed manifest, and the kubelet pulled it (Always: each asked the registry).
          const pulled: Record<string, number | null> = {};
          for (const p of pods) {
            const ev = await k.json(['-n', ns, 'get', 'events', '--field-selector', `involvedObject.name=${p.metadata.name},reason=Pulled`]);
            pulled[p.metadata.name] = pulledSeconds(ev.items.map((e: Json) => e.message as string));
          }
          const wrong = pods.filter(
            (p) =>
              p.spec.containers[0].image !== img.ref ||
              !String(p.status?.containerStatuses?.[0]?.imageID ?? '').endsWith(`@${img.digest}`) ||
              pulled[p.metadata.name] === null,
          );
          if (ex.length < 2 || wrong.length) {
            throw await fail(
              `${ex.length} executor(s); not pulled from ${img.ref} (${img.digest}): ${wrong.map((p) => `${p.metadata.name} image ${p.spec.containers[0].image} id ${p.status?.containerStatuses?.[0]?.imageID} pulled ${pulled[p.metadata.name]}`).join('; ')}`,
              r.log,
            );
          }
          // An image index: the node fetched its own platform's manifest by the tag, and no other platform's.
          const held = img.platforms.length
            ? await nodeHolds(
                ctx.cluster,
                img.platforms.map((p) => p.digest),
              )
            : [];
          if (img.platforms.length && (held.length !== 1 || held[0] !== img.manifest))
            throw await fail(
              `the node holds ${held.length ? held.map((d) => img.platforms.find((p) => p.digest === d)!.arch).join(', ') : 'no platform'} of the index ${img.digest}, expected only its own (${img.manifest})`,
              r.log,
            );
          const platformsNote = img.platforms.length
            ? `; the tag names an index of ${img.platforms.map((p) => p.arch).join(' + ')}, the node pulled ${img.platforms.find((p) => p.digest === img.manifest)?.arch} only`
            : '';
          return (
            `${log.match(/Pi is roughly [\d.]+/)![0]}; ${img.ref} pushed in ${img.seconds.toFixed(1)} s, pulled by the kubelet in ${pulled['submit-reg']!.toFixed(1)} s ` +
            `(${evicted.unpackedLeft ? `${evicted.unpackedLeft} of ${img.layers.length} layers still unpacked for other containers on the node, not fetched again` : 'every layer fetched'}), ${pods.length} pods ran ${img.digest.slice(0, 19)}…${platformsNote}`
          );
        } finally {
          if (evicted.names.includes(ctx.imageRef)) await tagImage(ctx.cluster, img.ref, ctx.imageRef).catch(() => undefined);
          await reg.restore();
        }
      },
    ]);
  }

  const emulated = ctx.registry?.emulated;
  if (ctx.registry && emulated?.arches.length) {
    const reg = ctx.registry;
    const arch = emulated.arches[0]!;
    scenarios.push([
      `9. the published ${arch} platform on this node under emulation: the index's ${arch} manifest by its digest, a driver and an executor, SparkPi runs`,
      async () => {
        await account();
        await emulated.register();
        try {
          return await emulatedPi();
        } finally {
          await emulated.restore();
        }
      },
    ]);
    const emulatedPi = async () => {
      const img = await reg.publish();
      const p = img.platforms.find((x) => x.arch === arch);
      if (!p) throw await fail(`publish:rock published no ${arch} platform (${img.platforms.map((x) => x.arch).join(', ') || 'no index'})`);
      // The platform as published: containerd's CRI pulls the node's platform of an index by its tag, and
      // the manifest itself when named by its digest (no platform filter on the image's own manifest).
      const image = `${img.ref.slice(0, img.ref.lastIndexOf(':'))}@${p.digest}`;
      // Each JVM says which CPU it runs on (os.arch) in its log.
      const show = '-XshowSettings:properties';
      const t0 = Date.now();
      await k.apply([
        rockPod(
          'submit-emu',
          ns,
          img.ref,
          submit(
            'emupi',
            `--conf spark.kubernetes.container.image=${image} --conf spark.kubernetes.executor.deleteOnTermination=false --conf spark.executor.instances=1 ` +
              `--conf spark.driver.extraJavaOptions=${show} --conf spark.executor.extraJavaOptions=${show} --class org.apache.spark.examples.SparkPi ${examplesJar} 10`,
          ),
          { serviceAccount: user },
        ),
      ]);
      const r = await k.waitDone(ns, 'submit-emu', 1500);
      const d = await driverOf('emupi');
      const log = d ? await k.logs(ns, d.metadata.name, 4000) : '';
      const piWrong = piFailures(r.phase, d?.status?.phase, log);
      if (piWrong || !d) throw await fail(piWrong, `${r.log}\n${log}`);
      const ex = (await k.executorsOf(ns, d))[0];
      const exLog = ex ? await k.logs(ns, ex.metadata.name, 4000) : '';
      const ran = (pod: Json | undefined) => String(pod?.status?.containerStatuses?.[0]?.imageID ?? '');
      const cpu = (text: string) => /\bos\.arch = (\S+)/.exec(text)?.[1];
      const wrong = [
        ...[d, ex].filter((pod) => !ran(pod).endsWith(`@${p.digest}`)).map((pod) => `${pod?.metadata.name ?? 'no executor'} ran ${ran(pod) || 'nothing'}`),
        ...[
          ['driver', cpu(log)],
          ['executor', cpu(exLog)],
        ]
          .filter(([, c]) => c !== 'aarch64')
          .map(([who, c]) => `the ${who}'s JVM reports os.arch ${c ?? '(none)'}`),
      ];
      if (wrong.length) throw await fail(`not the ${arch} platform of ${img.digest}: ${wrong.join('; ')}`, `${log}\n${exLog}`);
      return `${log.match(/Pi is roughly [\d.]+/)![0]}; the driver and its executor ran ${p.digest.slice(0, 19)}… (linux/${arch}, os.arch aarch64 in both JVMs) under QEMU 10's user-mode emulation, submit to done in ${((Date.now() - t0) / 1000).toFixed(1)} s`;
    };
  }

  scenarios.push([
    '7. service-account-registry delete: account, Role, RoleBinding and Secret gone, no pod left running',
    async () => {
      await account();
      const r = await asAdmin('admin-delete', `spark-client.service-account-registry delete --username ${user} --namespace ${ns}`);
      if (r.phase !== 'Succeeded') throw await fail(`delete pod ${r.phase}`, r.log);
      const left: string[] = [];
      for (const kind of ['serviceaccounts', 'roles', 'rolebindings', 'secrets']) {
        const items = (await k.json(['-n', ns, 'get', kind])).items as Json[];
        left.push(...items.filter((i) => (i.metadata.name as string).includes(user)).map((i) => `${kind}/${i.metadata.name}`));
      }
      const running = (await k.pods(ns)).filter((p) => p.status?.phase === 'Running' || p.status?.phase === 'Pending').map((p) => `pod/${p.metadata.name}`);
      if (left.length || running.length) throw await fail(`left behind: ${[...left, ...running].join(', ')}`);
      return 'nothing of the account is left and no pod runs';
    },
  ]);
  return { namespace: ns, scenarios };
}

/** Remove what the scenarios made (the namespace and the admin's ClusterRoleBinding). */
export async function cleanupScenarios(c: LocalCluster, ns: string): Promise<void> {
  const k = new Kube(c);
  await k.run(['delete', 'clusterrolebinding', `${ns}-admin`, '--ignore-not-found'], { reject: false });
  await k.run(['delete', 'namespace', ns, '--wait=false', '--ignore-not-found'], { reject: false });
  await cleanupData(c, ns);
  await dropServerBuckets(c, ns);
}
