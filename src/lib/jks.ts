/**
 * Java KeyStore (JKS) trust stores made reproducible. Debian's ca-certificates-java writes
 * /etc/ssl/certs/java/cacerts as a JKS whose every entry carries the time it was written, so two
 * builds of the same packages differ there and nowhere else. `normalizeJks` sets every entry's time
 * to a fixed one and recomputes the store's integrity digest; the certificates, their aliases and
 * order are kept. Pure: bytes in, bytes out.
 *
 * Format (big-endian): magic 0xFEEDFEED, version 2, entry count; per trusted-certificate entry: tag 2,
 * alias (u16 length + modified UTF-8), time (u64 ms), certificate type (u16 + UTF-8), length (u32),
 * DER bytes; then SHA-1 over (password as UTF-16BE, "Mighty Aphrodite", everything before it).
 */
import { createHash } from 'node:crypto';

const MAGIC = 0xfeedfeed;
const TRUSTED_CERT = 2;

export class JksError extends Error {}

function integrity(body: Buffer, password: string): Buffer {
  const pw = Buffer.alloc(password.length * 2);
  for (let i = 0; i < password.length; i++) pw.writeUInt16BE(password.charCodeAt(i), i * 2);
  return createHash('sha1').update(pw).update(Buffer.from('Mighty Aphrodite', 'utf8')).update(body).digest();
}

/** Where each entry's time is, and where the body ends; throws JksError on anything but a JKS v2 trust store. */
function parse(buf: Buffer): { times: number[]; end: number } {
  if (buf.length < 32 || buf.readUInt32BE(0) !== MAGIC) throw new JksError('not a Java KeyStore (JKS)');
  if (buf.readUInt32BE(4) !== 2) throw new JksError(`JKS version ${buf.readUInt32BE(4)} (only 2 is handled)`);
  const count = buf.readUInt32BE(8);
  let p = 12;
  const need = (n: number) => {
    if (p + n > buf.length) throw new JksError('JKS truncated');
  };
  const utf = () => {
    need(2);
    const n = buf.readUInt16BE(p);
    need(2 + n);
    p += 2 + n;
  };
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    need(4);
    const tag = buf.readUInt32BE(p);
    p += 4;
    if (tag !== TRUSTED_CERT) throw new JksError(`JKS entry ${i} is not a trusted certificate (tag ${tag})`);
    utf(); // alias
    need(8);
    times.push(p);
    p += 8;
    utf(); // certificate type
    need(4);
    const len = buf.readUInt32BE(p);
    need(4 + len);
    p += 4 + len;
  }
  need(20);
  return { times, end: p };
}

/** The same trust store with every entry's time set to `timeMs`, its digest recomputed under `password`. */
export function normalizeJks(buf: Buffer, password: string, timeMs: number): Buffer {
  const { times, end } = parse(buf);
  if (!integrity(buf.subarray(0, end), password).equals(buf.subarray(end, end + 20)))
    throw new JksError('JKS integrity digest does not match (wrong password or damaged store)');
  const out = Buffer.from(buf.subarray(0, end + 20));
  for (const at of times) out.writeBigUInt64BE(BigInt(timeMs), at);
  integrity(out.subarray(0, end), password).copy(out, end);
  return out;
}

/** Every certificate of a PEM text, as DER; throws JksError naming what is wrong when there is none. */
export function pemCertificates(text: string): Buffer[] {
  const out: Buffer[] = [];
  for (const m of text.matchAll(/-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*?)-----END CERTIFICATE-----/g)) {
    out.push(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
  }
  if (out.length === 0) throw new JksError('no PEM certificate in it (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)');
  return out;
}

/** The aliases of a JKS trust store, in order (lower-case, as the JDK keeps them). */
export function jksAliases(buf: Buffer): string[] {
  parse(buf);
  const out: string[] = [];
  let p = 12;
  for (let i = 0; i < buf.readUInt32BE(8); i++) {
    p += 4;
    const n = buf.readUInt16BE(p);
    out.push(buf.subarray(p + 2, p + 2 + n).toString('utf8'));
    p += 2 + n + 8;
    p += 2 + buf.readUInt16BE(p);
    p += 4 + buf.readUInt32BE(p);
  }
  return out;
}

/**
 * A JKS trust store with `certs` added after the entries of `store` (none: a new store), each a trusted
 * certificate entry written at `timeMs`, the integrity digest made under `password`. `store`'s digest must
 * match `password`; an alias already in it is refused (the JDK folds aliases to lower case: so do we).
 */
export function addTrustedCertificates(store: Buffer | undefined, certs: { alias: string; der: Buffer }[], password: string, timeMs: number): Buffer {
  let body: Buffer;
  let aliases: string[] = [];
  if (store) {
    const { end } = parse(store);
    if (!integrity(store.subarray(0, end), password).equals(store.subarray(end, end + 20)))
      throw new JksError('JKS integrity digest does not match (wrong password or damaged store)');
    aliases = jksAliases(store);
    body = Buffer.from(store.subarray(0, end));
  } else {
    body = Buffer.alloc(12);
    body.writeUInt32BE(MAGIC, 0);
    body.writeUInt32BE(2, 4);
  }
  const parts: Buffer[] = [body];
  for (const { alias, der } of certs) {
    const a = alias.toLowerCase();
    if (aliases.includes(a)) throw new JksError(`the alias "${a}" is taken`);
    aliases.push(a);
    const str = (s: string) => {
      const b = Buffer.from(s, 'utf8');
      const h = Buffer.alloc(2);
      h.writeUInt16BE(b.length);
      return Buffer.concat([h, b]);
    };
    const head = Buffer.alloc(4);
    head.writeUInt32BE(TRUSTED_CERT);
    const time = Buffer.alloc(8);
    time.writeBigUInt64BE(BigInt(timeMs));
    const len = Buffer.alloc(4);
    len.writeUInt32BE(der.length);
    parts.push(head, str(a), time, str('X.509'), len, der);
  }
  const out = Buffer.concat(parts);
  out.writeUInt32BE(aliases.length, 8);
  return Buffer.concat([out, integrity(out, password)]);
}
