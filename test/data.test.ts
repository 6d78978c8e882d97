/**
 * The pure parts of the data scenarios on the node (the scenarios themselves run in
 * test/cluster.test.ts with the other cluster scenarios): cluster.json's S3 description, and the
 * command lines pods run Spark with.
 */
import { describe, expect, it } from 'vitest';
import { parseCluster } from '../src/lib/cluster.ts';
import { Kube } from '../src/smoke/kube.ts';
import { dataBucket, dataScenarios, podWhere, unprefix } from '../src/smoke/data.ts';

const base = {
  apiUrl: 'https://127.0.0.1:16443',
  k8sVersion: 'v1.31.14',
  adminKubeconfig: '/a',
  restrictedKubeconfig: '/r',
  restrictedNamespace: 'restricted-ns',
  stateDir: '/s',
  kubectlPath: '/k',
  node: null,
};
const s3 = {
  endpoint: 'http://127.0.0.1:18333',
  podEndpoint: 'http://10.243.0.1:18333',
  region: 'us-east-1',
  accessKey: 'SCABC',
  secretKeyFile: '/x/secret-key',
};

describe('cluster.json: the S3 server that runs with the node', () => {
  it('is read when present, null when absent or null', () => {
    expect(parseCluster(JSON.stringify({ ...base, s3 })).s3).toEqual(s3);
    expect(parseCluster(JSON.stringify({ ...base, s3: null })).s3).toBeNull();
    expect(parseCluster(JSON.stringify(base)).s3).toBeNull();
  });
  it('a field missing is refused with the fix', () => {
    expect(() => parseCluster(JSON.stringify({ ...base, s3: { ...s3, podEndpoint: '' } }), 'c.json')).toThrow(/c\.json: s3\.podEndpoint missing/);
    expect(() => parseCluster(JSON.stringify({ ...base, s3: 'x' }), 'c.json')).toThrow(/s3 is not an object/);
  });
});

describe('data scenarios: how pods run Spark', () => {
  const d = { cluster: () => ({ ...base, s3 }) as never, k: new Kube(() => ({ ...base, s3 }) as never), ns: 'scn-x', imageRef: 'img', base: async () => {} };
  const where = podWhere(d, s3, dataBucket('scn-x'), { username: 'u', namespace: 'scn-x' });
  it('spark-sql in client mode from the pod; spark-submit in cluster mode, the script through S3', () => {
    expect(where.s3Endpoint).toBe('http://10.243.0.1:18333');
    const sql = where.spark('spark-sql', { username: 'u', namespace: 'scn-x' });
    expect(sql).toMatch(/^spark-client\.spark-sql --username u --namespace scn-x /);
    expect(sql).toContain('--conf spark.driver.host=$POD_IP');
    expect(sql).not.toContain('--deploy-mode cluster');
    const submit = where.spark('spark-submit', { username: 'u', namespace: 'scn-x' });
    expect(submit).toContain('--deploy-mode cluster --conf spark.kubernetes.driver.pod.name=$HOSTNAME-driver');
    expect(submit).toContain('--conf spark.kubernetes.file.upload.path=s3a://scn-x-data/uploads');
  });
  it('are listed as "data N." scenarios in order, selectable with --only ^data', () => {
    const names = dataScenarios(d).map(([n]) => n);
    expect(names.every((n) => /^data \d+[a-z]?\. /.test(n))).toBe(true);
    expect(names.map((n) => n.split('.')[0])).toEqual(['data 1', 'data 1b', 'data 1c', 'data 2', 'data 3', 'data 4', 'data 4b', 'data 5']);
    // with the snap, its import-certificate scenario too
    const withSnap = dataScenarios(d, async () => {
      throw new Error('not opened in a unit test');
    }).map(([n]) => n.split('.')[0]);
    expect(withSnap).toEqual(['data 1', 'data 1b', 'data 1c', 'data 2', 'data 3', 'data 4', 'data 4b', 'data 4c', 'data 5']);
  });
  it("a driver's log reads as the program printed it (pebble's prefix dropped)", () => {
    expect(unprefix('2026-11-26T02:01:30.271Z [sparkd] READ 1:ada\n2026-11-26T02:01:31.715Z [pebble] Service "sparkd" stopped\nplain')).toBe(
      'READ 1:ada\nService "sparkd" stopped\nplain',
    );
  });
});
