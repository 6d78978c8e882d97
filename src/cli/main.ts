#!/usr/bin/env node
/**
 * `sparkcraft` — the pipeline CLI: config → render → stage → build → smoke → publish.
 * Each step of the table in src/pipeline.ts registers its own subcommands from `src/<step>/cli.ts`,
 * all on the one workspace made here.
 */
import { Command, CommanderError } from 'commander';
import { exitOnSignals, exitUnlessStopping, isStopping } from '../lib/interrupt.ts';
import { setLogLevel } from '../lib/log.ts';
import { reportError } from '../lib/output.ts';
import { workspace } from '../lib/workspace.ts';
import { road, STEPS } from '../pipeline.ts';

export async function main(argv: string[]): Promise<number> {
  // SIGINT/SIGTERM/SIGHUP: children stopped, temporary files and mounts removed (lib/interrupt.ts).
  exitOnSignals();
  const program = new Command('sparkcraft')
    .description('Build, test and publish Spark rocks, snaps and the spark8t CLI')
    .option('--log-level <level>', 'DEBUG, INFO, WARN or ERROR', 'INFO')
    .hook('preAction', (cmd) => setLogLevel(String(cmd.opts().logLevel ?? 'INFO')))
    .exitOverride()
    .showHelpAfterError(false);
  const ws = workspace();
  const r = road(ws);
  for (const step of STEPS) (await step.cli()).register(program, ws, r);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    // Stopped by a signal: what failed is the step its handler stopped; the handler says so.
    if (isStopping()) return 1;
    return reportError(e);
  }
}

// A reader that leaves early (`| head`) ends our output, not with a stack trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode === undefined ? 0 : Number(process.exitCode));
  throw e;
});

main(process.argv.slice(2)).then(
  (code) => exitUnlessStopping(code),
  (e) => exitUnlessStopping(isStopping() ? 1 : reportError(e)),
);
