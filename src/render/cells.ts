/**
 * The image family as a table: every cell of the matrix (line × flavour × Java, with its architectures)
 * and the tags it is published under, or why the matrix refuses it. Pure; `sparkcraft cells` prints it
 * and the README carries it (test/cells.test.ts keeps the two the same).
 */
import { flavourAvailable, resolveLine } from '../config/matrix.ts';
import type { Matrix } from '../config/types.ts';
import { UserError } from '../lib/errors.ts';

export interface CellRow {
  image: string;
  line: string;
  flavour: string;
  java: number;
  defaultJava: boolean;
  architectures: string[];
  /** The built-in backend's Debian suite and its Python. */
  debian: string;
  python: string;
  /** The tags at any risk, `<risk>` standing for it; the last is stable's alone (no risk). */
  tags: string[];
  /** Set when the matrix refuses the cell: its one-line reason (then nothing else is built). */
  refused?: string;
}

/** Every cell of every available flavour, in matrix order (lines, then flavours, then the line's Java order). */
export function cellRows(m: Matrix): CellRow[] {
  const rows: CellRow[] = [];
  for (const line of m.lines) {
    for (const flavour of line.flavours) {
      const f = m.flavours[flavour]!;
      if (!flavourAvailable(f)) continue;
      for (const java of line.java) {
        const suite = m.project.debianSuites[String(java)]!;
        const row = { image: f.image, line: line.track, flavour, java, defaultJava: java === line.java[0], architectures: m.architectures };
        try {
          // The tags do not depend on the architecture (one tag, each platform's image under it).
          const r = resolveLine(m, { line: line.track, flavour, risk: 'stable', arch: m.architectures[0], java });
          const tags = r.image.tags.map((t) => t.replace(/_stable$/, '_<risk>'));
          rows.push({ ...row, debian: r.debianSuite, python: r.python, tags });
        } catch (e) {
          if (!(e instanceof UserError)) throw e;
          rows.push({ ...row, debian: suite.suite, python: suite.python, tags: [], refused: e.message });
        }
      }
    }
  }
  return rows;
}

/** The rows as a Markdown table (what the README carries between its `cells` markers). */
export function cellTable(rows: CellRow[]): string {
  const head = ['| image | line | flavour | Java | architectures | built-in base (python3) | tags |', '|---|---|---|---|---|---|---|'];
  const body = rows.map((r) => {
    const tags = r.refused
      ? `refused: ${r.refused.replace(/\|/g, '\\|')}`
      : r.tags.map((t, i) => (i === r.tags.length - 1 ? `\`${t}\` (stable)` : `\`${t}\``)).join(', ');
    return `| ${r.image} | ${r.line} | ${r.flavour} | ${r.java}${r.defaultJava ? ' (default)' : ''} | ${r.architectures.join(', ')} | Debian ${r.debian} (${r.python}) | ${tags} |`;
  });
  return [...head, ...body].join('\n');
}

const BEGIN = '<!-- cells: `npm run render` writes this table from matrix.yaml (sparkcraft cells) -->';
const END = '<!-- /cells -->';

/** README.md with the table between its markers made current; `undefined` when it has no markers. */
export function readmeWithCells(readme: string, m: Matrix): string | undefined {
  const i = readme.indexOf(BEGIN);
  const j = readme.indexOf(END);
  if (i < 0 || j < i) return undefined;
  return `${readme.slice(0, i + BEGIN.length)}\n${cellTable(cellRows(m))}\n${readme.slice(j)}`;
}
