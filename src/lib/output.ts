/**
 * The one output path of the sparkcraft CLI: results go to stdout, errors to stderr, every line
 * through the secret mask (log lines go through it in log.ts). `--json` documents are written alone,
 * so stdout parses.
 */
import { describeError, isUserError } from './errors.ts';
import { getLogLevel } from './log.ts';
import { mask } from './secrets.ts';

/** A result line (or lines) on stdout. */
export function out(text: string): void {
  process.stdout.write(mask(text) + '\n');
}

/** A JSON document on stdout. */
export function outJson(doc: unknown): void {
  out(JSON.stringify(doc, null, 2));
}

/** Text for a human on stderr that is not a log line (a failed check's log tail). */
export function err(text: string): void {
  process.stderr.write(mask(text) + '\n');
}

/** An error as the JSON documents carry it. */
export function errorJson(e: unknown): { code: string; message: string } {
  return { code: isUserError(e) ? e.code : 'E_INTERNAL', message: mask(describeError(e)) };
}

/**
 * The one error reporter: `error: <one line>` on stderr (the stack only at DEBUG), and the exit
 * status the error asks for.
 */
export function reportError(e: unknown): number {
  err(`error: ${describeError(e)}`);
  if (getLogLevel() === 'DEBUG' && e instanceof Error && e.stack) err(e.stack);
  return isUserError(e) ? e.exitCode : 1;
}
