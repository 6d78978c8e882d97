/**
 * Secrets by reference (pure). Spark writes its whole resolved configuration into the driver's
 * ConfigMap (`spark-drv-…-conf-map`), which every account of the namespace may read, and into the
 * event log and the UI's environment page. So a Hadoop property whose name Spark's own
 * `spark.redaction.regex` would redact (`spark.hadoop.fs.s3a.secret.key`, `…access.key`, tokens,
 * passwords), when it comes from the account's Secret, is handed to Spark as Hadoop's environment
 * substitution `${env.SPARK8T_…}` instead of its value:
 *  - the driver pod (cluster mode) and the executor pods get the variable from the account's Secret
 *    by reference (`spark.kubernetes.{driver,executor}.secretKeyRef.<VAR>=<secret>:<key>`): the pod
 *    spec names the Secret and key, never the value (the admission policy lets an account reference
 *    only Secrets it may read itself, its own among them);
 *  - the local JVM (spark-submit's client, which uploads files through s3a; the driver in client
 *    mode) gets it in its environment, never in the properties file.
 * Such a property given at submit time (`--conf`, `--properties-file`, the env conf file) has no
 * Secret to be referenced from: in cluster mode it is refused, naming the key (never the value), since
 * the account may not write Secrets; in client mode it stays in the local JVM (executors fetch the
 * configuration from the driver over RPC, not from a ConfigMap).
 * Non-Hadoop properties cannot be substituted from the environment by Spark and are left as they are.
 */
import type { Props } from './properties.ts';

/** Spark's default `spark.redaction.regex` (`(?i)secret|password|token|access[.]key`). */
export const SPARK_REDACTION = /secret|password|token|access[.]key/i;

/** Where an account property is stored: the Secret and its data key. */
export interface StoredAt {
  secret: string;
  key: string;
  value: string;
}

/** The environment variable a property travels in: `SPARK8T_` and the name, upper case. */
export function envNameFor(property: string): string {
  return `SPARK8T_${property.replace(/[^A-Za-z0-9]/g, '_').toUpperCase()}`;
}

/** The regex Spark redacts with: the configuration's own `spark.redaction.regex` (Java's `(?i)` prefix read), else the default. */
export function redactionRegex(props: Props): RegExp {
  const own = props.get('spark.redaction.regex');
  if (!own) return SPARK_REDACTION;
  try {
    return own.startsWith('(?i)') ? new RegExp(own.slice(4), 'i') : new RegExp(own);
  } catch {
    return SPARK_REDACTION;
  }
}

export interface ByReference {
  props: Props;
  /** For the local JVM's environment. */
  env: Record<string, string>;
  /** Secret-looking Hadoop properties given at submit time in cluster mode: refused by the caller. */
  refused: string[];
  /** The properties now passed by reference. */
  referenced: string[];
}

export function secretsByReference(props: Props, stored: ReadonlyMap<string, StoredAt>, mode: 'cluster' | 'client'): ByReference {
  const re = redactionRegex(props);
  const out: Props = new Map();
  const env: Record<string, string> = {};
  const refused: string[] = [];
  const referenced: string[] = [];
  const refs: Array<[string, string]> = [];
  for (const [k, v] of props) {
    if (!k.startsWith('spark.hadoop.') || !re.test(k) || v === '' || v.startsWith('${env.')) {
      out.set(k, v);
      continue;
    }
    const at = stored.get(k);
    if (!at || at.value !== v) {
      if (mode === 'cluster') refused.push(k);
      out.set(k, v);
      continue;
    }
    const name = envNameFor(k);
    out.set(k, `\${env.${name}}`);
    env[name] = v;
    referenced.push(k);
    if (mode === 'cluster') refs.push([`spark.kubernetes.driver.secretKeyRef.${name}`, `${at.secret}:${at.key}`]);
    refs.push([`spark.kubernetes.executor.secretKeyRef.${name}`, `${at.secret}:${at.key}`]);
  }
  for (const [k, v] of refs) out.set(k, v);
  return { props: out, env, refused, referenced };
}

/** What get-config prints for a value Spark would redact, as Spark's UI shows it. */
export const REDACTED = '*********(redacted)';

/** The properties with the values Spark would redact replaced (get-config without --show-secrets). */
export function redacted(props: Props): Props {
  const re = redactionRegex(props);
  return new Map([...props].map(([k, v]) => [k, re.test(k) && v !== '' ? REDACTED : v]));
}
