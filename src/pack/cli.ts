/** `sparkcraft build rock|snap`: parses options and prints; the operation is pack.ts (render → stage → pack). */
import type { Command } from 'commander';
import { workspace, type Workspace } from '../lib/workspace.ts';
import { log } from '../lib/log.ts';
import { out, outJson } from '../lib/output.ts';
import { build, type BuildOptions } from './pack.ts';

export function register(program: Command, ws: Workspace = workspace()): void {
  const cmd = program.command('build').description('build the rock or the snap of a line (render → stage → pack)');
  for (const kind of ['rock', 'snap'] as const) {
    const c = cmd
      .command(kind)
      .description(`build dist/*.${kind}`)
      .option('--line <track>', 'Spark line (default: the matrix default)')
      .option('--flavour <name>', 'flavour (default: spark)')
      .option('--backend <backend>', 'auto (craft tool when on PATH), craft or builtin', 'auto');
    if (kind === 'rock')
      c.option(
        '--base-archive <file>',
        'a layered flavour: build it over this oci-archive of its base rock (e.g. the one the release publishes), not over the base the built-in backend builds',
      );
    c.option('--json', 'print a JSON summary').action(async (o: BuildOptions) => {
      const s = await build(kind, o, ws);
      if (o.json) outJson(s);
      else {
        log.info(
          `${s.reused ? 'unchanged' : 'built'} ${s.artifact} (${(s.size / 1048576).toFixed(1)} MiB) in ${s.seconds.toFixed(1)} s with the ${s.backend} backend`,
        );
        out(s.artifact);
      }
    });
  }
}
