/** `sparkcraft render`: matrix → manifests and static files; `--check` proves the committed ones current. */
import type { Command } from 'commander';
import { UserError } from '../lib/errors.ts';
import { log } from '../lib/log.ts';
import type { Workspace } from '../lib/workspace.ts';
import type { Road } from '../pipeline.ts';
import { flavourAvailable, loadMatrix, resolveLine } from '../config/matrix.ts';
import type { Risk } from '../config/types.ts';
import { check, loadTemplates, writeCommitted } from './render.ts';

interface RenderOptions {
  matrix?: string;
  line?: string;
  flavour?: string;
  risk?: Risk;
}

export function register(program: Command, ws: Workspace, road: Road): void {
  program
    .command('render')
    .description('render rockcraft.yaml, snap/snapcraft.yaml and their files from matrix.yaml and templates/')
    .option('--matrix <file>', 'release matrix (default: matrix.yaml)')
    .option('--line <track>', 'Spark line (default: the matrix default)')
    .option('--flavour <name>', 'flavour (default: spark)')
    .option('--risk <risk>', 'edge, beta, candidate or stable (default: the matrix default)')
    .option('--arch <arch>', "architecture (default: this host's)")
    .option('--java <version>', "Java version (default: the line's first)", Number)
    .option('--all', 'render every line and available flavour into build/')
    .option('--check', 'fail when the committed manifests differ from what the templates produce')
    .action(async (o: RenderOptions & { all?: boolean; check?: boolean; arch?: string; java?: number }) => {
      if (o.check) {
        const stale = await check(o, ws);
        if (stale.length) {
          throw new UserError('E_STALE', `committed ${stale.join(' and ')} differ from what matrix.yaml and templates/ produce`);
        }
        log.info('committed manifests are current');
        return;
      }
      const m = loadMatrix(o.matrix ?? ws.matrixFile);
      if (o.all) {
        for (const line of m.lines) {
          for (const fl of line.flavours) {
            const r = resolveLine(m, { line: line.track, flavour: fl, risk: o.risk, arch: o.arch, java: o.java });
            if (!flavourAvailable(r.flavour)) {
              log.warn(`skipping ${line.track}/${fl}: ${r.flavour.reason}`);
              continue;
            }
            log.info(`rendered ${(await road.run(r, { until: 'render' })).rendered.dir}`);
          }
        }
        return;
      }
      const cell = resolveLine(m, { line: o.line, flavour: o.flavour, risk: o.risk, arch: o.arch, java: o.java });
      log.info(`rendered ${(await road.run(cell, { until: 'render' })).rendered.dir}`);
      if (!o.line && !o.flavour && !o.risk && !o.arch && !o.java) {
        const t = loadTemplates(ws.templates);
        for (const f of await writeCommitted(ws, m, t)) log.info(`wrote ${f}`);
      }
    });
}
