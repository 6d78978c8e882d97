/**
 * Native libraries of other platforms in Spark's jars. rocksdbjni carries RocksDB's JNI library for
 * eleven platforms (162 MB of the 3.5 distribution's 324 MB of jars, 58 MB compressed) and loads only
 * the one of the JVM's platform; a cell's tree keeps that one (src/config/arch.ts, `jni`) and drops the
 * others. Pure: a zip in, a zip out, the kept entries' bytes copied unchanged (no recompression), so the
 * same jar gives the same bytes.
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
}

/** The central directory of a zip (no zip64, no multi-disk: what a jar of Spark's is). */
export function zipEntries(zip: Buffer): { entries: ZipEntryRef[]; cdOffset: number; comment: Buffer } {
  // The end record is in the last 64 KiB + 22 bytes (its comment is at most 65535 bytes).
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 65557); i--) {
    if (zip.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip file (no end of central directory record)');
  const count = zip.readUInt16LE(eocd + 10);
  const cdSize = zip.readUInt32LE(eocd + 12);
  const cdOffset = zip.readUInt32LE(eocd + 16);
  if (count === 0xffff || cdOffset === 0xffffffff || zip.readUInt16LE(eocd + 4) !== 0) throw new Error('zip64 or multi-disk zip files are not supported');
  const comment = zip.subarray(eocd + 22, eocd + 22 + zip.readUInt16LE(eocd + 20));
  const entries: ZipEntryRef[] = [];
  let p = cdOffset;
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(p) !== CEN) throw new Error(`corrupt central directory at byte ${p}`);
    const len = 46 + zip.readUInt16LE(p + 28) + zip.readUInt16LE(p + 30) + zip.readUInt16LE(p + 32);
    const name = zip.subarray(p + 46, p + 46 + zip.readUInt16LE(p + 28)).toString('utf8');
    entries.push({ name, central: zip.subarray(p, p + len), offset: zip.readUInt32LE(p + 42) });
    p += len;
  }
  if (p !== cdOffset + cdSize) throw new Error('central directory size does not match its records');
  return { entries, cdOffset, comment };
}

/**
 * The zip without the entries `keep` refuses: each kept entry's local header, data and data descriptor
 * (the bytes up to the next entry's header) copied as they are, the central directory re-pointed.
 */
export function dropZipEntries(zip: Buffer, keep: (name: string) => boolean): Buffer {
  const { entries, cdOffset, comment } = zipEntries(zip);
  const byOffset = [...entries].sort((a, b) => a.offset - b.offset);
  const end = new Map(byOffset.map((e, i) => [e.offset, i + 1 < byOffset.length ? byOffset[i + 1]!.offset : cdOffset]));
  const parts: Buffer[] = [];
  const central: Buffer[] = [];
  let at = 0;
  let kept = 0;
  for (const e of entries) {
    if (!keep(e.name)) continue;
    if (zip.readUInt32LE(e.offset) !== LOC) throw new Error(`corrupt local header of ${e.name}`);
    const local = zip.subarray(e.offset, end.get(e.offset)!);
    const c = Buffer.from(e.central);
    c.writeUInt32LE(at, 42);
    central.push(c);
    parts.push(local);
    at += local.length;
    kept++;
  }
  const cd = Buffer.concat(central);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(EOCD, 0);
  eocd.writeUInt16LE(kept, 8);
  eocd.writeUInt16LE(kept, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(at, 16);
  eocd.writeUInt16LE(comment.length, 20);
  return Buffer.concat([...parts, cd, eocd, comment]);
}

/** One rule: in jars whose file name matches `jar`, drop the entries `drop` matches except `keep`. */
export interface NativeRule {
  jar: RegExp;
  drop: RegExp;
  keep: string;
}

/** The rules of an architecture's `jni` entries (jar file prefix → the library to keep). */
export function nativeRules(jni: Record<string, string>): NativeRule[] {
  return Object.entries(jni).map(([prefix, keep]) => ({
    jar: new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[0-9][^/]*\\.jar$`),
    drop: new RegExp(`^${keep.split('-')[0]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-.*\\.(so|dll|dylib|jnilib)$`),
    keep,
  }));
}
