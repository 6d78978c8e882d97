/** `sparkcraft stage` and `sparkcraft lock`. */
import type { Command } from 'commander';
import type { Workspace } from '../lib/workspace.ts';
import type { Road } from '../pipeline.ts';
import { log } from '../lib/log.ts';
import { out } from '../lib/output.ts';
import { loadMatrix } from '../config/matrix.ts';
import { refreshLock } from './lock.ts';
import { clearJournal, formatJournal, journalEntries } from '../lib/state.ts';

export function register(program: Command, ws: Workspace, road: Road): void {
  program
    .command('stage')
    .description('fill build/<track>/<flavour>/inputs from the pinned inputs of the lock file')
    .option('--line <track>', 'Spark line (default: the matrix default)')
    .option('--flavour <name>', 'flavour (default: spark)')
    .option('--arch <arch>', "architecture (default: this host's)")
    .option('--java <version>', "Java version (default: the line's first)", Number)
    .option('--force', 'restage even when nothing changed')
    .option('--verify', 'rehash every cached download (a changed one is removed and downloaded again)')
    .option('--json', 'print a JSON summary')
    .option('--explain', 'say, per step, why it ran again or why it was skipped (with --json: as `steps`)')
    .action(
      async (o: { line?: string; flavour?: string; arch?: string; java?: number; json?: boolean; force?: boolean; verify?: boolean; explain?: boolean }) => {
        clearJournal();
        const { cell } = await road.select(o);
        const r = (await road.run(cell, { until: 'stage', stage: { force: o.force, verify: o.verify } })).staged!;
        if (o.json) out(JSON.stringify({ inputs: r.inputs, skipped: r.skipped, seconds: r.seconds, ...(o.explain ? { steps: journalEntries() } : {}) }));
        else {
          if (o.explain) out(formatJournal(journalEntries()));
          out(`${r.inputs}${r.skipped ? ' (unchanged)' : ''} in ${r.seconds.toFixed(2)} s`);
        }
      },
    );
  program
    .command('lock')
    .description('pin every input of every line (URL and sha256) in sparkcraft.lock.json; reports newer Spark patch releases')
    .option('--line <track...>', 'only these lines')
    .action(async (o: { line?: string[] }) => {
      const { newer } = await refreshLock(ws.cache, loadMatrix(ws.matrixFile), o.line, ws.lockFile);
      for (const [track, vs] of Object.entries(newer))
        if (vs.length) log.warn(`Spark ${track}: newer patch release(s) on PyPI: ${vs.join(', ')} (update matrix.yaml)`);
      out('sparkcraft.lock.json updated');
    });
}
