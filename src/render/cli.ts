/** `sparkcraft render`: matrix → manifests and static files; `--check` proves the committed ones current. */
import type { Command } from 'commander';
import { readFile, mkdir, writeFile, chmod } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { UserError } from '../lib/errors.ts';
import { log } from '../lib/log.ts';
import { projectRoot } from '../lib/paths.ts';
import { writeFileAtomic, replaceDirAtomic } from '../lib/fsx.ts';
import { flavourAvailable, loadMatrix, resolveLine } from '../config/matrix.ts';
import type { Matrix, ResolvedLine, Risk } from '../config/types.ts';
import { loadTemplates, renderLine, type RenderedFile, type Templates } from './render.ts';

export const COMMITTED = ['rockcraft.yaml', 'snap/snapcraft.yaml'];

export function buildDir(r: ResolvedLine, root = projectRoot): string {
  return join(root, r.paths.build);
}

/** Write a build folder: manifests, the install hook and files/ (replaced as a whole). inputs/ is left alone. */
export async function writeBuildFolder(dir: string, files: RenderedFile[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const f of files.filter((x) => !x.path.startsWith('files/'))) {
    await mkdir(dirname(join(dir, f.path)), { recursive: true });
    await writeFileAtomic(join(dir, f.path), f.content, f.mode);
  }
  await replaceDirAtomic(join(dir, 'files'), async (tmp) => {
    for (const f of files.filter((x) => x.path.startsWith('files/'))) {
      const p = join(tmp, f.path.slice('files/'.length));
      await mkdir(dirname(p), { recursive: true });
      await writeFile(p, f.content);
      await chmod(p, f.mode);
    }
    // Directories the rock wants to exist (owned and moded by the manifest's permissions).
    for (const d of ['rock/var/lib/spark', 'rock/var/log/spark', 'rock/etc/spark/conf']) await mkdir(join(tmp, d), { recursive: true });
  });
}

export interface RenderOptions {
  matrix?: string;
  line?: string;
  flavour?: string;
  risk?: Risk;
}

/** Render and write the build folder of one line; returns it and the resolved line. */
export async function renderToBuild(o: RenderOptions = {}, templates?: Templates): Promise<{ dir: string; resolved: ResolvedLine; matrix: Matrix; files: RenderedFile[] }> {
  const matrix = loadMatrix(o.matrix);
  const resolved = resolveLine(matrix, { line: o.line, flavour: o.flavour, risk: o.risk });
  if (!flavourAvailable(resolved.flavour)) {
    throw new UserError('E_FLAVOUR', `flavour ${resolved.flavour.name} cannot be built yet: ${(resolved.flavour as { reason?: string }).reason ?? 'inputs unavailable'}`);
  }
  const files = renderLine(matrix, resolved, templates ?? loadTemplates());
  const dir = buildDir(resolved);
  await writeBuildFolder(dir, files);
  return { dir, resolved, matrix, files };
}

/** What the committed top-level manifests must contain: the default line at the default risk. */
export function committedFiles(matrix: Matrix, t: Templates): RenderedFile[] {
  const r = resolveLine(matrix, {});
  return renderLine(matrix, r, t).filter((f) => COMMITTED.includes(f.path));
}

export async function check(o: RenderOptions = {}): Promise<string[]> {
  const want = committedFiles(loadMatrix(o.matrix), loadTemplates());
  const stale: string[] = [];
  for (const f of want) {
    const have = await readFile(join(projectRoot, f.path), 'utf8').catch(() => undefined);
    if (have !== f.content) stale.push(f.path);
  }
  return stale;
}

export function register(program: Command): void {
  program
    .command('render')
    .description('render rockcraft.yaml, snap/snapcraft.yaml and their files from matrix.yaml and templates/')
    .option('--matrix <file>', 'release matrix (default: matrix.yaml)')
    .option('--line <track>', 'Spark line (default: the matrix default)')
    .option('--flavour <name>', 'flavour (default: spark)')
    .option('--risk <risk>', 'edge, beta, candidate or stable (default: the matrix default)')
    .option('--all', 'render every line and available flavour into build/')
    .option('--check', 'fail when the committed manifests differ from what the templates produce')
    .action(async (o: RenderOptions & { all?: boolean; check?: boolean }) => {
      if (o.check) {
        const stale = await check(o);
        if (stale.length) {
          throw new UserError('E_STALE', `committed ${stale.join(' and ')} differ from what matrix.yaml and templates/ produce`, { hint: 'run `npm run render` and commit the result' });
        }
        log.info('committed manifests are current');
        return;
      }
      const t = loadTemplates();
      if (o.all) {
        const m = loadMatrix(o.matrix);
        for (const line of m.lines) {
          for (const fl of line.flavours) {
            const r = resolveLine(m, { line: line.track, flavour: fl, risk: o.risk });
            if (!flavourAvailable(r.flavour)) {
              log.warn(`skipping ${line.track}/${fl}: ${(r.flavour as { reason?: string }).reason}`);
              continue;
            }
            await writeBuildFolder(buildDir(r), renderLine(m, r, t));
            log.info(`rendered ${buildDir(r)}`);
          }
        }
        return;
      }
      const { dir, matrix } = await renderToBuild(o, t);
      log.info(`rendered ${dir}`);
      if (!o.line && !o.flavour && !o.risk) {
        for (const f of committedFiles(matrix, t)) {
          await mkdir(dirname(join(projectRoot, f.path)), { recursive: true });
          await writeFileAtomic(join(projectRoot, f.path), f.content, 0o644);
          log.info(`wrote ${f.path}`);
        }
      }
    });
}
