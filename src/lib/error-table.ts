/**
 * The README's error table, made from the catalog (src/lib/error-catalog.ts). `errorTable()` is
 * pure; run as a script (`npm run errors:readme`) it rewrites the table between the README's
 * markers, or with --check exits 1 when the README's table is not the catalog's.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ErrorCode, type ErrorEntry, SHARED_ERRORS, SPARK8T_ERRORS, SPARKCRAFT_ERRORS } from './error-catalog.ts';
import { projectRoot } from './paths.ts';

export const TABLE_BEGIN = '<!-- error table: generated from src/lib/error-catalog.ts by `npm run errors:readme`; do not edit by hand -->';
export const TABLE_END = '<!-- end of error table -->';

const cell = (s: string) => s.replace(/\|/g, '\\|');

/** The markdown table of every code, in catalog order: shared, spark8t, sparkcraft. */
export function errorTable(): string {
  const sections: Array<[string, Record<string, ErrorEntry>]> = [
    ['both', SHARED_ERRORS],
    ['spark8t', SPARK8T_ERRORS],
    ['sparkcraft', SPARKCRAFT_ERRORS],
  ];
  const rows = sections.flatMap(([by, entries]) =>
    Object.entries(entries).map(
      ([code, e]) => `| \`${code}\` | ${by} | ${cell(e.summary)} | ${e.hint === null ? '(the message says)' : cell(e.hint)} | ${e.exit} |`,
    ),
  );
  return ['| code | raised by | what went wrong | default hint | exit |', '|---|---|---|---|---|', ...rows].join('\n');
}

/** `readme` with the text between the markers replaced by the table; throws when a marker is missing. */
export function withErrorTable(readme: string): string {
  const a = readme.indexOf(TABLE_BEGIN);
  const b = readme.indexOf(TABLE_END);
  if (a < 0 || b < a) throw new Error('README.md lacks the error table markers');
  return `${readme.slice(0, a + TABLE_BEGIN.length)}\n${errorTable()}\n${readme.slice(b)}`;
}

/** Every code of the catalog (a typed list for tests and tools). */
export const ERROR_CODES = [...Object.keys(SHARED_ERRORS), ...Object.keys(SPARK8T_ERRORS), ...Object.keys(SPARKCRAFT_ERRORS)] as ErrorCode[];

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = join(projectRoot, 'README.md');
  const text = readFileSync(file, 'utf8');
  const want = withErrorTable(text);
  if (process.argv.includes('--check')) {
    if (want !== text) {
      process.stderr.write('error: the README error table is not the catalog (run `npm run errors:readme`)\n');
      process.exit(1);
    }
  } else if (want !== text) writeFileSync(file, want);
}
