/** The craft backend: `rockcraft pack` / `snapcraft pack` in the rendered build folder. */
import { execa } from 'execa';
import { copyFile, readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../lib/errors.ts';

export type CraftTool = 'rockcraft' | 'snapcraft';

/** Pure: the command line for a tool (tested; the tools cannot run on hosts without snapd). */
export function craftCommand(tool: CraftTool, opts: { verbose?: boolean } = {}): [string, string[]] {
  return [tool, ['pack', ...(opts.verbose ? ['--verbose'] : [])]];
}

export async function onPath(tool: string): Promise<boolean> {
  const r = await execa('sh', ['-c', 'command -v "$1"', 'sh', tool], { reject: false });
  return r.exitCode === 0;
}

export async function craftPack(tool: CraftTool, buildDir: string, distDir: string, ext: string): Promise<string> {
  const [cmd, args] = craftCommand(tool, { verbose: true });
  try {
    await execa(cmd, args, { cwd: buildDir, stdio: 'inherit' });
  } catch (e) {
    const err = e as { code?: string; exitCode?: number };
    if (err.code === 'ENOENT') throw new UserError('E_TOOL', `${tool} is not installed`, { hint: `install it (snap install ${tool} --classic) or use --backend builtin` });
    throw new UserError('E_CRAFT', `${tool} pack failed with status ${err.exitCode} in ${buildDir}`, { hint: `read the ${tool} log above (or ~/.local/state/${tool}/log)` });
  }
  const made = (await readdir(buildDir)).filter((n) => n.endsWith(ext));
  if (made.length === 0) throw new UserError('E_CRAFT', `${tool} pack produced no ${ext} in ${buildDir}`);
  const out = join(distDir, made.sort().pop()!);
  await copyFile(join(buildDir, made[0]!), `${out}.tmp`);
  await rename(`${out}.tmp`, out);
  return out;
}
