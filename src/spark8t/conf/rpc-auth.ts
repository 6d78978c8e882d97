/**
 * Spark's RPC authentication (`spark.authenticate`) with the account's own secret, by file: any pod
 * of the namespace can reach a driver's RPC port, and without authentication another account's pod
 * can register with it as an executor (and be sent its tasks) or read its configuration. Spark's
 * default on Kubernetes generates a secret per application and hands it to the executors as the
 * plain environment value `_SPARK_AUTH_SECRET` of their pod specs, which every account may read;
 * so the secret is the account's `spark8t-sa-auth-<name>` Secret (made by create and upgrade, read
 * only by the account). The driver reads it from a file (`spark.authenticate.secret.driver.file`): in
 * cluster mode the Secret mounted into its pod, in client mode a copy in spark8t's private temporary
 * directory. Executors take it by reference (`spark.kubernetes.executor.secretKeyRef._SPARK_AUTH_SECRET`,
 * the Secret's base64 form: Spark 3.5's executor reads `spark.authenticate.secret.executor.file` only
 * once it knows the master, after it has fetched the driver's configuration, over RPC that already needs
 * the secret: `A secret key must be specified via the spark.authenticate.secret config`, seen on the
 * node). The executor file is set too (the Secret mounted): with it Spark puts no plain
 * `_SPARK_AUTH_SECRET` value into the executors' pod specs.
 * A user who sets `spark.authenticate=false`, or a secret of their own, keeps theirs. Pure.
 */
import type { Props } from './properties.ts';

export const AUTH_MOUNT = '/etc/spark8t/auth';
const OWN = ['spark.authenticate.secret', 'spark.authenticate.secret.file', 'spark.authenticate.secret.driver.file', 'spark.authenticate.secret.executor.file'];

/**
 * PROPS with RPC authentication by the account's Secret SECRETNAME (key KEY). `localFile` says the
 * driver file is for run.ts to write (client mode): `spark.authenticate.secret.driver.file` is then
 * left for it to set.
 */
export function rpcAuth(props: Props, secretName: string, key: string, envKey: string, mode: 'cluster' | 'client'): { props: Props; localFile: boolean } {
  if (props.get('spark.authenticate')?.trim().toLowerCase() === 'false' || OWN.some((k) => props.has(k))) return { props, localFile: false };
  const out = new Map(props);
  const file = `${AUTH_MOUNT}/${key}`;
  out.set('spark.authenticate', 'true');
  out.set(`spark.kubernetes.executor.secrets.${secretName}`, AUTH_MOUNT);
  out.set('spark.authenticate.secret.executor.file', file);
  out.set(`spark.kubernetes.executor.secretKeyRef._SPARK_AUTH_SECRET`, `${secretName}:${envKey}`);
  if (mode === 'cluster') {
    out.set(`spark.kubernetes.driver.secrets.${secretName}`, AUTH_MOUNT);
    out.set('spark.authenticate.secret.driver.file', file);
  }
  return { props: out, localFile: mode === 'client' };
}
