/** The image family's table (src/render/cells.ts): every cell, its tags per Java variant, refusals by name. */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
import { validateMatrix } from '../src/config/matrix.ts';
import { cellRows, cellTable, readmeWithCells } from '../src/render/cells.ts';
import { FIXTURE_MATRIX } from './support/fixture.ts';

/** The fixture with Java 21 (trixie) first on the 8.0 line and beside 17 on 7.2, and two architectures. */
function family() {
  const raw = parse(readFileSync(FIXTURE_MATRIX, 'utf8'));
  raw.architectures = ['amd64', 'arm64'];
  raw.project.debianSuites['21'] = { suite: 'trixie', python: '3.13' };
  raw.lines.find((l: { track: string }) => l.track === '8.0').java = [21, 17];
  raw.lines.find((l: { track: string }) => l.track === '7.2').java = [17, 21];
  return validateMatrix(raw, 'family');
}

describe('sparkcraft cells', () => {
  it('one row per line × available flavour × Java; the non-default Java tagged -java<N>; suite and Python per Java', () => {
    const rows = cellRows(family());
    // 7.1: spark, gpu × 17; 7.2: spark, gpu, jupyter × 17, 21 (kyuubi unavailable: no row); 8.0: spark, gpu × 21, 17
    expect(rows.map((r) => `${r.line}/${r.flavour}/${r.java}`)).toEqual([
      '7.1/spark/17',
      '7.1/gpu/17',
      '7.2/spark/17',
      '7.2/spark/21',
      '7.2/gpu/17',
      '7.2/gpu/21',
      '7.2/jupyter/17',
      '7.2/jupyter/21',
      '8.0/spark/21',
      '8.0/spark/17',
      '8.0/gpu/21',
      '8.0/gpu/17',
    ]);
    const row = (k: string) => rows.find((r) => `${r.line}/${r.flavour}/${r.java}` === k)!;
    expect(row('8.0/spark/21')).toMatchObject({ defaultJava: true, debian: 'trixie', python: '3.13', architectures: ['amd64', 'arm64'] });
    expect(row('8.0/spark/21').tags.every((t) => !t.includes('java'))).toBe(true);
    expect(row('8.0/spark/17')).toMatchObject({ defaultJava: false, debian: 'bookworm', python: '3.11' });
    expect(row('8.0/spark/17').tags).toEqual([
      expect.stringMatching(/-java17-\d+\.\d+_<risk>$/),
      expect.stringMatching(/^8\.0-java17-\d+\.\d+_<risk>$/),
      expect.stringMatching(/^8\.0-java17-\d+\.\d+$/),
    ]);
    // JupyterLab's wheels are locked for 3.11: its Java 21 cell (trixie, 3.13) is refused, with the reason
    expect(row('7.2/jupyter/21').tags).toEqual([]);
    expect(row('7.2/jupyter/21').refused).toMatch(/wheels are locked for Python 3\.11.*Java 21.*trixie.*3\.13/);
    expect(row('7.2/jupyter/17').refused).toBeUndefined();
  });

  it('the table has a row per cell and says stable alone; the README block between the markers is replaced, nothing else', () => {
    const m = family();
    const table = cellTable(cellRows(m));
    expect(table.split('\n')).toHaveLength(2 + 12);
    expect(table).toContain('| 8.0 | spark | 21 (default) | amd64, arm64 | Debian trixie (3.13) |');
    expect(table).toMatch(/\| 7\.2 \| jupyter \| 21 \| .* \| refused: flavour jupyter's wheels/);
    const begin = '<!-- cells: `npm run render` writes this table from matrix.yaml (sparkcraft cells) -->';
    const readme = `# x\nbefore\n${begin}\nold table\n<!-- /cells -->\nafter\n`;
    expect(readmeWithCells(readme, m)).toBe(`# x\nbefore\n${begin}\n${table}\n<!-- /cells -->\nafter\n`);
    expect(readmeWithCells('# no markers\n', m)).toBeUndefined();
  });
});
