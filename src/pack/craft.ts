/** The craft backend: `rockcraft pack` / `snapcraft pack` in the rendered build folder. */
import { execa } from 'execa';
import { copyFile, mkdir, readdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../lib/errors.ts';
import { temporary } from '../lib/interrupt.ts';

export type CraftTool = 'rockcraft' | 'snapcraft';

/** Pure: the command line for a tool (tested; the tools cannot run on hosts without snapd). */
export function craftCommand(tool: CraftTool, opts: { verbose?: boolean } = {}): [string, string[]] {
  return [tool, ['pack', ...(opts.verbose ? ['--verbose'] : [])]];
}

export async function onPath(tool: string): Promise<boolean> {
  const r = await execa('sh', ['-c', 'command -v "$1"', 'sh', tool], { reject: false });
  return r.exitCode === 0;
}

/** The `ext` files in `dir` with their modification times. */
async function artifactsIn(dir: string, ext: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const n of (await readdir(dir)).filter((x) => x.endsWith(ext))) out.set(n, (await stat(join(dir, n))).mtimeMs);
  return out;
}

/**
 * Pack in the build folder and copy what the tool made into `distDir` (via a temporary name). The tool
 * names the file itself (`<name>_<version>_<arch>`); artifacts of earlier packs may lie beside it, so
 * the one taken is the one this pack wrote.
 */
export async function craftPack(tool: CraftTool, buildDir: string, distDir: string, ext: string, o: { env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const [cmd, args] = craftCommand(tool, { verbose: true });
  const before = await artifactsIn(buildDir, ext);
  try {
    // `o.env` is laid over this process's environment (a test puts its stand-in tools first on PATH).
    await execa(cmd, args, { cwd: buildDir, stdio: 'inherit', env: o.env });
  } catch (e) {
    const err = e as { code?: string; exitCode?: number };
    if (err.code === 'ENOENT')
      throw new UserError('E_TOOL', `${tool} is not installed`, { hint: `install it (snap install ${tool} --classic) or use --backend builtin` });
    throw new UserError('E_CRAFT', `${tool} pack failed with status ${err.exitCode} in ${buildDir}`, {
      hint: `read the ${tool} log above (or ~/.local/state/${tool}/log)`,
    });
  }
  const made = [...(await artifactsIn(buildDir, ext))].filter(([n, t]) => before.get(n) !== t).map(([n]) => n);
  if (made.length === 0) throw new UserError('E_CRAFT', `${tool} pack produced no ${ext} in ${buildDir}`);
  if (made.length > 1)
    throw new UserError('E_CRAFT', `${tool} pack produced ${made.length} ${ext} files in ${buildDir}: ${made.sort().join(', ')}`, {
      hint: 'the manifest should name one platform',
    });
  const name = made[0]!;
  const out = join(distDir, name);
  await mkdir(distDir, { recursive: true });
  await copyFile(join(buildDir, name), temporary(`${out}.tmp-${process.pid}`));
  await rename(`${out}.tmp-${process.pid}`, out);
  return out;
}
