/**
 * File digests, streamed: the one place a step hashes a file (stage's downloads, pack's layers and
 * artifacts). `sha256Remembered` keeps a record beside the hash so an unchanged file is not read again.
 * I/O: reads files (and writes the record).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { rememberedHash } from './state.ts';

/** The hex digest of a file, streamed (`algorithm`: sha256, or sha1 for Maven Central's .sha1 files). */
export async function fileDigest(file: string, algorithm: 'sha256' | 'sha1'): Promise<string> {
  const h = createHash(algorithm);
  await pipeline(createReadStream(file), h);
  return h.digest('hex');
}

export const sha256File = (file: string): Promise<string> => fileDigest(file, 'sha256');

/**
 * The sha256 of `file`, hashed again only when its size, mtime or inode differ from those `record`
 * holds (a versioned record of lib/state.ts, written after each hashing when the file did not change meanwhile).
 */
export async function sha256Remembered(file: string, record: string): Promise<string> {
  return rememberedHash(file, record, sha256File);
}
