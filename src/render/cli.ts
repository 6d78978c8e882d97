/** `sparkcraft render`: matrix → manifests and static files; `--check` proves the committed ones current. */
import type { Command } from 'commander';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { UserError } from '../lib/errors.ts';
import { log } from '../lib/log.ts';
import { projectRoot } from '../lib/paths.ts';
import { writeFileAtomic } from '../lib/fsx.ts';
import { flavourAvailable, loadMatrix, resolveLine } from '../config/matrix.ts';
import { buildDir, check, committedFiles, loadTemplates, renderLine, renderToBuild, writeBuildFolder, type RenderOptions } from './render.ts';

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
