/**
 * Spark's RPC authentication with the account's secret by file (src/spark8t/conf/rpc-auth.ts). That
 * another account's pod is then refused by a running driver is cluster scenario 5e.
 */
import { describe, expect, it } from 'vitest';
import { AUTH_MOUNT, rpcAuth } from '../../src/spark8t/conf/rpc-auth.ts';

describe('RPC authentication by file', () => {
  it('cluster mode: the driver reads the mounted Secret, executors take it by reference; nothing goes by value', () => {
    const r = rpcAuth(new Map([['spark.app.name', 'x']]), 'spark8t-sa-auth-alice', 'secret', 'secret.base64', 'cluster');
    expect(r.localFile).toBe(false);
    expect(Object.fromEntries(r.props)).toEqual({
      'spark.app.name': 'x',
      'spark.authenticate': 'true',
      'spark.kubernetes.driver.secrets.spark8t-sa-auth-alice': AUTH_MOUNT,
      'spark.kubernetes.executor.secrets.spark8t-sa-auth-alice': AUTH_MOUNT,
      'spark.authenticate.secret.driver.file': `${AUTH_MOUNT}/secret`,
      'spark.authenticate.secret.executor.file': `${AUTH_MOUNT}/secret`,
      'spark.kubernetes.executor.secretKeyRef._SPARK_AUTH_SECRET': 'spark8t-sa-auth-alice:secret.base64',
    });
    expect([...r.props.keys()].some((k) => k === 'spark.authenticate.secret')).toBe(false);
  });

  it('client mode: the executors mount it, the local driver file is left for the wrapper to write', () => {
    const r = rpcAuth(new Map(), 'spark8t-sa-auth-alice', 'secret', 'secret.base64', 'client');
    expect(r.localFile).toBe(true);
    expect(r.props.has('spark.authenticate.secret.driver.file')).toBe(false);
    expect(r.props.has('spark.kubernetes.driver.secrets.spark8t-sa-auth-alice')).toBe(false);
    expect(r.props.get('spark.authenticate.secret.executor.file')).toBe(`${AUTH_MOUNT}/secret`);
  });

  it("the user's own choice stands: spark.authenticate=false, or a secret of their own", () => {
    for (const [k, v] of [
      ['spark.authenticate', 'False'],
      ['spark.authenticate.secret', 's'],
      ['spark.authenticate.secret.file', '/f'],
    ]) {
      const props = new Map([[k!, v!]]);
      const r = rpcAuth(props, 'n', 'secret', 'secret.base64', 'cluster');
      expect(r.props).toBe(props);
      expect(r.localFile).toBe(false);
    }
  });
});
