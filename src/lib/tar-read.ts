/**
 * Reading tar files without unpacking them: the members of an uncompressed tar by their headers
 * (indexTar, readMember; an oci-archive is one), and every header of a gzip-compressed layer, in
 * order, streamed (walkLayer). pax and GNU long names are honoured; a header whose checksum does not
 * match, or a pax/long-name body over MAX_META, is refused. Moved here from pack/base-archive.ts
 * so that the smoke step can read a rock's layers as the pack step does.
 */
import { closeSync, createReadStream, openSync, readSync, statSync } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';

/** One member of a tar file: where its data starts and how long it is. */
export interface TarMember {
  name: string;
  type: string;
  offset: number;
  size: number;
}

/** One header of a layer: its name (long names applied, no `./` or trailing `/`), type flag and metadata. */
export interface TarHeader {
  name: string;
  type: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  linkname: string;
}

/** The media types of a gzip-compressed layer (OCI's and Docker's): what walkLayer reads. */
export const GZIP_LAYERS = new Set(['application/vnd.oci.image.layer.v1.tar+gzip', 'application/vnd.docker.image.rootfs.diff.tar.gzip']);

/** The most a pax or GNU long-name header body may hold (real ones hold a path or two). */
export const MAX_META = 1 << 20;

function cstr(b: Buffer, start: number, len: number): string {
  const s = b.subarray(start, start + len);
  const end = s.indexOf(0);
  return s.subarray(0, end < 0 ? s.length : end).toString('utf8');
}

function octalField(b: Buffer, start: number, len: number): number {
  // GNU base-256 for large values: the first byte's high bit set.
  if (b[start]! & 0x80) {
    let n = 0;
    for (let i = start + 1; i < start + len; i++) n = n * 256 + b[i]!;
    return n;
  }
  const s = cstr(b, start, len).trim();
  return s ? parseInt(s, 8) : 0;
}

/** pax records (`<len> key=value\n`) → map. */
function paxRecords(body: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let i = 0;
  while (i < body.length) {
    const sp = body.indexOf(0x20, i);
    if (sp < 0) break;
    const len = parseInt(body.subarray(i, sp).toString('ascii'), 10);
    if (!Number.isFinite(len) || len <= 0) break;
    const rec = body.subarray(sp + 1, i + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq > 0) out.set(rec.slice(0, eq), rec.slice(eq + 1));
    i += len;
  }
  return out;
}

/**
 * Parse one 512-byte header block; `undefined` at the end-of-archive marker. Throws on a block that
 * is not a tar header (bad checksum).
 */
function parseHeader(h: Buffer): TarHeader | undefined {
  if (h.every((x) => x === 0)) return undefined;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  if (sum !== octalField(h, 148, 8)) throw new Error('not a tar header (checksum mismatch)');
  const size = octalField(h, 124, 12);
  if (!Number.isSafeInteger(size) || size < 0) throw new Error(`${cstr(h, 0, 100)}: a size that is not one`);
  // POSIX ustar (`ustar\0`) keeps a name prefix at 345; old GNU tar (`ustar  \0`) keeps times there.
  const prefix = h.subarray(257, 263).toString('latin1') === 'ustar\0' ? cstr(h, 345, 155) : '';
  const name = cstr(h, 0, 100);
  return {
    name: prefix ? `${prefix}/${name}` : name,
    type: String.fromCharCode(h[156] || 0x30),
    size,
    mode: octalField(h, 100, 8),
    uid: octalField(h, 108, 8),
    gid: octalField(h, 116, 8),
    linkname: cstr(h, 157, 100),
  };
}

const blocks = (n: number) => Math.ceil(n / 512) * 512;
const clean = (p: string) => p.replace(/^\.\//, '').replace(/\/+$/, '');

/**
 * The members of an uncompressed tar file, by reading only its headers (pax and GNU long names
 * honoured), up to the end-of-archive marker. A member claiming more bytes than the file holds after
 * its header, or a pax/long-name body over MAX_META, is refused (the error names the member).
 */
export function indexTar(file: string): Map<string, TarMember> {
  const fd = openSync(file, 'r');
  const out = new Map<string, TarMember>();
  try {
    const total = statSync(file).size;
    const h = Buffer.alloc(512);
    let pos = 0;
    let longName: string | undefined;
    while (pos + 512 <= total) {
      if (readSync(fd, h, 0, 512, pos) !== 512) break;
      const hd = parseHeader(h);
      if (!hd) break;
      const data = pos + 512;
      const what = clean(longName ?? hd.name) || 'a member';
      if (hd.size > total - data) throw new Error(`${what} claims ${hd.size} bytes, past the end of the file (${total} bytes)`);
      if (hd.type === 'x' || hd.type === 'L') {
        if (hd.size > MAX_META) throw new Error(`${what}: a ${hd.type === 'x' ? 'pax' : 'long-name'} header of ${hd.size} bytes`);
        const body = Buffer.alloc(hd.size);
        readSync(fd, body, 0, hd.size, data);
        longName = hd.type === 'L' ? cstr(body, 0, body.length) : (paxRecords(body).get('path') ?? longName);
      } else if (hd.type !== 'g') {
        const name = clean(longName ?? hd.name);
        out.set(name, { name, type: hd.type, offset: data, size: hd.size });
        longName = undefined;
      }
      pos = data + blocks(hd.size);
    }
    if (out.size === 0) throw new Error('no tar members');
  } finally {
    closeSync(fd);
  }
  return out;
}

export function readMember(file: string, m: TarMember): Buffer {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(m.size);
    if (readSync(fd, b, 0, m.size, m.offset) !== m.size) throw new Error(`${m.name} is cut short`);
    return b;
  } finally {
    closeSync(fd);
  }
}

/**
 * Every header of a gzip-compressed tar (`file`, or its bytes `range` when the layer is a member of
 * an archive), in order, to `onEntry`; pax and long-name headers are applied to the entry they
 * name. Reading stops at the end-of-archive marker: what is compressed after it is never inflated.
 */
export async function walkLayer(file: string, onEntry: (h: TarHeader) => void, range?: { offset: number; size: number }): Promise<void> {
  let buf: Buffer = Buffer.alloc(0);
  let skip = 0; // data bytes (with padding) still to pass over
  let pending: { type: string; size: number } | undefined; // a pax/GNU header whose body is being collected
  let longName: string | undefined;
  let ended = false;
  const stop = new AbortController();
  const take = new Writable({
    write(chunk: Buffer, _enc, done) {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      let i = 0;
      try {
        while (!ended) {
          if (skip) {
            const n = Math.min(skip, buf.length - i);
            i += n;
            skip -= n;
            if (skip) break;
          }
          if (pending) {
            const len = blocks(pending.size);
            if (buf.length - i < len) break;
            const body = buf.subarray(i, i + pending.size);
            longName = pending.type === 'L' ? cstr(body, 0, body.length) : (paxRecords(body).get('path') ?? longName);
            i += len;
            pending = undefined;
            continue;
          }
          if (buf.length - i < 512) break;
          const hd = parseHeader(buf.subarray(i, i + 512));
          i += 512;
          if (!hd) {
            ended = true;
            break;
          }
          if (hd.type === 'x' || hd.type === 'L') {
            if (hd.size > MAX_META) throw new Error(`a ${hd.type === 'x' ? 'pax' : 'long-name'} header of ${hd.size} bytes`);
            pending = { type: hd.type, size: hd.size };
            continue;
          }
          const name = clean(longName ?? hd.name);
          longName = undefined;
          if (hd.type !== 'g') onEntry({ ...hd, name });
          skip = blocks(hd.size);
        }
      } catch (e) {
        done(e as Error);
        return;
      }
      buf = buf.subarray(i);
      done();
      if (ended) stop.abort();
    },
  });
  const source = range ? createReadStream(file, { start: range.offset, end: range.offset + range.size - 1 }) : createReadStream(file);
  try {
    await pipeline(source, createGunzip(), take, { signal: stop.signal });
  } catch (e) {
    if (!(ended && stop.signal.aborted)) throw e;
  }
}
