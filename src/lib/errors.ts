/**
 * One place for user-facing errors. A UserError carries a stable code from the catalog
 * (src/lib/error-catalog.ts), a one-line message (what went wrong, where) and a hint (what to do).
 * The CLI prints `error: <message> (<hint>)` and exits with `exitCode`; stack traces only appear
 * at DEBUG log level. A hint or exit status the throw site does not give is the catalog's.
 */
import { ERRORS, type ErrorCode } from './error-catalog.ts';

export type { ErrorCode } from './error-catalog.ts';

export class UserError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly exitCode: number;

  constructor(code: ErrorCode, message: string, opts: { hint?: string; exitCode?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    const entry = ERRORS[code];
    this.name = 'UserError';
    this.code = code;
    this.hint = opts.hint ?? entry.hint ?? undefined;
    this.exitCode = opts.exitCode ?? entry.exit;
  }

  /** The single line shown to a user. */
  oneLine(): string {
    const msg = this.message.replace(/\s*\n\s*/g, ' ').trim();
    return this.hint ? `${msg} (${this.hint})` : msg;
  }
}

/** Several problems found by checks that run before any change; reported together. */
export class AggregateUserError extends UserError {
  readonly problems: UserError[];
  constructor(problems: UserError[]) {
    super('E_MANY', problems.map((p) => p.oneLine()).join('; '));
    this.problems = problems;
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}

/** Render any thrown value as one line, without a stack trace. */
export function describeError(e: unknown): string {
  if (e instanceof UserError) return e.oneLine();
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    const msg = e.message.split('\n')[0] ?? String(e);
    return code && !msg.includes(code) ? `${msg} [${code}]` : msg;
  }
  return String(e);
}
