/** SPDX 2.3 JSON of a staging tree: every file with origin, version, checksums and licence. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { pipeline } from 'node:stream/promises';

export interface Origin {
  name: string;
  version: string;
  url: string;
  sha256: string;
  license: string;
  /** How it was made, when not simply downloaded (SPDX sourceInfo). */
  sourceInfo?: string;
}

export interface StagedFile {
  path: string;
  sha1: string;
  sha256: string;
  origin: Origin;
}

export async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push(p);
    }
  };
  await walk(root);
  return out;
}

export async function hashFile(p: string): Promise<{ sha1: string; sha256: string }> {
  const a = createHash('sha1');
  const b = createHash('sha256');
  await pipeline(createReadStream(p), async (src: AsyncIterable<Buffer>) => {
    for await (const chunk of src) {
      a.update(chunk as Buffer);
      b.update(chunk as Buffer);
    }
  });
  return { sha1: a.digest('hex'), sha256: b.digest('hex') };
}

/** Pure: the SPDX document for files already hashed. */
export function spdxDocument(name: string, created: string, files: StagedFile[], origins: Origin[]) {
  const pkgId = (o: Origin) => `SPDXRef-Package-${o.name.replace(/[^A-Za-z0-9.-]/g, '-')}-${o.version.replace(/[^A-Za-z0-9.-]/g, '-')}`;
  return {
    spdxVersion: 'SPDX-2.3',
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name,
    documentNamespace: `https://sparkcraft.invalid/spdx/${name}-${createHash('sha256')
      .update(files.map((f) => f.sha256).join())
      .digest('hex')
      .slice(0, 16)}`,
    creationInfo: { created, creators: ['Tool: sparkcraft-stage'] },
    packages: origins.map((o) => ({
      SPDXID: pkgId(o),
      name: o.name,
      versionInfo: o.version,
      downloadLocation: o.url,
      filesAnalyzed: false,
      licenseConcluded: o.license,
      licenseDeclared: o.license,
      checksums: o.sha256 ? [{ algorithm: 'SHA256', checksumValue: o.sha256 }] : [],
      ...(o.sourceInfo ? { sourceInfo: o.sourceInfo } : {}),
    })),
    files: files.map((f, i) => ({
      SPDXID: `SPDXRef-File-${i}`,
      fileName: `./${f.path}`,
      checksums: [
        { algorithm: 'SHA1', checksumValue: f.sha1 },
        { algorithm: 'SHA256', checksumValue: f.sha256 },
      ],
      licenseConcluded: f.origin.license,
      comment: `from ${f.origin.name} ${f.origin.version} (${f.origin.url})`,
    })),
    relationships: files.map((f, i) => ({ spdxElementId: pkgId(f.origin), relationshipType: 'CONTAINS', relatedSpdxElement: `SPDXRef-File-${i}` })),
  };
}

export async function describeTree(root: string, originOf: (rel: string) => Origin): Promise<StagedFile[]> {
  const out: StagedFile[] = [];
  for (const p of await listFiles(root)) {
    const rel = relative(root, p);
    out.push({ path: rel, ...(await hashFile(p)), origin: originOf(rel) });
  }
  return out;
}
