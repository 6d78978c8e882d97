/**
 * Other platforms' JNI libraries out of a jar (src/stage/native-libs.ts): pure, on zips made here
 * (stored and deflated entries, one with a data descriptor); the real rocksdbjni is checked with
 * unzip in test/stage.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { crc32, deflateRawSync, inflateRawSync } from 'node:zlib';
import { dropZipEntries, nativeRules, zipEntries } from '../src/stage/native-libs.ts';
import { ARCHITECTURES } from '../src/config/arch.ts';

/** A zip of `files`; `descriptor` names the entries written with a data descriptor (flag bit 3). */
function makeZip(files: Array<[string, string]>, descriptor: string[] = [], comment = ''): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let at = 0;
  for (const [name, text] of files) {
    const data = Buffer.from(text);
    const deflate = name.endsWith('.so');
    const body = deflate ? deflateRawSync(data) : data;
    const dd = descriptor.includes(name);
    const n = Buffer.from(name);
    const l = Buffer.alloc(30);
    l.writeUInt32LE(0x04034b50, 0);
    l.writeUInt16LE(20, 4);
    l.writeUInt16LE(dd ? 8 : 0, 6);
    l.writeUInt16LE(deflate ? 8 : 0, 8);
    l.writeUInt32LE(dd ? 0 : crc32(data), 14);
    l.writeUInt32LE(dd ? 0 : body.length, 18);
    l.writeUInt32LE(dd ? 0 : data.length, 22);
    l.writeUInt16LE(n.length, 26);
    const desc = Buffer.alloc(dd ? 16 : 0);
    if (dd) {
      desc.writeUInt32LE(0x08074b50, 0);
      desc.writeUInt32LE(crc32(data), 4);
      desc.writeUInt32LE(body.length, 8);
      desc.writeUInt32LE(data.length, 12);
    }
    const local = Buffer.concat([l, n, body, desc]);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(20, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(dd ? 8 : 0, 8);
    c.writeUInt16LE(deflate ? 8 : 0, 10);
    c.writeUInt32LE(crc32(data), 16);
    c.writeUInt32LE(body.length, 20);
    c.writeUInt32LE(data.length, 24);
    c.writeUInt16LE(n.length, 28);
    c.writeUInt32LE(at, 42);
    locals.push(local);
    centrals.push(Buffer.concat([c, n]));
    at += local.length;
  }
  const cd = Buffer.concat(centrals);
  const e = Buffer.alloc(22);
  e.writeUInt32LE(0x06054b50, 0);
  e.writeUInt16LE(files.length, 8);
  e.writeUInt16LE(files.length, 10);
  e.writeUInt32LE(cd.length, 12);
  e.writeUInt32LE(at, 16);
  e.writeUInt16LE(Buffer.byteLength(comment), 20);
  return Buffer.concat([...locals, cd, e, Buffer.from(comment)]);
}

/** Every entry's content, read back through the local headers the central directory points at. */
function readAll(zip: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of zipEntries(zip).entries) {
    const method = e.central.readUInt16LE(10);
    const size = e.central.readUInt32LE(20);
    const start = e.offset + 30 + zip.readUInt16LE(e.offset + 26) + zip.readUInt16LE(e.offset + 28);
    const body = zip.subarray(start, start + size);
    const data = method === 8 ? inflateRawSync(body) : body;
    expect(crc32(data)).toBe(e.central.readUInt32LE(16));
    out[e.name] = data.toString();
  }
  return out;
}

describe('native libraries of other platforms out of a jar', () => {
  const jar = makeZip(
    [
      ['META-INF/MANIFEST.MF', 'Manifest-Version: 1.0\n'],
      ['librocksdbjni-linux64.so', 'x86-64 '.repeat(200)],
      ['org/rocksdb/RocksDB.class', 'class bytes'],
      ['librocksdbjni-linux-aarch64.so', 'aarch64 '.repeat(300)],
      ['librocksdbjni-osx-x86_64.jnilib', 'mach-o'],
      ['librocksdbjni-win64.dll', 'pe'],
      ['librocksdbjni-linux-ppc64le.so', 'power '.repeat(50)],
    ],
    ['org/rocksdb/RocksDB.class', 'librocksdbjni-linux-aarch64.so'],
    'a comment',
  );

  it("an architecture's rule keeps its own library and every other entry, byte for byte", () => {
    for (const [arch, keep] of [
      ['amd64', 'librocksdbjni-linux64.so'],
      ['arm64', 'librocksdbjni-linux-aarch64.so'],
    ] as const) {
      const [rule] = nativeRules(ARCHITECTURES[arch]!.jni);
      expect(rule!.keep).toBe(keep);
      expect(rule!.jar.test('rocksdbjni-8.3.2.jar')).toBe(true);
      expect(rule!.jar.test('rocksdbjni-tools.jar')).toBe(false);
      const out = dropZipEntries(jar, (n) => n === rule!.keep || !rule!.drop.test(n));
      const files = readAll(out);
      expect(Object.keys(files)).toEqual(
        ['META-INF/MANIFEST.MF', 'librocksdbjni-linux64.so', 'org/rocksdb/RocksDB.class', 'librocksdbjni-linux-aarch64.so'].filter(
          (n) => !n.endsWith('.so') || n === keep,
        ),
      );
      expect(files).toEqual(Object.fromEntries(Object.entries(readAll(jar)).filter(([n]) => Object.keys(files).includes(n))));
      expect(out.subarray(-9).toString()).toBe('a comment');
      expect(out.length).toBeLessThan(jar.length);
      // Deterministic, and a second pass changes nothing.
      expect(dropZipEntries(jar, (n) => n === rule!.keep || !rule!.drop.test(n))).toEqual(out);
      expect(dropZipEntries(out, (n) => n === rule!.keep || !rule!.drop.test(n))).toEqual(out);
    }
  });

  it('keeping everything gives the same bytes; a file that is not a zip is an error, not a crash', () => {
    expect(dropZipEntries(jar, () => true)).toEqual(jar);
    expect(() => dropZipEntries(Buffer.from('not a zip at all, just text that is long enough'), () => true)).toThrow(/not a zip file/);
  });
});
