/**
 * Zip archives made in a test: stored or deflated entries (a name ending in / is a directory), an entry
 * maybe written with a data descriptor (flag bit 3: zeros in its local header, the crc and sizes after
 * its data), and an archive comment.
 */
import { crc32, deflateRawSync } from 'node:zlib';

export interface ZipEntrySpec {
  name: string;
  data?: string;
  deflate?: boolean;
  descriptor?: boolean;
}

export function makeZip(entries: ZipEntrySpec[], comment = ''): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const data = Buffer.from(e.data ?? '');
    const body = e.deflate ? deflateRawSync(data) : data;
    const dd = Boolean(e.descriptor);
    const name = Buffer.from(e.name);
    const head = Buffer.alloc(30);
    head.writeUInt32LE(0x04034b50, 0);
    head.writeUInt16LE(20, 4);
    head.writeUInt16LE(dd ? 8 : 0, 6);
    head.writeUInt16LE(e.deflate ? 8 : 0, 8);
    head.writeUInt32LE(dd ? 0 : crc32(data), 14);
    head.writeUInt32LE(dd ? 0 : body.length, 18);
    head.writeUInt32LE(dd ? 0 : data.length, 22);
    head.writeUInt16LE(name.length, 26);
    const desc = Buffer.alloc(dd ? 16 : 0);
    if (dd) {
      desc.writeUInt32LE(0x08074b50, 0);
      desc.writeUInt32LE(crc32(data), 4);
      desc.writeUInt32LE(body.length, 8);
      desc.writeUInt32LE(data.length, 12);
    }
    const dir = Buffer.alloc(46);
    dir.writeUInt32LE(0x02014b50, 0);
    dir.writeUInt16LE(20, 4);
    dir.writeUInt16LE(20, 6);
    dir.writeUInt16LE(dd ? 8 : 0, 8);
    dir.writeUInt16LE(e.deflate ? 8 : 0, 10);
    dir.writeUInt32LE(crc32(data), 16);
    dir.writeUInt32LE(body.length, 20);
    dir.writeUInt32LE(data.length, 24);
    dir.writeUInt16LE(name.length, 28);
    dir.writeUInt32LE(offset, 42);
    locals.push(head, name, body, desc);
    central.push(dir, name);
    offset += 30 + name.length + body.length + desc.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  end.writeUInt16LE(Buffer.byteLength(comment), 20);
  return Buffer.concat([...locals, cd, end, Buffer.from(comment)]);
}
