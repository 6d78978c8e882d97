/** Byte-level helpers the cache tests share: corrupt a file in place, hash a buffer. */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';

/** Flip one byte in place: the size stays, the content does not. */
export function flipByte(file: string, at = 100): void {
  const b = readFileSync(file)[at]!;
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.from([b ^ 0xff]), 0, 1, at);
  closeSync(fd);
}

export const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
