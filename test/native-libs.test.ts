/**
 * Other platforms' JNI libraries out of a jar (src/stage/native-libs.ts): pure, on zips made here
 * (stored and deflated entries, two with a data descriptor); the real rocksdbjni's trimmed jar is
 * loaded by the history server of test/s3.test.ts (its class-loading check).
 */
import { describe, expect, it } from 'vitest';
import { crc32, inflateRawSync } from 'node:zlib';
import { keptBy, nativeRules } from '../src/stage/native-libs.ts';
import { dropZipEntries, zipDirectory } from '../src/lib/zip.ts';
import { makeZip } from './support/zip.ts';
import { ARCHITECTURES } from '../src/lib/arch.ts';

/** Every entry's content, read back through the local headers the central directory points at. */
function readAll(zip: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of zipDirectory(zip).entries) {
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
      { name: 'META-INF/MANIFEST.MF', data: 'Manifest-Version: 1.0\n' },
      { name: 'librocksdbjni-linux64.so', data: 'x86-64 '.repeat(200), deflate: true },
      { name: 'org/rocksdb/RocksDB.class', data: 'class bytes', descriptor: true },
      { name: 'librocksdbjni-linux-aarch64.so', data: 'aarch64 '.repeat(300), deflate: true, descriptor: true },
      { name: 'librocksdbjni-osx-x86_64.jnilib', data: 'mach-o' },
      { name: 'librocksdbjni-win64.dll', data: 'pe' },
      { name: 'librocksdbjni-linux-ppc64le.so', data: 'power '.repeat(50), deflate: true },
    ],
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
      const out = dropZipEntries(jar, keptBy(rule!));
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
      expect(dropZipEntries(jar, keptBy(rule!))).toEqual(out);
      expect(dropZipEntries(out, keptBy(rule!))).toEqual(out);
    }
  });

  it('keeping everything gives the same bytes; a file that is not a zip is an error, not a crash', () => {
    expect(dropZipEntries(jar, () => true)).toEqual(jar);
    expect(() => dropZipEntries(Buffer.from('not a zip at all, just text that is long enough'), () => true)).toThrow(/not a zip archive/);
  });
});
