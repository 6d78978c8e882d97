/**
 * Go modules' hashes, as the go command computes and records them (pure, on buffers and texts): a
 * module zip's `h1:` hash (golang.org/x/mod/sumdb/dirhash Hash1: the sha256 of the sorted lines
 * `<sha256 hex>  <file name>` of its files), the lines of a go.sum and the requirements of a go.mod.
 * With these the lock's sha256 of a module zip (what the SBOM names) and the go.sum the build trusts
 * are checked to be the same module before go runs.
 */
import { createHash } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import { zipDataStart, zipDirectory } from './zip.ts';

/** The files of a zip archive (stored or deflated entries; directories skipped), in archive order. */
export function zipFiles(zip: Buffer): Array<{ name: string; data: Buffer }> {
  const files: Array<{ name: string; data: Buffer }> = [];
  for (const e of zipDirectory(zip).entries) {
    if (e.name.endsWith('/')) continue;
    const start = zipDataStart(zip, e);
    const raw = zip.subarray(start, start + e.compressed);
    const data = e.method === 0 ? Buffer.from(raw) : e.method === 8 ? inflateRawSync(raw) : undefined;
    if (!data) throw new Error(`zip entry ${e.name}: compression method ${e.method} is not supported`);
    if (data.length !== e.size) throw new Error(`zip entry ${e.name}: ${data.length} bytes, its header says ${e.size}`);
    files.push({ name: e.name, data });
  }
  return files;
}

/** The `h1:` hash of a set of files (dirhash.Hash1): what go.sum records for a module's zip. */
export function hash1(files: Array<{ name: string; data: Buffer }>): string {
  const summary = createHash('sha256');
  for (const f of [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (f.name.includes('\n')) throw new Error(`file name with a newline: ${JSON.stringify(f.name)}`);
    summary.update(`${createHash('sha256').update(f.data).digest('hex')}  ${f.name}\n`);
  }
  return `h1:${summary.digest('base64')}`;
}

/** A module zip's `h1:` hash (go.sum's `<module> <version> h1:…` line). */
export const moduleZipHash = (zip: Buffer): string => hash1(zipFiles(zip));

/** A go.sum as `<module> <version>` (and `<module> <version>/go.mod`) → its `h1:` hash; refuses a malformed line. */
export function parseGoSum(text: string): Map<string, string> {
  const sums = new Map<string, string>();
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    const m = /^(\S+) (\S+) (h1:[A-Za-z0-9+/]{43}=)$/.exec(line);
    if (!m) throw new Error(`go.sum line ${i + 1} is not "<module> <version> h1:<hash>": ${JSON.stringify(line.slice(0, 80))}`);
    sums.set(`${m[1]} ${m[2]}`, m[3]!);
  });
  return sums;
}

/** The versions a go.mod requires, by module path (single `require` lines and `require ( … )` blocks). */
export function goModRequires(text: string): Map<string, string> {
  const req = new Map<string, string>();
  let inBlock = false;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\/\/.*$/, '').trim();
    if (inBlock) {
      if (line === ')') inBlock = false;
      else if (line) {
        const [m, v] = line.split(/\s+/);
        if (m && v) req.set(m, v);
      }
      continue;
    }
    if (/^require\s*\($/.test(line)) inBlock = true;
    else {
      const m = /^require\s+(\S+)\s+(\S+)$/.exec(line);
      if (m) req.set(m[1]!, m[2]!);
    }
  }
  return req;
}
