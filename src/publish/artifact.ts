/**
 * The artifact a publish defaults to when neither the pack step's result nor --artifact names one:
 * the line's file in dist/. Reads the directory only.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { ResolvedLine } from '../config/types.ts';
import { UserError } from '../lib/errors.ts';

/** Default artifact: the line's dist/<image>_<version>_<arch>.rock (host arch first, then any arch). */
export async function findRockArtifact(root: string, r: ResolvedLine): Promise<string> {
  return findArtifact(root, r.paths.rock, r.arch, 'rock', 'npm run build:rock');
}

/**
 * `rel` (`dist/<name>_<version>_<arch>.<ext>`) when it exists, else the same name built for another
 * architecture; refuses with one line naming the expected file.
 */
export async function findArtifact(root: string, rel: string, arch: string, kind: 'rock' | 'snap', build: string): Promise<string> {
  const dist = path.join(root, path.dirname(rel));
  const want = path.basename(rel).slice(0, -`${arch}.${kind}`.length);
  let names: string[] = [];
  try {
    names = await fs.readdir(dist);
  } catch {
    /* no dist/ */
  }
  const candidates = names.filter((n) => n.startsWith(want) && n.endsWith(`.${kind}`)).sort();
  const pick = candidates.find((n) => n === path.basename(rel)) ?? candidates[0];
  if (!pick) {
    throw new UserError('E_ARTIFACT', `no ${kind} ${rel} to publish`, {
      hint: `run ${build} first, or pass --artifact FILE`,
    });
  }
  return path.join(dist, pick);
}
