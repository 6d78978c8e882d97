import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JksError, normalizeJks } from '../src/lib/jks.ts';

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
});
