import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root (where package.json lives). */
export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Where downloads and built tools are cached, outside git.
 * SPARKCRAFT_CACHE overrides; otherwise $XDG_CACHE_HOME/sparkcraft or ~/.cache/sparkcraft.
 */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SPARKCRAFT_CACHE) return path.resolve(env.SPARKCRAFT_CACHE);
  const base = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'sparkcraft');
}
