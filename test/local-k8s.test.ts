import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, ensureCluster, kubectl, kubectlJson, createNamespace, deleteNamespace } from './support/k8s.ts';

describe('scripts/local-k8s.sh: a real kube-apiserver with etcd', () => {
  it('serves the pinned Kubernetes version over TLS with client certificates', async () => {
    const info = await ensureCluster();
    const v = await kubectlJson(info, ['version']);
    expect(v.serverVersion.gitVersion).toBe('v1.31.14');
    expect(info.apiUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('lets the admin create namespaces and pods (pods stay Pending: no scheduler)', async () => {
    const info = await ensureCluster();
    const ns = await createNamespace(info, 'lk8s');
    try {
      await kubectl(info, ['-n', ns, 'run', 'p', '--image=busybox', '--restart=Never']);
      const pod = await kubectlJson(info, ['-n', ns, 'get', 'pod', 'p']);
      expect(pod.status.phase).toBe('Pending');
    } finally {
      await deleteNamespace(info, ns);
    }
  });

  it('restricts the second user to its namespace without Role rights', async () => {
    const info = await ensureCluster();
    const can = async (...args: string[]) =>
      (await kubectl(info, ['auth', 'can-i', ...args], { kubeconfig: info.restrictedKubeconfig, reject: false })).stdout.trim();
    expect(await can('create', 'serviceaccounts', '-n', info.restrictedNamespace)).toBe('yes');
    expect(await can('create', 'secrets', '-n', info.restrictedNamespace)).toBe('yes');
    expect(await can('create', 'roles', '-n', info.restrictedNamespace)).toBe('no');
    expect(await can('list', 'namespaces')).toBe('no');
    expect(await can('create', 'serviceaccounts', '-n', 'default')).toBe('no');
  });

  it('reset starts an empty cluster: what was left is gone, the restricted user is back', async () => {
    // A second instance, in its own directory and on its own ports: the suite's cluster stays up.
    const dir = mkdtempSync(join(tmpdir(), 'k8s-reset-'));
    const env = { LOCAL_K8S_DIR: dir, LOCAL_K8S_API_PORT: '26443', LOCAL_K8S_ETCD_PORT: '22379' };
    const script = `${ROOT}/scripts/local-k8s.sh`;
    const info = await ensureCluster();
    const k = (...args: string[]) => execa(info.kubectlPath, ['--kubeconfig', join(dir, 'admin.kubeconfig'), ...args]);
    try {
      await execa('bash', [script, 'start'], { env });
      await k('create', 'namespace', 'left-behind');
      expect((await k('get', 'namespaces', '-o', 'name')).stdout).toContain('namespace/left-behind');
      await execa('bash', [script, 'reset'], { env });
      const names = (await k('get', 'namespaces', '-o', 'name')).stdout;
      expect(names).not.toContain('namespace/left-behind');
      expect(names).toContain('namespace/restricted-ns');
    } finally {
      await execa('bash', [script, 'stop'], { env, reject: false });
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
  it('start is idempotent and status reports it running', async () => {
    await ensureCluster();
    const again = await execa('bash', [`${ROOT}/scripts/local-k8s.sh`, 'start']);
    expect(again.exitCode).toBe(0);
    const st = await execa('bash', [`${ROOT}/scripts/local-k8s.sh`, 'status']);
    expect(st.stdout).toMatch(/^running https:\/\/127\.0\.0\.1:/);
  });
});
