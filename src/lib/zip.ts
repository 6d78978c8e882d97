/**
 * Zip archives (jars, Go module zips), read and filtered in memory. Pure: buffers in, buffers out.
 * No zip64 and no multi-disk archives: what Spark's jars and Go's module zips are.
 */

const EOCD = 0x06054b50;
const CEN = 0x02014b50;
const LOC = 0x04034b50;

export interface ZipEntryRef {
  name: string;
  /** The central directory record, verbatim. */
  central: Buffer;
  /** Where its local header starts. */
  offset: number;
  method: number;
  compressed: number;
  size: number;
}

/** The central directory of a zip: its entries in directory order, where it starts, its size and the archive comment. */
export function zipDirectory(zip: Buffer): { entries: ZipEntryRef[]; cdOffset: number; cdSize: number; disk: number; comment: Buffer } {
  // The end of central directory record: its signature within the last 64 KiB + 22 bytes.
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip archive (no end of central directory)');
  const count = zip.readUInt16LE(eocd + 10);
  const cdSize = zip.readUInt32LE(eocd + 12);
  const cdOffset = zip.readUInt32LE(eocd + 16);
  const comment = zip.subarray(eocd + 22, eocd + 22 + zip.readUInt16LE(eocd + 20));
  const entries: ZipEntryRef[] = [];
  let at = cdOffset;
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(at) !== CEN) throw new Error(`zip central directory entry ${n} is damaged`);
    const nameLen = zip.readUInt16LE(at + 28);
    const len = 46 + nameLen + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
    entries.push({
      name: zip.toString('utf8', at + 46, at + 46 + nameLen),
      central: zip.subarray(at, at + len),
      offset: zip.readUInt32LE(at + 42),
      method: zip.readUInt16LE(at + 10),
      compressed: zip.readUInt32LE(at + 20),
      size: zip.readUInt32LE(at + 24),
    });
    at += len;
  }
  return { entries, cdOffset, cdSize, disk: zip.readUInt16LE(eocd + 4), comment };
}

/** Where an entry's data starts, after its local header (checked). */
export function zipDataStart(zip: Buffer, e: ZipEntryRef): number {
  if (zip.readUInt32LE(e.offset) !== LOC) throw new Error(`zip entry ${e.name}: damaged local header`);
  return e.offset + 30 + zip.readUInt16LE(e.offset + 26) + zip.readUInt16LE(e.offset + 28);
}

/**
 * The zip without the entries `keep` refuses: each kept entry's local header, data and data descriptor
 * (the bytes up to the next entry's header) copied as they are, the central directory re-pointed.
 */
export function dropZipEntries(zip: Buffer, keep: (name: string) => boolean): Buffer {
  const { entries, cdOffset, cdSize, disk, comment } = zipDirectory(zip);
  if (entries.length === 0xffff || cdOffset === 0xffffffff || disk !== 0) throw new Error('zip64 or multi-disk zip files are not supported');
  if (entries.reduce((n, e) => n + e.central.length, 0) !== cdSize) throw new Error('central directory size does not match its records');
  const byOffset = [...entries].sort((a, b) => a.offset - b.offset);
  const end = new Map(byOffset.map((e, i) => [e.offset, i + 1 < byOffset.length ? byOffset[i + 1]!.offset : cdOffset]));
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let at = 0;
  for (const e of entries) {
    if (!keep(e.name)) continue;
    zipDataStart(zip, e);
    const local = zip.subarray(e.offset, end.get(e.offset)!);
    const c = Buffer.from(e.central);
    c.writeUInt32LE(at, 42);
    central.push(c);
    parts.push(local);
    at += local.length;
  }
  const cd = Buffer.concat(central);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(EOCD, 0);
  eocd.writeUInt16LE(central.length, 8);
  eocd.writeUInt16LE(central.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(at, 16);
  eocd.writeUInt16LE(comment.length, 20);
  return Buffer.concat([...parts, cd, eocd, comment]);
}
