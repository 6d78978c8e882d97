/** `sparkcraft build rock|snap`: parses options and prints; the road (src/pipeline.ts) runs render → stage → pack. */
import type { Command } from 'commander';
import type { Workspace } from '../lib/workspace.ts';
import type { Road } from '../pipeline.ts';
import { log } from '../lib/log.ts';
import { out, outJson } from '../lib/output.ts';
import { clearJournal, formatJournal, journalEntries } from '../lib/state.ts';
import { packedSummary, type Backend } from './pack.ts';

interface BuildOptions {
  line?: string;
  flavour?: string;
  arch?: string;
  java?: number;
  backend?: Backend;
  baseArchive?: string;
  json?: boolean;
  explain?: boolean;
}

export function register(program: Command, _ws: Workspace, road: Road): void {
  const cmd = program.command('build').description('build the rock or the snap of a line (render → stage → pack)');
  for (const kind of ['rock', 'snap'] as const) {
    const c = cmd
      .command(kind)
      .description(`build dist/*.${kind}`)
      .option('--line <track>', 'Spark line (default: the matrix default)')
      .option('--flavour <name>', 'flavour (default: spark)')
      .option('--arch <arch>', "architecture (default: this host's)")
      .option('--java <version>', "Java version (default: the line's first)", Number)
      .option('--backend <backend>', 'auto (craft tool when on PATH), craft or builtin', 'auto');
    if (kind === 'rock')
      c.option(
        '--base-archive <file>',
        'a layered flavour: build it over this oci-archive of its base rock (e.g. the one the release publishes), not over the base the built-in backend builds',
      );
    c.option('--json', 'print a JSON summary')
      .option('--explain', 'say, per step, why it ran again or why it was skipped (with --json: as `steps`)')
      .action(async (o: BuildOptions) => {
        clearJournal();
        const { cell } = await road.select(o);
        const s = (await road.run(cell, { until: 'pack', kind, backend: o.backend, ...(o.baseArchive ? { baseArchive: o.baseArchive } : {}) })).packed!;
        if (o.json) outJson(o.explain ? { ...packedSummary(s), steps: journalEntries() } : packedSummary(s));
        else {
          if (o.explain) out(formatJournal(journalEntries()));
          log.info(
            `${s.reused ? 'unchanged' : 'built'} ${s.artifact} (${(s.size / 1048576).toFixed(1)} MiB) in ${s.seconds.toFixed(1)} s with the ${s.backend} backend`,
          );
          out(s.artifact);
        }
      });
  }
}
