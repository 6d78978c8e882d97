/**
 * A deterministic tar writer (POSIX ustar + pax extended headers for long names): entries in the
 * order given (callers sort them), fixed mtime, explicit ownership and modes, no atime/ctime.
 * This is what makes two builds from the same inputs produce identical layer digests.
 */
import { createReadStream } from 'node:fs';
import type { Writable } from 'node:stream';

export type EntryType = 'file' | 'dir' | 'symlink';
export interface TarEntry {
  path: string; // relative, no leading "/", dirs without trailing "/"
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  size?: number;
  source?: string; // file on disk for 'file'
  data?: Buffer; // or inline content
  linkname?: string;
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  const len = Buffer.byteLength(body);
  let total = len + String(len).length;
  if (String(total).length !== String(len).length) total = len + String(total).length;
  return Buffer.from(`${total}${body}`);
}

function header(name: string, type: string, mode: number, uid: number, gid: number, size: number, mtime: number, linkname = ''): Buffer {
  const h = Buffer.alloc(512, 0);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(mode & 0o7777, 8), 100, 'ascii');
  h.write(octal(uid, 8), 108, 'ascii');
  h.write(octal(gid, 8), 116, 'ascii');
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(mtime, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write(type, 156, 'ascii');
  h.write(linkname, 157, 100, 'utf8');
  h.write('ustar\u000000', 257, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 'ascii');
  return h;
}

function fits(s: string): boolean {
  return Buffer.byteLength(s) < 100 && /^[\x20-\x7e]*$/.test(s);
}

const pad = (n: number) => Buffer.alloc((512 - (n % 512)) % 512, 0);

async function write(out: Writable, b: Buffer): Promise<void> {
  if (!out.write(b)) await new Promise<void>((r) => out.once('drain', () => r()));
}

/** Stream a tar of `entries` into `out` (not ended). */
export async function writeTar(out: Writable, entries: Iterable<TarEntry>, mtime: number): Promise<void> {
  for (const e of entries) {
    const name = e.type === 'dir' ? `${e.path}/` : e.path;
    const pax: Buffer[] = [];
    if (!fits(name)) pax.push(paxRecord('path', name));
    if (e.linkname && !fits(e.linkname)) pax.push(paxRecord('linkpath', e.linkname));
    if (pax.length) {
      const body = Buffer.concat(pax);
      await write(out, header('PaxHeader', 'x', 0o644, 0, 0, body.length, mtime));
      await write(out, body);
      await write(out, pad(body.length));
    }
    const shortName = fits(name) ? name : name.slice(-99).replace(/^[^/]*\//, '');
    const shortLink = e.linkname && fits(e.linkname) ? e.linkname : '';
    const size = e.type === 'file' ? (e.data ? e.data.length : (e.size ?? 0)) : 0;
    const type = e.type === 'file' ? '0' : e.type === 'dir' ? '5' : '2';
    await write(out, header(shortName, type, e.mode, e.uid, e.gid, size, mtime, shortLink));
    if (e.type === 'file') {
      if (e.data) await write(out, e.data);
      else if (size > 0) {
        let n = 0;
        for await (const chunk of createReadStream(e.source!)) {
          n += (chunk as Buffer).length;
          await write(out, chunk as Buffer);
        }
        if (n !== size) throw new Error(`${e.source} changed size while being archived`);
      }
      await write(out, pad(size));
    }
  }
  await write(out, Buffer.alloc(1024, 0));
}
