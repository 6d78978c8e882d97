/**
 * The error catalog (src/lib/error-catalog.ts) against its users: every code a src/ file writes is
 * in it and every entry is used, spark8t's codes are in the sections spark8t may use, the README's
 * table is the one the catalog makes, and UserError takes the catalog's hint and exit status.
 * Pure: reads src/ and README.md, runs nothing.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERRORS, type ErrorCode, SHARED_ERRORS, SPARK8T_ERRORS, SPARKCRAFT_ERRORS } from '../src/lib/error-catalog.ts';
import { ERROR_CODES, TABLE_BEGIN, TABLE_END, errorTable, withErrorTable } from '../src/lib/error-table.ts';
import { AggregateUserError, UserError } from '../src/lib/errors.ts';
import { projectRoot } from '../src/lib/paths.ts';
import { KubeApiError } from '../src/spark8t/kube/client.ts';

const CATALOG_FILE = 'src/lib/error-catalog.ts';

function sources(dir = join(projectRoot, 'src')): Array<{ file: string; text: string }> {
  return readdirSync(dir)
    .sort()
    .flatMap((n) => {
      const p = join(dir, n);
      if (statSync(p).isDirectory()) return sources(p);
      return n.endsWith('.ts') ? [{ file: relative(projectRoot, p), text: readFileSync(p, 'utf8') }] : [];
    });
}

/** Every quoted `E_…` literal and where it is written (the catalog itself not counted). */
function codeUses(files: Array<{ file: string; text: string }>): Map<string, string[]> {
  const uses = new Map<string, string[]>();
  for (const { file, text } of files) {
    if (file === CATALOG_FILE) continue;
    for (const m of text.matchAll(/(['"`])(E_[A-Z0-9_]+)\1/g)) uses.set(m[2]!, [...(uses.get(m[2]!) ?? []), file]);
    // A code made up at run time would escape this check: refuse it.
    for (const m of text.matchAll(/`(E_[A-Z0-9_]*\$\{)/g)) uses.set(m[1]!, [...(uses.get(m[1]!) ?? []), file]);
  }
  return uses;
}

/** What is wrong between the catalog's codes and the codes the files use. */
function catalogProblems(catalog: readonly string[], uses: Map<string, string[]>): string[] {
  const unknown = [...uses.keys()].filter((c) => !catalog.includes(c)).map((c) => `${c} (${uses.get(c)!.join(', ')}) is not in the catalog`);
  const unused = catalog.filter((c) => !uses.has(c)).map((c) => `${c} is in the catalog but no src/ file uses it`);
  return [...unknown, ...unused];
}

describe('the error catalog', () => {
  const uses = codeUses(sources());

  it('lists every code src/ uses, and src/ uses every code it lists', () => {
    expect(uses.size).toBeGreaterThan(50);
    expect(catalogProblems(ERROR_CODES, uses)).toEqual([]);
  });

  it('the check finds a code missing from the catalog, an unused entry and a code made at run time', () => {
    const planted = codeUses([
      { file: 'src/x.ts', text: "throw new UserError('E_NOT_CATALOGUED', 'x'); throw new UserError(`E_K8S_${status}`, 'y');" },
      { file: 'src/y.ts', text: "new UserError('E_USAGE', 'z')" },
    ]);
    expect(catalogProblems(['E_USAGE', 'E_UNUSED'], planted)).toEqual([
      'E_NOT_CATALOGUED (src/x.ts) is not in the catalog',
      'E_K8S_${ (src/x.ts) is not in the catalog',
      'E_UNUSED is in the catalog but no src/ file uses it',
    ]);
  });

  it("spark8t's codes are in its own or the shared section, and only spark8t raises its section's codes", () => {
    const spark8tMay = new Set([...Object.keys(SHARED_ERRORS), ...Object.keys(SPARK8T_ERRORS)]);
    const wrong: string[] = [];
    for (const [code, files] of uses) {
      for (const f of files) {
        if (f.startsWith('src/spark8t/') && !spark8tMay.has(code)) wrong.push(`${f} raises ${code}, not a spark8t code`);
        if (!f.startsWith('src/spark8t/') && code in SPARK8T_ERRORS) wrong.push(`${f} raises ${code}, a spark8t code`);
      }
    }
    expect(wrong).toEqual([]);
    // The shared section is for codes both tools really raise.
    for (const code of Object.keys(SHARED_ERRORS)) {
      const files = uses.get(code) ?? [];
      expect(files.some((f) => f.startsWith('src/spark8t/')) && files.some((f) => !f.startsWith('src/spark8t/')), code).toBe(true);
    }
  });

  it('sections do not overlap, and every entry is one line with an exit status', () => {
    const keys = [...Object.keys(SHARED_ERRORS), ...Object.keys(SPARK8T_ERRORS), ...Object.keys(SPARKCRAFT_ERRORS)];
    expect(new Set(keys).size).toBe(keys.length);
    expect(Object.keys(ERRORS)).toEqual(keys);
    for (const [code, e] of Object.entries(ERRORS)) {
      expect(code).toMatch(/^E_[A-Z0-9_]+$/);
      expect(e.summary, code).toMatch(/^[^\n]{10,120}$/);
      if (e.hint !== null) expect(e.hint, code).toMatch(/^[^\n]{5,160}$/);
      expect(Number.isInteger(e.exit) && e.exit >= 1 && e.exit <= 125, code).toBe(true);
    }
  });

  it("the README's error table is the one the catalog makes (npm run errors:readme)", () => {
    const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
    expect(readme).toContain(TABLE_BEGIN);
    expect(withErrorTable(readme) === readme, 'README.md error table is stale: run `npm run errors:readme`').toBe(true);
    const table = errorTable().split('\n');
    expect(table).toHaveLength(ERROR_CODES.length + 2);
    for (const code of ERROR_CODES) expect(table.some((l) => l.startsWith(`| \`${code}\` |`))).toBe(true);
    // The comparison can fail: a README whose table lost a row is refused.
    const edited = readme.replace(/\n\| `E_USAGE` [^\n]*/, '');
    expect(edited).not.toBe(readme);
    expect(withErrorTable(edited)).not.toBe(edited);
    expect(() => withErrorTable(readme.replace(TABLE_END, ''))).toThrow(/markers/);
  });
});

describe('UserError and the catalog', () => {
  it("takes the catalog's hint and exit status when the throw site gives none", () => {
    const e = new UserError('E_CONF', '--conf "x" is not key=value');
    expect([e.hint, e.exitCode]).toEqual([SPARK8T_ERRORS.E_CONF.hint, 2]);
    expect(e.oneLine()).toBe('--conf "x" is not key=value (write --conf spark.some.key=value)');
    expect(new UserError('E_STAGE', 'x').exitCode).toBe(1);
  });

  it("a throw site's hint and exit status win; a null catalog hint means none", () => {
    const e = new UserError('E_LOCK', 'lock file x is not valid JSON', { hint: 'restore it from git', exitCode: 3 });
    expect([e.hint, e.exitCode, e.oneLine()]).toEqual(['restore it from git', 3, 'lock file x is not valid JSON (restore it from git)']);
    const u = new UserError('E_USAGE', '--deploy-mode must be client or cluster, not "x"');
    expect([u.hint, u.exitCode, u.oneLine()]).toEqual([undefined, 2, '--deploy-mode must be client or cluster, not "x"']);
  });

  it('the same failure has one hint wherever it is raised (E_REGISTRY_AUTH)', () => {
    const sites = ['src/publish/session.ts', 'src/publish/sign.ts', 'src/publish/verify.ts'];
    for (const f of sites) {
      const text = readFileSync(join(projectRoot, f), 'utf8');
      const calls = [...text.matchAll(/new UserError\('E_REGISTRY_AUTH',[^;]*/g)].map((m) => m[0]);
      expect(calls.length, f).toBeGreaterThan(0);
      for (const c of calls) expect(c, f).not.toContain('hint');
    }
    expect(new UserError('E_REGISTRY_AUTH', 'x').hint).toBe(SPARKCRAFT_ERRORS.E_REGISTRY_AUTH.hint);
  });

  it('an aggregate keeps each problem with its own hint, and adds none', () => {
    const a = new AggregateUserError([new UserError('E_TAG', 'tag "a b" is not valid'), new UserError('E_NO_CREDENTIALS', 'no credentials for r')]);
    expect(a.code).toBe('E_MANY');
    expect(a.oneLine()).toBe(`tag "a b" is not valid (${SPARKCRAFT_ERRORS.E_TAG.hint}); no credentials for r (${SPARKCRAFT_ERRORS.E_NO_CREDENTIALS.hint})`);
  });

  it("a Kubernetes API error's code and hint follow its status", () => {
    const cases: Array<[number, ErrorCode]> = [
      [0, 'E_K8S_CONNECT'],
      [401, 'E_K8S_401'],
      [403, 'E_K8S_403'],
      [404, 'E_K8S_404'],
      [409, 'E_K8S_409'],
      [422, 'E_K8S_422'],
      [500, 'E_K8S_HTTP'],
      [429, 'E_K8S_HTTP'],
    ];
    for (const [status, code] of cases) {
      const e = new KubeApiError(status, undefined, `Kubernetes API: HTTP ${status}`);
      expect([e.code, e.hint, e.exitCode]).toEqual([code, ERRORS[code].hint, 1]);
    }
    expect(new KubeApiError(0, 'ECONNREFUSED', 'refused', 'is the cluster running?').hint).toBe('is the cluster running?');
  });
});
