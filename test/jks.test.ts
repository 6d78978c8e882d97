import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JksError, jksAliases, normalizeJks } from '../src/lib/jks.ts';
import { runImportCertificate } from '../src/spark8t/certs.ts';
import { UserError } from '../src/lib/errors.ts';

/** A JKS trust store with two certificates, made by the JDK's keytool (as ca-certificates-java does). */
async function trustStore(dir: string, name: string): Promise<Buffer> {
  const store = join(dir, `${name}.jks`);
  for (const alias of ['debian:a.pem', 'debian:b.pem']) {
    const ks = join(dir, `${name}-${alias}.p12`);
    await execa('keytool', [
      '-genkeypair',
      '-keystore',
      ks,
      '-storepass',
      'pw123456',
      '-alias',
      'k',
      '-keyalg',
      'EC',
      '-dname',
      `CN=${alias}`,
      '-validity',
      '10',
    ]);
    const cert = join(dir, `${name}-${alias}.der`);
    await execa('keytool', ['-exportcert', '-keystore', ks, '-storepass', 'pw123456', '-alias', 'k', '-file', cert]);
    await execa('keytool', ['-importcert', '-noprompt', '-storetype', 'JKS', '-keystore', store, '-storepass', 'changeit', '-alias', alias, '-file', cert]);
  }
  return readFileSync(store);
}

describe('Java trust stores made reproducible', () => {
  it('gives the same bytes for the same certificates written at different times, and the JDK still reads them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jks-'));
    const a = await trustStore(dir, 'a');
    await new Promise((r) => setTimeout(r, 1100));
    // The same certificates again (exported from a, imported into a new store at another time).
    const b = join(dir, 'b.jks');
    for (const alias of ['debian:a.pem', 'debian:b.pem']) {
      await execa('keytool', [
        '-importcert',
        '-noprompt',
        '-storetype',
        'JKS',
        '-keystore',
        b,
        '-storepass',
        'changeit',
        '-alias',
        alias,
        '-file',
        join(dir, `a-${alias}.der`),
      ]);
    }
    const bBytes = readFileSync(b);
    expect(a.equals(bBytes)).toBe(false); // the times differ
    const t = 1686355200_000;
    const na = normalizeJks(a, 'changeit', t);
    const nb = normalizeJks(bBytes, 'changeit', t);
    expect(na.equals(nb)).toBe(true);
    expect(na.length).toBe(a.length);
    writeFileSync(join(dir, 'n.jks'), na);
    const list = await execa('keytool', ['-list', '-v', '-keystore', join(dir, 'n.jks'), '-storepass', 'changeit']);
    expect(list.stdout).toContain('Your keystore contains 2 entries');
    expect(list.stdout).toMatch(/Creation date: Jun 10, 2023/);
    expect(list.stdout).toContain('Owner: CN=debian:a.pem');
  }, 120_000);

  it('refuses a wrong password, a damaged store and what is not a JKS, with the reason', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jks-'));
    const a = await trustStore(dir, 'a');
    expect(() => normalizeJks(a, 'other', 0)).toThrow(JksError);
    expect(() => normalizeJks(a, 'other', 0)).toThrow(/integrity digest/);
    expect(() => normalizeJks(a.subarray(0, a.length - 30), 'changeit', 0)).toThrow(/truncated|integrity/);
    expect(() => normalizeJks(Buffer.from('PK\u0003\u0004 not a keystore at all, long enough'), 'changeit', 0)).toThrow(/not a Java KeyStore/);
  }, 120_000);

  it("import-certificate: the JDK's CAs plus every certificate of the file, read by keytool; a second alias adds, a taken alias, a non-certificate or a damaged store is refused in one line and the store is left as it was", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jks-import-'));
    const javaHome = (await execa('bash', ['-c', 'dirname "$(dirname "$(readlink -f "$(command -v keytool)")")"'])).stdout.trim();
    const cacerts = readFileSync(join(javaHome, 'lib/security/cacerts'));
    const jdkCount = jksAliases(cacerts).length;
    expect(jdkCount).toBeGreaterThan(10);
    // a CA and an intermediate in one file (openssl, as an S3 operator would make them)
    const selfSigned = (cn: string, name: string) =>
      execa(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-days',
          '2',
          '-subj',
          `/CN=${cn}`,
          '-keyout',
          `${name}.key`,
          '-out',
          `${name}.crt`,
        ],
        { cwd: dir },
      );
    await selfSigned('test root', 'ca');
    await selfSigned('test other', 'o');
    writeFileSync(join(dir, 'bundle.pem'), readFileSync(join(dir, 'ca.crt'), 'utf8') + readFileSync(join(dir, 'o.crt'), 'utf8'));
    const env = { SPARK_USER_DATA: join(dir, 'user'), JAVA_HOME: javaHome };
    expect(await runImportCertificate(['my-ca', join(dir, 'bundle.pem')], env)).toBe(0);
    const store = join(dir, 'user', 'truststore.jks');
    const list = async () => (await execa('keytool', ['-list', '-keystore', store, '-storepass', 'changeit'])).stdout;
    expect(await list()).toContain(`Your keystore contains ${jdkCount + 2} entries`);
    const one = await execa('keytool', ['-list', '-v', '-keystore', store, '-storepass', 'changeit', '-alias', 'my-ca-2']);
    expect(one.stdout).toContain('Owner: CN=test other');
    const before = readFileSync(store);
    const refused = async (args: string[], want: RegExp) => {
      const e = await runImportCertificate(args, env).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(UserError);
      expect((e as UserError).oneLine()).toMatch(want);
      expect((e as UserError).oneLine()).not.toContain('\n');
      expect(readFileSync(store).equals(before)).toBe(true);
    };
    await refused(['MY-CA', join(dir, 'ca.crt')], /alias "my-ca" is taken.*choose another alias/);
    await refused(['key', join(dir, 'ca.key')], /no PEM certificate/);
    await refused(['x', join(dir, 'missing.pem')], /cannot read .*missing\.pem: ENOENT/);
    await refused(['bad alias!', join(dir, 'ca.crt')], /alias "bad alias!"/);
    await refused(['only-one'], /ALIAS and FILE/);
    expect(await runImportCertificate(['second', join(dir, 'o.crt')], env)).toBe(0);
    expect(await list()).toContain(`Your keystore contains ${jdkCount + 3} entries`);
    // a damaged store is refused, not replaced by a new one that would drop what was imported
    writeFileSync(store, readFileSync(store).subarray(0, 200));
    const damaged = readFileSync(store);
    const e = await runImportCertificate(['third', join(dir, 'o.crt')], env).catch((x: unknown) => x);
    expect((e as UserError).oneLine()).toMatch(/truststore\.jks: JKS (truncated|integrity)/);
    expect(readFileSync(store).equals(damaged)).toBe(true);
    expect(readdirSync(join(dir, 'user')).filter((f) => f !== 'truststore.jks')).toEqual([]); // no temporary file left
    expect(existsSync(join(dir, 'user', 'truststore.jks'))).toBe(true);
  }, 120_000);
});
