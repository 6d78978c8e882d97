/**
 * Concurrent edits of one account's configuration against the real kube-apiserver: add-config and
 * remove-config are read-modify-write, so each must detect that the Secret changed under it (its
 * resourceVersion) and redo its edit on the new contents. The commands run as the CLI does
 * (runRegistry, one client and connection each), all at once in this process, so their reads all
 * happen before their writes; then as separate processes.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type ClusterInfo, ensureCluster, kubectlJson, uniqueName } from '../support/k8s.ts';
import { runRegistry } from '../../src/spark8t/registry/cli.ts';
import { decodeKey } from '../../src/spark8t/registry/encoding.ts';
import { ours } from './support.ts';

let info: ClusterInfo;
beforeAll(async () => {
  info = await ensureCluster();
}, 600_000);

async function stored(ns: string, user: string): Promise<Record<string, string>> {
  const s = await kubectlJson(info, ['-n', ns, 'get', 'secret', `spark8t-sa-conf-${user}`]);
  return Object.fromEntries(Object.entries((s.data ?? {}) as Record<string, string>).map(([k, v]) => [decodeKey(k), Buffer.from(v, 'base64').toString()]));
}
const cli = (action: string, ns: string, conf: string[]) =>
  runRegistry([action, '--username', 'cc', '--namespace', ns, '--kubeconfig', info.adminKubeconfig, ...conf.flatMap((c) => ['--conf', c])]);

describe('concurrent config edits lose nothing', () => {
  it('10 concurrent add-config of distinct keys: all 10 stored', async () => {
    const ns = uniqueName('cc');
    expect(await cli('create', ns, ['spark.base=0'])).toBe(0);
    const codes = await Promise.all(Array.from({ length: 10 }, (_, i) => cli('add-config', ns, [`spark.k${i}=v${i}`])));
    expect(codes).toEqual(Array(10).fill(0));
    const want = Object.fromEntries([['spark.base', '0'], ...Array.from({ length: 10 }, (_, i) => [`spark.k${i}`, `v${i}`])]);
    expect(await stored(ns, 'cc')).toEqual(want);
  }, 120_000);

  it('5 remove-config and 5 add-config at once: exactly the removed keys gone, the added ones there', async () => {
    const ns = uniqueName('cc');
    expect(await cli('create', ns, ['spark.keep=1', ...Array.from({ length: 5 }, (_, i) => `spark.r${i}=x`)])).toBe(0);
    const codes = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 ? cli('remove-config', ns, [`spark.r${(i - 1) / 2}`]) : cli('add-config', ns, [`spark.a${i / 2}=y`]))),
    );
    expect(codes).toEqual(Array(10).fill(0));
    expect(await stored(ns, 'cc')).toEqual({ 'spark.keep': '1', 'spark.a0': 'y', 'spark.a1': 'y', 'spark.a2': 'y', 'spark.a3': 'y', 'spark.a4': 'y' });
  }, 120_000);

  it('10 add-config processes at once (the CLI under Node): all 10 stored', async () => {
    const ns = uniqueName('cc');
    expect(await cli('create', ns, [])).toBe(0);
    const env = { KUBECONFIG: info.adminKubeconfig };
    const runs = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        ours('service-account-registry', ['add-config', '--username', 'cc', '--namespace', ns, '--conf', `spark.p${i}=${i}`], env, 'node'),
      ),
    );
    expect(runs.map((r) => [r.exitCode, r.stderr])).toEqual(Array(10).fill([0, '']));
    expect(Object.keys(await stored(ns, 'cc')).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `spark.p${i}`));
  }, 180_000);
});
