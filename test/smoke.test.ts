import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { smoke } from '../src/smoke/smoke.ts';
import { road } from '../src/pipeline.ts';
import { workspace } from '../src/lib/workspace.ts';
import { snapEnvironment } from '../src/smoke/runner.ts';
import { ROOT, ensureCluster, uniqueName } from './support/k8s.ts';

describe('snap environment (pure)', () => {
  it('gives apps what snapd gives them, with $VARs of snap.yaml expanded', () => {
    const env = snapEnvironment(
      { name: 'spark-client', environment: { SPARK_HOME: '$SNAP/opt/spark', KUBECONFIG: '$SNAP_REAL_HOME/.kube/config', PATH: '$SNAP/bin:$PATH' } },
      undefined,
      { snap: '/s', data: '/d', common: '/c', userData: '/h/snap/x1', userCommon: '/h/snap/common', realHome: '/h' },
      '/usr/bin',
    );
    expect(env).toMatchObject({ SNAP: '/s', HOME: '/h/snap/x1', SPARK_HOME: '/s/opt/spark', KUBECONFIG: '/h/.kube/config', SNAP_NAME: 'spark-client' });
    expect(env.PATH).toBe('/s/bin:/s/usr/sbin:/s/usr/bin:/s/sbin:/s/bin:/usr/bin');
  });
});

describe('smoke of the default line (real rock and snap)', () => {
  it('every check passes: Spark jobs, history server, sparkd, spark8t against the apiserver', async () => {
    const results = await smoke({ artifact: 'all' }, workspace(), road(workspace()));
    const failed = results.filter((r) => !r.ok);
    expect(failed.map((f) => `${f.name}: ${f.detail}`)).toEqual([]);
    expect(results.map((r) => r.name)).toEqual([
      'rock: no setuid or setgid file, nothing world-writable but /tmp',
      'rock: PySpark job in local mode',
      'rock: JVM job (SmokePi) in local mode',
      'rock: SparkPi from the examples jar (the documented command) in local mode',
      'rock: history server lists a completed application',
      'rock: sparkd runs driver and executor through the Spark entrypoint',
      'rock: spark8t creates and lists service accounts on the kube-apiserver',
      'rock: spark-submit --deploy-mode cluster creates the driver pod',
      'snap: install hook writes the configuration under SNAP_DATA',
      'snap: service-account-registry create, list, get-config',
      'snap: spark-submit --deploy-mode cluster creates the driver pod',
      'snap: pyspark runs a local job from piped input',
    ]);
    // The unpacked snap (~1 GB) and the kubeconfig with the cluster's credentials are gone.
    expect(readdirSync(tmpdir()).filter((n) => n.startsWith(`sparkcraft-smoke-${process.pid}-`))).toEqual([]);
  }, 1_800_000);

  it('a check run alone (--only) sets up what it needs: the account, the install hook', async () => {
    const results = await smoke({ artifact: 'all', only: /cluster/ }, workspace(), road(workspace()));
    expect(results.map((r) => `${r.name}: ${r.ok ? 'ok' : r.detail}`)).toEqual([
      'rock: spark-submit --deploy-mode cluster creates the driver pod: ok',
      'snap: spark-submit --deploy-mode cluster creates the driver pod: ok',
    ]);
  }, 600_000);
  it('--json: stdout is the JSON results alone (the summary goes to stderr)', async () => {
    const r = await execa('node', ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'smoke', '--artifact', 'rock', '--only', 'sparkd', '--json'], {
      cwd: ROOT,
      reject: false,
    });
    expect(r.exitCode, r.stderr.slice(-1500)).toBe(0);
    const results = JSON.parse(r.stdout) as Array<{ name: string; ok: boolean }>;
    expect(results.map((x) => [x.name, x.ok])).toEqual([['rock: sparkd runs driver and executor through the Spark entrypoint', true]]);
    expect(r.stderr).toMatch(/INFO smoke: 1 passed, 0 failed in \d+ s/);
  }, 600_000);
  it('the MicroK8s smoke steps that need no MicroK8s run against the local apiserver', async () => {
    await ensureCluster();
    const home = (await execa('bash', [join(ROOT, 'scripts/spark-home.sh')])).stdout.trim();
    const exe = join(ROOT, 'dist/spark8t');
    const ns = uniqueName('mk8s');
    const r = await execa('bash', [join(ROOT, 'scripts/microk8s-smoke.sh'), 'local'], {
      env: { SAR: `${exe} service-account-registry`, SUBMIT: `${exe} spark-submit`, SPARK_HOME: home, NAMESPACE: ns, IMAGE: 'example/charmed-spark:smoke' },
      reject: false,
    });
    expect(r.exitCode, r.stderr.slice(-1500)).toBe(0);
    expect(r.stderr).toContain('local steps passed');
  }, 600_000);
});
