/**
 * The artifact a publish defaults to when neither the pack step's result nor --artifact names one:
 * the line's file in dist/. Reads the directory only.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { ResolvedLine } from '../config/types.ts';
import { UserError } from '../lib/errors.ts';

/** Default artifact: the cell's dist/<image>_<version>_<arch>.rock, that exact file. */
export async function findRockArtifact(root: string, r: ResolvedLine): Promise<string> {
  return findArtifact(root, r.paths.rock, 'rock', 'npm run build:rock');
}

/**
 * The cell's file `rel` (its name carries the architecture and Java) when it exists; never another
 * cell's (the same image for another architecture would be published under this one's platform).
 * Refuses with one line naming the expected file.
 */
export async function findArtifact(root: string, rel: string, kind: 'rock' | 'snap', build: string): Promise<string> {
  const file = path.join(root, rel);
  const st = await fs.stat(file).catch(() => undefined);
  if (!st?.isFile()) {
    throw new UserError('E_ARTIFACT', `no ${kind} ${rel} to publish`, { hint: `run ${build} first (for this architecture and Java), or pass --artifact FILE` });
  }
  return file;
}
