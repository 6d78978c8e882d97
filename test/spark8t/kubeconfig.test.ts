/**
 * Every way spark8t finds its credentials, against the real kube-apiserver: client certificates
 * (the admin kubeconfig, used everywhere else), a bearer token, a token file, exec credential
 * plugins (v1 and v1beta1, as EKS uses), --context, --master choosing the cluster by server URL,
 * and in-cluster service-account credentials (a private mount namespace stands in for the pod).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, type ClusterInfo, createNamespace, ensureCluster, kubectl } from '../support/k8s.ts';
import { ours } from './support.ts';

let info: ClusterInfo;
let ns: string;
let token: string;
let ca: string;
let dir: string;
const sa = 'kc-tester';

/** A kubeconfig with one cluster (the local apiserver unless `server` says otherwise) and this user. */
function kubeconfig(name: string, user: Record<string, unknown>, server = info.apiUrl): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server, 'certificate-authority': ca } }],
      users: [{ name: 'u', user }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u', namespace: ns } }],
      'current-context': 'x',
    }),
  );
  return file;
}

const sar = (args: string[], env: Record<string, string>) => ours('service-account-registry', args, env);

beforeAll(async () => {
  info = await ensureCluster();
  ns = await createNamespace(info, 'kc');
  dir = mkdtempSync(join(tmpdir(), 'kc-'));
  ca = join(info.stateDir, 'pki', 'ca.crt');
  await kubectl(info, ['-n', ns, 'create', 'serviceaccount', sa]);
  await kubectl(info, ['create', 'clusterrolebinding', `${ns}-admin`, '--clusterrole', 'cluster-admin', `--serviceaccount=${ns}:${sa}`]);
  token = (await kubectl(info, ['-n', ns, 'create', 'token', sa, '--duration', '1h'])).stdout.trim();
  // An account to read back with each kind of credentials.
  const r = await sar(['create', '--username', 'seen', '--namespace', ns, '--conf', 'spark.kc=1'], { KUBECONFIG: info.adminKubeconfig });
  expect(r.exitCode, r.stderr).toBe(0);
}, 300_000);

const readBack = (env: Record<string, string>, extra: string[] = []) => sar(['get-config', '--username', 'seen', '--namespace', ns, ...extra], env);

describe('credentials', () => {
  it('a bearer token, never printed, not even at DEBUG', async () => {
    const r = await readBack({ KUBECONFIG: kubeconfig('token', { token }) }, ['--log-level', 'DEBUG']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('spark.kc=1');
    expect(r.stderr).toContain('DEBUG GET');
    expect(r.stdout + r.stderr).not.toContain(token);
  });
  it('a token file', async () => {
    const file = join(dir, 'token-file');
    writeFileSync(file, `${token}\n`);
    const r = await readBack({ KUBECONFIG: kubeconfig('tokenfile', { tokenFile: file }) });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('spark.kc=1');
  });
  it.each(['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'])('an exec credential plugin (%s)', async (apiVersion) => {
    const plugin = join(dir, `plugin-${apiVersion.split('/')[1]}`);
    // Like `aws eks get-token`: reads its arguments and environment, prints an ExecCredential.
    writeFileSync(
      plugin,
      `#!/bin/sh\n[ "$1" = "--cluster" ] && [ "$PLUGIN_ENV" = ok ] || { echo "bad call" >&2; exit 3; }\nprintf '{"apiVersion":"${apiVersion}","kind":"ExecCredential","status":{"token":"%s"}}' "$(cat ${join(dir, 'plugin-token')})"\n`,
      { mode: 0o755 },
    );
    writeFileSync(join(dir, 'plugin-token'), token);
    const kc = kubeconfig(`exec-${apiVersion.split('/')[1]}`, {
      exec: { apiVersion, command: plugin, args: ['--cluster', 'local'], env: [{ name: 'PLUGIN_ENV', value: 'ok' }] },
    });
    const r = await readBack({ KUBECONFIG: kc });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('spark.kc=1');
  });
  it('a failing exec plugin is one line naming it', async () => {
    const kc = kubeconfig('exec-bad', {
      exec: { apiVersion: 'client.authentication.k8s.io/v1', command: '/bin/sh', args: ['-c', 'echo "token expired, run aws sso login" >&2; exit 4'] },
    });
    const r = await readBack({ KUBECONFIG: kc });
    expect(r.exitCode).toBe(1);
    expect(r.stderr.trim()).toMatch(/^error: credential plugin "\/bin\/sh" exited with 4: token expired, run aws sso login \(run it by hand to see why\)$/);
  });
});

describe('choosing the cluster', () => {
  it('--context picks a context; --master picks the cluster whose server it names', async () => {
    const file = join(dir, 'two');
    writeFileSync(
      file,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          { name: 'dead', cluster: { server: 'https://127.0.0.1:1', 'certificate-authority': ca } },
          { name: 'live', cluster: { server: info.apiUrl, 'certificate-authority': ca } },
        ],
        users: [{ name: 'u', user: { token } }],
        contexts: [
          { name: 'dead', context: { cluster: 'dead', user: 'u' } },
          { name: 'live', context: { cluster: 'live', user: 'u' } },
        ],
        'current-context': 'dead',
      }),
    );
    const env = { KUBECONFIG: file };
    const dead = await readBack(env);
    expect(dead.exitCode).toBe(1);
    expect(dead.stderr.trim()).toMatch(/^error: cannot connect to the Kubernetes API at https:\/\/127\.0\.0\.1:1: connection refused/);
    expect((await readBack(env, ['--context', 'live'])).stdout).toContain('spark.kc=1');
    expect((await readBack(env, ['--master', info.apiUrl])).stdout).toContain('spark.kc=1');
    expect((await readBack(env, ['--master', `k8s://${info.apiUrl}`])).stdout).toContain('spark.kc=1');
  });
});

describe('in a pod', () => {
  /** Run `cmds` ($0 = the executable) where /run (= /var/run) holds only what a pod's would: a private mount namespace. */
  async function inPod(cmds: string, env: Record<string, string> = {}) {
    const pod = join(dir, 'pod');
    await execa('mkdir', ['-p', pod]);
    writeFileSync(join(pod, 'token'), token);
    writeFileSync(join(pod, 'namespace'), ns);
    await execa('cp', [ca, join(pod, 'ca.crt')]);
    const exe = await (await import('../../src/spark8t/build/build.ts')).ensureSpark8t();
    const url = new URL(info.apiUrl);
    const script = `set -e; mount -t tmpfs tmpfs /run; d=/run/secrets/kubernetes.io/serviceaccount; mkdir -p $d; cp ${pod}/* $d/; ${cmds}`;
    return execa('unshare', ['-m', 'sh', '-c', script, exe], {
      env: { HOME: join(dir, 'nohome'), KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port, PATH: process.env.PATH!, ...env },
      extendEnv: false,
      reject: false,
    });
  }

  it('uses the service account token and CA Kubernetes mounts, when there is no kubeconfig', async () => {
    const r = await inPod(`"$0" service-account-registry list; exec "$0" service-account-registry get-config --username seen --namespace ${ns}`);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${ns}:seen`);
    expect(r.stdout).toContain('spark.kc=1');
  });

  it('gives real Spark a kubeconfig for those credentials, and removes it when Spark is done', async () => {
    const sparkHome = (await execa('bash', [join(ROOT, 'scripts/spark-home.sh')])).stdout.trim();
    const tmp = mkdtempSync(join(tmpdir(), 'kc-tmp-'));
    const r = await inPod(
      `exec "$0" spark-submit --username seen --namespace ${ns} --conf spark.kubernetes.submission.waitAppCompletion=false ` +
        '--conf spark.kubernetes.container.image=example/spark:1 --class org.apache.spark.examples.SparkPi local:///opt/spark/examples/jars/spark-examples.jar 10',
      { SPARK_HOME: sparkHome, TMPDIR: tmp },
    );
    expect(
      r.exitCode,
      r.stderr
        .split('\n')
        .filter((l) => /Exception|message|Failure|ERROR|error/.test(l))
        .slice(0, 8)
        .join('\n'),
    ).toBe(0);
    const pods = JSON.parse((await kubectl(info, ['-n', ns, 'get', 'pods', '-o', 'json'])).stdout);
    expect(pods.items.map((p: { spec: { serviceAccountName: string } }) => p.spec.serviceAccountName)).toEqual(['seen']);
    // The properties file and the kubeconfig lived in one private directory, gone now.
    expect(readdirSync(tmp).filter((n) => n.startsWith('spark8t-'))).toEqual([]);
    rmSync(tmp, { recursive: true, force: true });
  }, 300_000);
});
