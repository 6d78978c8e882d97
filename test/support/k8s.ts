/**
 * The real local Kubernetes API (scripts/local-k8s.sh) for tests: started once, reused by every
 * test file, never stopped by tests.
 */
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { projectRoot } from '../../src/lib/paths.ts';
import { startCluster, type LocalCluster } from '../../src/lib/cluster.ts';

export const ROOT = projectRoot;

export type ClusterInfo = LocalCluster;

let cached: Promise<ClusterInfo> | undefined;

/** The suite's cluster (started once per test file, never stopped by tests). */
export function ensureCluster(): Promise<ClusterInfo> {
  cached ??= startCluster();
  return cached;
}

/** Run kubectl (admin unless told otherwise); resolves with stdout. */
export async function kubectl(info: ClusterInfo, args: string[], opts: { kubeconfig?: string; input?: string; reject?: boolean } = {}) {
  const r = await execa(info.kubectlPath, ['--kubeconfig', opts.kubeconfig ?? info.adminKubeconfig, ...args], {
    input: opts.input,
    reject: opts.reject ?? true,
  });
  return r;
}

export async function kubectlJson<T = any>(info: ClusterInfo, args: string[], kubeconfig?: string): Promise<T> {
  const r = await kubectl(info, [...args, '-o', 'json'], { kubeconfig });
  return JSON.parse(r.stdout) as T;
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

export async function createNamespace(info: ClusterInfo, prefix: string): Promise<string> {
  const ns = uniqueName(prefix);
  await kubectl(info, ['create', 'namespace', ns]);
  return ns;
}

export async function deleteNamespace(info: ClusterInfo, ns: string): Promise<void> {
  await kubectl(info, ['delete', 'namespace', ns, '--wait=false'], { reject: false });
}
