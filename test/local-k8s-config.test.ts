/**
 * The local node's generated configuration (scripts/k8s/config.sh, printed by `scripts/local-k8s.sh config`):
 * for every Kubernetes minor the README lists, what would be written and started equals its golden file,
 * test/fixtures/local-k8s/1.N.txt. A change to any file, object or flag shows as a diff of those files;
 * `UPDATE_GOLDEN=1 npx vitest run test/local-k8s-config.test.ts` rewrites them (review the diff).
 * That the running node's files and flags are these: test/local-k8s.test.ts compares them on the node.
 */
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './support/k8s.ts';

const GOLDEN = join(ROOT, 'test/fixtures/local-k8s');
const MINORS = Array.from({ length: 12 }, (_, i) => 26 + i); // 1.26 … 1.37, as the README says

/** `scripts/local-k8s.sh config` for a version, with fixed state folders (nothing is written or started). */
async function config(version: string, env: Record<string, string> = {}) {
  const cache = mkdtempSync(join(tmpdir(), 'sparkcraft-k8s-config-'));
  try {
    return await execa('bash', [join(ROOT, 'scripts/local-k8s.sh'), 'config'], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        SPARKCRAFT_CACHE: cache,
        K8S_VERSION: version,
        LOCAL_K8S_DIR: '/state/local-k8s',
        LOCAL_REGISTRY_STATE: '/state/local-registry',
        LOCAL_K8S_API_PORT: '',
        LOCAL_K8S_NODE: '',
        ...env,
      },
      extendEnv: false,
      reject: false,
    });
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
}
type Out = Awaited<ReturnType<typeof config>>;
/** One "### NAME" section of the printed configuration. */
const section = (out: string, name: string) =>
  out
    .split(/^### /m)
    .find((s) => s.startsWith(`${name}\n`))
    ?.slice(name.length + 1);

describe('the local node configuration, per Kubernetes minor (golden files)', () => {
  it('the README names the range the golden files cover', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toMatch(/v1\.26\.\d+/);
    expect(readme).toMatch(/v1\.37\.\d+/);
    expect(readdirSync(GOLDEN).sort()).toEqual(MINORS.map((m) => `1.${m}.txt`).sort());
  });

  for (const minor of MINORS)
    it(`1.${minor}`, async () => {
      const r = await config(`v1.${minor}.0`);
      expect(r.exitCode, r.stderr).toBe(0);
      const file = join(GOLDEN, `1.${minor}.txt`);
      if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, `${r.stdout}\n`);
      expect(`${r.stdout}\n`).toBe(readFileSync(file, 'utf8'));
    });

  it('what differs between minors is what the README says (the runtime flag before 1.27, failCgroupV1 from 1.31)', async () => {
    const [old, mid, nu] = (await Promise.all(['v1.26.15', 'v1.30.0', 'v1.37.2'].map((v) => config(v)))) as [Out, Out, Out];
    expect(section(old.stdout, 'kubelet arguments')).toContain('--container-runtime-endpoint\nunix:///state/local-k8s/containerd/containerd.sock\n');
    expect(section(mid.stdout, 'kubelet arguments')).not.toContain('--container-runtime-endpoint');
    expect(section(mid.stdout, 'kubelet/config.yaml')).not.toContain('failCgroupV1');
    expect(section(nu.stdout, 'kubelet/config.yaml')).toContain('failCgroupV1: false');
    // etcd on its unix sockets in the 0700 state folder, peer included; the apiserver reaches it there
    expect(section(nu.stdout, 'etcd arguments')).not.toMatch(/http:|127\.0\.0\.1/);
    expect(section(nu.stdout, 'apiserver arguments')).toContain('--etcd-servers\nunix:///state/local-k8s/etcd.sock:0\n');
  });

  it('the registry password is a placeholder in the printed configuration, and settings reach it', async () => {
    const r = await config('v1.31.14', { LOCAL_K8S_API_PORT: '26443', CFG_REGISTRY_PORT: '5123' });
    expect(section(r.stdout, 'containerd/config.toml')).toContain('password = "<the local registry password>"');
    expect(section(r.stdout, 'admin.kubeconfig')).toContain('server: https://127.0.0.1:26443');
    expect(section(r.stdout, 'containerd/certs.d/127.0.0.1:5123/hosts.toml')).toContain('server = "https://127.0.0.1:5123"');
    expect(section(r.stdout, 'apiserver arguments (API only)')).toContain('--endpoint-reconciler-type\nnone\n');
  });
});
