/**
 * Maven, for one thing: resolving a line's jar roots (matrix.yaml `lines[].jars`) into their runtime
 * closure once (`npm run lock`), with Maven's own resolver — `dependency:list` of a generated pom, nearest
 * version wins, exclusions and optional dependencies as Maven applies them — leaving out what each root
 * excludes and what the line's distribution already ships (`provided`). Nothing is built or installed;
 * the lock then fetches each jar of the closure and pins its sha256. The licences come from the poms the
 * resolver downloaded (each artifact's or its nearest parent's `<licenses>`), unless a root names its own.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../errors.ts';
import { temporary } from '../interrupt.ts';
import { run, type Command } from './run.ts';

export const MVN = 'mvn';
/** Pinned: the resolution is the plugin's as much as Maven's. */
export const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';

export interface Coordinate {
  group: string;
  artifact: string;
  version: string;
  classifier?: string;
}
export interface Root extends Coordinate {
  /** `group:artifact` (artifact may be `*`) left out of this root's closure. */
  exclude?: string[];
}
export interface Resolved extends Coordinate {
  license: string;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const ga = (c: { group: string; artifact: string }) => `${c.group}:${c.artifact}`;

/** Pure: a pom whose dependencies are `roots`, each excluding its own exclusions and everything `provided`. */
export function closurePom(roots: Root[], provided: string[]): string {
  const dep = (r: Root) => {
    const ex = [...new Set([...(r.exclude ?? []), ...provided])].sort().map((x) => {
      const [g, a] = x.split(':');
      return `<exclusion><groupId>${esc(g!)}</groupId><artifactId>${esc(a!)}</artifactId></exclusion>`;
    });
    return [
      '    <dependency>',
      `      <groupId>${esc(r.group)}</groupId><artifactId>${esc(r.artifact)}</artifactId><version>${esc(r.version)}</version>`,
      ...(r.classifier ? [`      <classifier>${esc(r.classifier)}</classifier>`] : []),
      ...(ex.length ? [`      <exclusions>${ex.join('')}</exclusions>`] : []),
      '    </dependency>',
    ].join('\n');
  };
  return [
    '<project xmlns="http://maven.apache.org/POM/4.0.0">',
    '  <modelVersion>4.0.0</modelVersion>',
    '  <groupId>local.sparkcraft</groupId><artifactId>closure</artifactId><version>0</version><packaging>pom</packaging>',
    '  <dependencies>',
    ...roots.map(dep),
    '  </dependencies>',
    '</project>',
    '',
  ].join('\n');
}

/** Pure: the resolving command (batch, quiet, into `out`, with the local repository `repo`). */
export function listCommand(pomDir: string, repo: string, out: string): Command {
  return [
    MVN,
    [
      '-B',
      '-q',
      '--no-transfer-progress',
      '-f',
      join(pomDir, 'pom.xml'),
      `-Dmaven.repo.local=${repo}`,
      `${DEPENDENCY_PLUGIN}:list`,
      `-DoutputFile=${out}`,
      '-DincludeScope=runtime',
      '-DexcludeTypes=pom',
      '-Dsort=true',
    ],
  ];
}

/**
 * Pure: the artifacts of `dependency:list`'s output (`group:artifact:type[:classifier]:version:scope`, maybe
 * followed by ` -- module …`), sorted by group and artifact.
 */
export function parseList(text: string): Coordinate[] {
  const out: Coordinate[] = [];
  for (const raw of text.split('\n')) {
    const m = raw.trim().match(/^([\w.-]+):([\w.-]+):([\w.-]+):(?:([\w.-]+):)?([\w.+-]+):(compile|runtime)(?:\s|$)/);
    if (!m) continue;
    if (m[3] !== 'jar') continue;
    out.push({ group: m[1]!, artifact: m[2]!, version: m[5]!, ...(m[4] ? { classifier: m[4] } : {}) });
  }
  return out.sort((a, b) => ga(a).localeCompare(ga(b)));
}

const SPDX: Array<[RegExp, string]> = [
  [/apache.*2(\.0)?|^asl\s*2/i, 'Apache-2.0'],
  [/^mit-0$|mit no attribution/i, 'MIT-0'],
  [/^(the )?mit( license)?$/i, 'MIT'],
  [/eclipse public license.*2\.0|^epl-2\.0$/i, 'EPL-2.0'],
  [/eclipse public license.*1\.0|^epl-1\.0$/i, 'EPL-1.0'],
  [/^(the )?(new )?bsd( 3-clause| license 3| license)?$|bsd-3-clause/i, 'BSD-3-Clause'],
  [/bsd-2-clause|simplified bsd/i, 'BSD-2-Clause'],
  [/cddl.*1\.1/i, 'CDDL-1.1'],
  [/^public domain$|^cc0/i, 'CC0-1.0'],
];

/** Pure: an SPDX identifier for a pom's licence name (and URL), or undefined when it is not one we know. */
export function spdxOf(name: string, url = ''): string | undefined {
  const n = name.trim();
  for (const [re, id] of SPDX) if (re.test(n)) return id;
  if (/spdx\.org\/licenses\/([A-Za-z0-9.+-]+)/.test(url)) return url.match(/spdx\.org\/licenses\/([A-Za-z0-9.+-]+?)(\.html)?$/)?.[1];
  if (/apache\.org\/licenses\/LICENSE-2\.0/.test(url)) return 'Apache-2.0';
  return undefined;
}

/** Pure: a pom's first licence (name, url) and its parent's coordinate. */
export function pomFacts(xml: string): { license?: { name: string; url: string }; parent?: Coordinate } {
  const body = xml.replace(/<!--[\s\S]*?-->/g, '');
  const lic = body.match(/<licenses>\s*<license>([\s\S]*?)<\/license>/);
  const tag = (s: string, t: string) => s.match(new RegExp(`<${t}>\\s*([^<]*?)\\s*</${t}>`))?.[1];
  const par = body.match(/<parent>([\s\S]*?)<\/parent>/)?.[1];
  return {
    ...(lic ? { license: { name: tag(lic[1]!, 'name') ?? '', url: tag(lic[1]!, 'url') ?? '' } } : {}),
    ...(par ? { parent: { group: tag(par, 'groupId')!, artifact: tag(par, 'artifactId')!, version: tag(par, 'version')! } } : {}),
  };
}

const pomPath = (repo: string, c: Coordinate) => join(repo, ...c.group.split('.'), c.artifact, c.version, `${c.artifact}-${c.version}.pom`);

/** I/O (the local repository): the licence of `c` from its pom or its parents'. */
function licenseIn(repo: string, c: Coordinate): string {
  let at: Coordinate | undefined = c;
  for (let depth = 0; at && depth < 8; depth++) {
    const file = pomPath(repo, at);
    if (!existsSync(file)) break;
    const f = pomFacts(readFileSync(file, 'utf8'));
    if (f.license) {
      const id = spdxOf(f.license.name, f.license.url);
      if (id) return id;
      throw new UserError(
        'E_LOCK_LICENSE',
        `${ga(c)} ${c.version}: its pom's licence "${f.license.name}" (${f.license.url}) is not one sparkcraft maps to SPDX`,
        {
          hint: 'name the artifact as a root of the line in matrix.yaml with its `license`',
        },
      );
    }
    at = f.parent;
  }
  throw new UserError('E_LOCK_LICENSE', `${ga(c)} ${c.version}: no licence in its pom or its parents'`, {
    hint: 'name the artifact as a root of the line in matrix.yaml with its `license`',
  });
}

/**
 * Resolve `roots` (each with its licence) into their runtime closure, without `provided` (`group:artifact`);
 * `repo` is Maven's local repository (a cache directory). Every root is in the result.
 */
export async function resolveClosure(roots: Array<Root & { license: string }>, provided: string[], repo: string): Promise<Resolved[]> {
  const dir = temporary(mkdtempSync(join(tmpdir(), 'sparkcraft-mvn-')));
  try {
    writeFileSync(join(dir, 'pom.xml'), closurePom(roots, provided));
    const out = join(dir, 'list.txt');
    const r = await run(listCommand(dir, repo, out), { timeoutMs: 900_000 });
    if (r.missing) throw new UserError('E_TOOL', `${MVN} (Maven) is not installed`, { hint: 'run `npm run setup` (installs Debian maven)' });
    if (r.exitCode !== 0) {
      const why =
        `${r.stdout}\n${r.stderr}`
          .split('\n')
          .find((l) => l.includes('[ERROR]'))
          ?.replace(/.*\[ERROR\]\s*/, '') ?? `exit ${r.exitCode}`;
      throw new UserError('E_LOCK_RESOLVE', `Maven could not resolve ${roots.map((x) => `${ga(x)}:${x.version}`).join(' ')}: ${why.slice(0, 300)}`, {
        hint: 'check the roots and exclusions in matrix.yaml',
      });
    }
    const list = parseList(readFileSync(out, 'utf8'));
    const missing = roots.filter((x) => !list.some((c) => ga(c) === ga(x) && c.version === x.version));
    if (missing.length)
      throw new UserError('E_LOCK_RESOLVE', `Maven's closure lacks the roots ${missing.map((x) => `${ga(x)}:${x.version}`).join(', ')}`, {
        hint: 'a root excluded by another root or listed as provided: fix matrix.yaml',
      });
    return list.map((c) => ({ ...c, license: roots.find((x) => ga(x) === ga(c))?.license ?? licenseIn(repo, c) }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
