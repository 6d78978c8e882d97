import { UserError } from './errors.ts';
import { mask } from './secrets.ts';

export type Level = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
const ORDER: Record<Level, number> = { DEBUG: 10, INFO: 20, WARN: 30, ERROR: 40 };

let threshold: Level = 'WARN';
// Decided on first use: touching process.stderr costs milliseconds of start-up in the executable.
let timestamps: boolean | undefined;
const stamped = () => (timestamps ??= !process.stderr.isTTY);

export function setLogLevel(level: string): void {
  const l = level.toUpperCase() as Level;
  if (!(l in ORDER)) throw new UserError('E_USAGE', `unknown log level ${level}`, { hint: 'DEBUG, INFO, WARN or ERROR' });
  threshold = l;
}
export function getLogLevel(): Level {
  return threshold;
}
export function setTimestamps(on: boolean): void {
  timestamps = on;
}

function emit(level: Level, msg: string): void {
  if (ORDER[level] < ORDER[threshold]) return;
  if (current?.timer) process.stderr.write('\r\x1b[2K'); // the spinner line is redrawn after
  const prefix = stamped() ? `${new Date().toISOString()} ${level} ` : `${level} `;
  process.stderr.write(mask(prefix + msg) + '\n');
}

export const log = {
  debug: (m: string) => emit('DEBUG', m),
  info: (m: string) => emit('INFO', m),
  warn: (m: string) => emit('WARN', m),
  error: (m: string) => emit('ERROR', m),
};

/**
 * Progress of a long job made of steps. On a terminal one line shows the current step with a spinner
 * and its elapsed time, and each finished step stays as a line with its duration; elsewhere (CI, pipes)
 * plain timestamped lines say when each step starts and how long it took.
 */
interface Current {
  label: string;
  t0: number;
  timer?: NodeJS.Timeout;
}
let current: Current | undefined;
const FRAMES = '|/-\\';

function step(label: string): void {
  endStep();
  if (ORDER.INFO < ORDER[threshold]) return;
  current = { label, t0: Date.now() };
  if (process.stderr.isTTY && !stamped()) {
    let i = 0;
    const c = current;
    const draw = () => process.stderr.write(`\r\x1b[2K${FRAMES[i++ % FRAMES.length]} ${c.label} ${((Date.now() - c.t0) / 1000).toFixed(0)}s`);
    draw();
    c.timer = setInterval(draw, 200);
    c.timer.unref();
  } else emit('INFO', `${label} ...`);
}

function endStep(failed = false): void {
  const c = current;
  if (!c) return;
  current = undefined;
  const secs = ((Date.now() - c.t0) / 1000).toFixed(1);
  if (c.timer) {
    clearInterval(c.timer);
    process.stderr.write(`\r\x1b[2K${failed ? 'x' : '+'} ${c.label} (${secs} s)\n`);
  } else emit('INFO', `${c.label}: ${failed ? 'failed' : 'done'} in ${secs} s`);
}

/** Run `fn` as one step: the only way to mark progress, so a failed step is always ended. */
export async function inStep<T>(label: string, fn: () => Promise<T>): Promise<T> {
  step(label);
  try {
    const r = await fn();
    endStep();
    return r;
  } catch (e) {
    endStep(true);
    throw e;
  }
}
