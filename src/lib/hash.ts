/**
 * File digests, streamed: the one place a step hashes a file (stage's downloads, pack's layers and
 * artifacts). `sha256Remembered` keeps a record beside the hash so an unchanged file is not read again.
 * I/O: reads files (and writes the record).
 */
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { fileIdentity, writeFileAtomic } from './fsx.ts';

/** The hex digest of a file, streamed (`algorithm`: sha256, or sha1 for Maven Central's .sha1 files). */
export async function fileDigest(file: string, algorithm: 'sha256' | 'sha1'): Promise<string> {
  const h = createHash(algorithm);
  await pipeline(createReadStream(file), h);
  return h.digest('hex');
}

export const sha256File = (file: string): Promise<string> => fileDigest(file, 'sha256');

/**
 * The sha256 of `file`, hashed again only when its size, mtime or inode differ from those `record`
 * holds (written beside the hash after each hashing, when the file did not change meanwhile).
 */
export async function sha256Remembered(file: string, record: string): Promise<string> {
  const identity = fileIdentity(file);
  try {
    const r = JSON.parse(readFileSync(record, 'utf8')) as { file?: string; identity?: string; sha256?: string };
    if (r.file === file && r.identity === identity && /^[0-9a-f]{64}$/.test(r.sha256 ?? '')) return r.sha256!;
  } catch {
    // no record, or an unreadable one: hash
  }
  const sha256 = await sha256File(file);
  if (fileIdentity(file) === identity) await writeFileAtomic(record, JSON.stringify({ file, identity, sha256 }));
  return sha256;
}
