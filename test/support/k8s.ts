/**
 * The real local Kubernetes API (scripts/local-k8s.sh) for tests: started once, reused by every
 * test file, never stopped by tests.
 */
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ClusterInfo {
  apiUrl: string;
  adminKubeconfig: string;
  restrictedKubeconfig: string;
  restrictedNamespace: string;
  stateDir: string;
  kubectlPath: string;
}

let cached: Promise<ClusterInfo> | undefined;

export function ensureCluster(): Promise<ClusterInfo> {
  cached ??= (async () => {
    await execa('bash', [`${ROOT}/scripts/local-k8s.sh`, 'start'], { stdio: 'inherit' });
    const { stdout } = await execa('bash', [`${ROOT}/scripts/local-k8s.sh`, 'env']);
    const env: Record<string, string> = {};
    for (const m of stdout.matchAll(/^export (\w+)=(.*)$/gm)) env[m[1]!] = m[2]!;
    return {
      apiUrl: env.K8S_API_URL!,
      adminKubeconfig: env.KUBECONFIG_ADMIN!,
      restrictedKubeconfig: env.KUBECONFIG_RESTRICTED!,
      restrictedNamespace: env.RESTRICTED_NAMESPACE!,
      stateDir: env.LOCAL_K8S_DIR!,
      kubectlPath: env.KUBECTL!,
    };
  })();
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
