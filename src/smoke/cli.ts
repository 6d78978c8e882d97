/** `sparkcraft smoke`. */
import type { Command } from 'commander';
import type { Workspace } from '../lib/workspace.ts';
import type { Road } from '../pipeline.ts';
import { UserError } from '../lib/errors.ts';
import { log } from '../lib/log.ts';
import { out, outJson } from '../lib/output.ts';
import { smoke } from './smoke.ts';

export function register(program: Command, ws: Workspace, road: Road): void {
  program
    .command('smoke')
    .description('run Spark jobs, the history server and spark8t in the built rock and snap (builds them when missing)')
    .option('--artifact <which>', 'rock, snap or all', 'all')
    .option('--line <track>', 'Spark line (default: the matrix default)')
    .option('--arch <arch>', "architecture (default: this host's; another runs under qemu-user-static, scripts/binfmt.sh)")
    .option('--java <version>', "Java version (default: the line's first)", Number)
    .option('--only <regex>', 'run only the checks whose name matches')
    .option('--cluster', 'run the Spark-on-Kubernetes scenarios on the local node instead (scripts/local-k8s.sh)')
    .option('--json', 'print the results as JSON')
    .action(async (o: { artifact: 'rock' | 'snap' | 'all'; line?: string; arch?: string; java?: number; only?: string; json?: boolean; cluster?: boolean }) => {
      if (!['rock', 'snap', 'all'].includes(o.artifact)) throw new UserError('E_USAGE', `--artifact must be rock, snap or all`);
      const t = Date.now();
      const results = await smoke(
        { artifact: o.artifact, line: o.line, arch: o.arch, java: o.java, only: o.only ? new RegExp(o.only) : undefined, cluster: o.cluster },
        ws,
        road,
      );
      const failed = results.filter((r) => !r.ok);
      const summary = `smoke: ${results.length - failed.length} passed, ${failed.length} failed in ${((Date.now() - t) / 1000).toFixed(0)} s`;
      // With --json, stdout is the JSON document alone; the summary goes with the log.
      if (o.json) {
        outJson(results);
        log.info(summary);
      } else out(summary);
      if (failed.length) throw new UserError('E_SMOKE', `failed: ${failed.map((f) => f.name).join('; ')}`);
    });
}
