import { mask } from './secrets.ts';

export type Level = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
const ORDER: Record<Level, number> = { DEBUG: 10, INFO: 20, WARN: 30, ERROR: 40 };

let threshold: Level = 'WARN';
let timestamps = !process.stderr.isTTY;

export function setLogLevel(level: string): void {
  const l = level.toUpperCase() as Level;
  if (!(l in ORDER)) throw new Error(`unknown log level ${level}`);
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
  const prefix = timestamps ? `${new Date().toISOString()} ${level} ` : `${level} `;
  process.stderr.write(mask(prefix + msg) + '\n');
}

export const log = {
  debug: (m: string) => emit('DEBUG', m),
  info: (m: string) => emit('INFO', m),
  warn: (m: string) => emit('WARN', m),
  error: (m: string) => emit('ERROR', m),
};
