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
