/**
 * Secrets by reference (src/spark8t/conf/secret-refs.ts): what the driver's ConfigMap, the pod specs
 * and the local JVM get for the account's S3 keys; submit-time secrets in cluster mode; get-config's
 * redaction. The whole path (a job reading S3 with them, and no ConfigMap or pod spec holding the
 * key) runs on the local node in the data scenarios (src/smoke/data.ts, data 5).
 */
import { describe, expect, it } from 'vitest';
import { REDACTED, envNameFor, redacted, redactionRegex, secretsByReference, type StoredAt } from '../../src/spark8t/conf/secret-refs.ts';
import { storedAt } from '../../src/spark8t/registry/account.ts';

const SECRET = 'wJalrXUtnFEMI-K7MDENG';
const account = {
  name: 'alice',
  props: new Map([
    ['spark.hadoop.fs.s3a.secret.key', SECRET],
    ['spark.hadoop.fs.s3a.access.key', 'AKIAEXAMPLE'],
    ['spark.hadoop.fs.s3a.endpoint', 'http://10.0.0.1:8333'],
    ['spark.ssl.keyPassword', 'pw-not-hadoop'],
  ]),
  hubProps: new Map([['spark.hadoop.fs.s3a.session.token', 'hub-token-1']]),
};

describe('secrets by reference', () => {
  const stored = storedAt(account, false);

  it("cluster mode: the account's secret-looking Hadoop properties become ${env.…}, referenced from its Secret by driver and executors", () => {
    const props = new Map([...account.props, ...account.hubProps, ['spark.app.name', 'x']]);
    const r = secretsByReference(props, stored, 'cluster');
    expect(r.refused).toEqual([]);
    const v = envNameFor('spark.hadoop.fs.s3a.secret.key');
    expect(v).toBe('SPARK8T_SPARK_HADOOP_FS_S3A_SECRET_KEY');
    expect(r.props.get('spark.hadoop.fs.s3a.secret.key')).toBe(`\${env.${v}}`);
    expect(r.props.get(`spark.kubernetes.driver.secretKeyRef.${v}`)).toBe('spark8t-sa-conf-alice:spark.hadoop.fs.s3a.secret.key');
    expect(r.props.get(`spark.kubernetes.executor.secretKeyRef.${v}`)).toBe('spark8t-sa-conf-alice:spark.hadoop.fs.s3a.secret.key');
    // The hub's token is referenced from the hub's Secret.
    const t = envNameFor('spark.hadoop.fs.s3a.session.token');
    expect(r.props.get(`spark.kubernetes.executor.secretKeyRef.${t}`)).toBe('integrator-hub-conf-alice:spark.hadoop.fs.s3a.session.token');
    // The local JVM (spark-submit's client uploads through s3a) gets the values in its environment.
    expect(r.env).toEqual({ [v]: SECRET, [envNameFor('spark.hadoop.fs.s3a.access.key')]: 'AKIAEXAMPLE', [t]: 'hub-token-1' });
    // No value Spark would redact is left in what goes into the properties file, but the non-Hadoop one.
    const file = [...r.props].map(([k, val]) => `${k}=${val}`).join('\n');
    expect(file).not.toContain(SECRET);
    expect(file).not.toContain('hub-token-1');
    expect(file).toContain('spark.ssl.keyPassword=pw-not-hadoop');
    expect(r.props.get('spark.hadoop.fs.s3a.endpoint')).toBe('http://10.0.0.1:8333');
  });

  it('client mode: no driver reference (the driver is the local JVM), executors by reference', () => {
    const r = secretsByReference(new Map(account.props), stored, 'client');
    expect([...r.props.keys()].filter((k) => k.includes('secretKeyRef')).every((k) => k.startsWith('spark.kubernetes.executor.'))).toBe(true);
    expect(r.referenced).toEqual(['spark.hadoop.fs.s3a.secret.key', 'spark.hadoop.fs.s3a.access.key']);
  });

  it('a secret given at submit time: refused in cluster mode (key named, never the value), kept in client mode', () => {
    const props = new Map([...account.props, ['spark.hadoop.fs.s3a.secret.key', 'typed-at-submit']]);
    const c = secretsByReference(props, stored, 'cluster');
    expect(c.refused).toEqual(['spark.hadoop.fs.s3a.secret.key']);
    const l = secretsByReference(props, stored, 'client');
    expect(l.refused).toEqual([]);
    expect(l.props.get('spark.hadoop.fs.s3a.secret.key')).toBe('typed-at-submit');
    const none = secretsByReference(props, new Map<string, StoredAt>(), 'cluster');
    expect(none.refused).toContain('spark.hadoop.fs.s3a.access.key');
  });

  it("Spark's redaction regex: the configuration's own, Java's (?i) read; get-config redacts what it matches", () => {
    expect(redactionRegex(new Map()).test('spark.hadoop.fs.s3a.ACCESS.KEY')).toBe(true);
    const own = redactionRegex(new Map([['spark.redaction.regex', '(?i)endpoint']]));
    expect(own.test('spark.hadoop.fs.s3a.Endpoint')).toBe(true);
    expect(own.test('spark.hadoop.fs.s3a.secret.key')).toBe(false);
    const shown = redacted(new Map([...account.props, ['empty.secret', '']]));
    expect(shown.get('spark.hadoop.fs.s3a.secret.key')).toBe(REDACTED);
    expect(shown.get('spark.ssl.keyPassword')).toBe(REDACTED);
    expect(shown.get('spark.hadoop.fs.s3a.endpoint')).toBe('http://10.0.0.1:8333');
    expect(shown.get('empty.secret')).toBe('');
  });
});
