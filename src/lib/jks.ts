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

/** Each entry's alias and where its time is, and where the body ends; throws JksError on anything but a JKS v2 trust store. */
function parse(buf: Buffer): { aliases: string[]; times: number[]; end: number } {
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
    return buf.subarray(p - n, p).toString('utf8');
  };
  const aliases: string[] = [];
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    need(4);
    const tag = buf.readUInt32BE(p);
    p += 4;
    if (tag !== TRUSTED_CERT) throw new JksError(`JKS entry ${i} is not a trusted certificate (tag ${tag})`);
    aliases.push(utf());
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
  return { aliases, times, end: p };
}

/** The body of a parsed store, its integrity digest checked under `password`. */
function checkedBody(buf: Buffer, password: string): { aliases: string[]; times: number[]; end: number } {
  const parsed = parse(buf);
  if (!integrity(buf.subarray(0, parsed.end), password).equals(buf.subarray(parsed.end, parsed.end + 20)))
    throw new JksError('JKS integrity digest does not match (wrong password or damaged store)');
  return parsed;
}

/** The same trust store with every entry's time set to `timeMs`, its digest recomputed under `password`. */
export function normalizeJks(buf: Buffer, password: string, timeMs: number): Buffer {
  const { times, end } = checkedBody(buf, password);
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
  return parse(buf).aliases;
}

/** A u16 length and the UTF-8 bytes of `s`, as JKS writes its strings. */
function jksString(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const h = Buffer.alloc(2);
  h.writeUInt16BE(b.length);
  return Buffer.concat([h, b]);
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
    const parsed = checkedBody(store, password);
    aliases = parsed.aliases;
    body = Buffer.from(store.subarray(0, parsed.end));
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
    const head = Buffer.alloc(4);
    head.writeUInt32BE(TRUSTED_CERT);
    const time = Buffer.alloc(8);
    time.writeBigUInt64BE(BigInt(timeMs));
    const len = Buffer.alloc(4);
    len.writeUInt32BE(der.length);
    parts.push(head, jksString(a), time, jksString('X.509'), len, der);
  }
  const out = Buffer.concat(parts);
  out.writeUInt32BE(aliases.length, 8);
  return Buffer.concat([out, integrity(out, password)]);
}
