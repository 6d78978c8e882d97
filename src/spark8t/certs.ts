/**
 * `import-certificate ALIAS FILE` (the snap's spark-client.import-certificate): the certificates of FILE (PEM,
 * one or more: a CA and its intermediates) join the trust store the snap's Spark JVMs use, so that they reach
 * services signed by a private CA (S3 over TLS on Ceph or MicroCeph, a Thrift server behind TLS). The store
 * is `$SPARK_USER_DATA/truststore.jks` (the snap's wrappers name it to every JVM they start when it exists);
 * its first version is a copy of the JDK's own trust store, so public CAs stay trusted. The store is
 * rewritten whole (temporary file, then rename); an alias already in it is refused.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { UserError } from '../lib/errors.ts';
import { writeFileAtomic } from '../lib/fsx.ts';
import { JksError, addTrustedCertificates, pemCertificates } from '../lib/jks.ts';
import { writeOut } from './output.ts';

/** The password Java's trust stores have by convention: it guards the store's integrity, not a secret. */
export const TRUSTSTORE_PASSWORD = 'changeit';

const HELP = `usage: import-certificate ALIAS FILE

Adds the certificates of FILE (PEM; a CA and its intermediates) to the trust store of this client's Spark
JVMs ($SPARK_USER_DATA/truststore.jks, made from the JDK's own on first use). ALIAS names them in the store
(letters, digits, . _ - :); a second certificate in FILE gets ALIAS-2, and so on.
`;

export function truststorePath(env: NodeJS.ProcessEnv = process.env): string {
  const home = env.SPARK_USER_DATA || env.HOME;
  if (!home) throw new UserError('E_USAGE', 'neither SPARK_USER_DATA nor HOME is set: no place for the trust store');
  return join(home, 'truststore.jks');
}

/**
 * The JDK's own trust store. Debian's JDK links lib/security/cacerts to /etc/ssl/certs/java/cacerts, an
 * absolute path: inside a snap that is the base's /etc (no Java there), so the snap's copy under $SNAP
 * comes first.
 */
export function jdkTrustStore(env: NodeJS.ProcessEnv): string | undefined {
  if (!env.JAVA_HOME) return undefined;
  const link = join(env.JAVA_HOME, 'lib', 'security', 'cacerts');
  const candidates: string[] = [];
  try {
    const target = readlinkSync(link);
    if (isAbsolute(target) && env.SNAP) candidates.push(join(env.SNAP, target));
  } catch {
    /* not a link */
  }
  candidates.push(link);
  return candidates.find((f) => existsSync(f));
}

export async function runImportCertificate(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    writeOut(HELP);
    return 0;
  }
  if (args.length !== 2)
    throw new UserError('E_USAGE', `import-certificate takes ALIAS and FILE, got ${args.length} argument(s)`, { hint: 'import-certificate my-ca ./ca.crt' });
  const [alias, file] = args as [string, string];
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/.test(alias))
    throw new UserError('E_USAGE', `the alias "${alias}" is not one of letters, digits, . _ - : (at most 100, starting with a letter or digit)`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError('E_CERTIFICATE', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  let ders: Buffer[];
  const subjects: string[] = [];
  try {
    ders = pemCertificates(text);
    for (const der of ders) {
      const c = new X509Certificate(der);
      subjects.push(`${c.subject.replace(/\n/g, ', ')} (until ${new Date(c.validTo).toISOString().slice(0, 10)})`);
    }
  } catch (e) {
    throw new UserError('E_CERTIFICATE', `${file}: ${e instanceof JksError ? e.message : `not an X.509 certificate (${(e as Error).message})`}`);
  }
  const store = truststorePath(env);
  const javaStore = jdkTrustStore(env);
  const base = existsSync(store) ? store : javaStore;
  const entries = ders.map((der, i) => ({ alias: i === 0 ? alias : `${alias}-${i + 1}`, der }));
  let out: Buffer;
  try {
    out = addTrustedCertificates(base ? readFileSync(base) : undefined, entries, TRUSTSTORE_PASSWORD, Date.now());
  } catch (e) {
    if (e instanceof JksError)
      throw new UserError('E_CERTIFICATE', `${base ?? store}: ${e.message}`, { hint: /alias/.test(e.message) ? 'choose another alias' : undefined });
    throw e;
  }
  await writeFileAtomic(store, out, 0o644);
  for (const [i, s] of subjects.entries()) writeOut(`imported ${entries[i]!.alias.toLowerCase()}: ${s}\n`);
  writeOut(`trust store: ${store}${base === store ? '' : base ? ` (made from ${base})` : ' (new: no JDK trust store found, only these certificates)'}\n`);
  return 0;
}
