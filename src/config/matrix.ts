/**
 * Load and validate matrix.yaml, and resolve one line × flavour × risk into every derived name.
 * Pure apart from reading the file. Validation errors name the key path and the reason.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';
import { parse as parseYaml } from 'yaml';
import { AggregateUserError, UserError } from '../lib/errors.ts';
import { projectRoot } from '../lib/paths.ts';
import type { FlavourSpec, JarSpec, LineSpec, Matrix, ResolvedLine, Risk } from './types.ts';

export const RISKS: Risk[] = ['edge', 'beta', 'candidate', 'stable'];
export const DEFAULT_MATRIX = join(projectRoot, 'matrix.yaml');

type Problems = string[];
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function need(p: Problems, obj: Record<string, unknown>, key: string, path: string, check: (v: unknown) => string | undefined): void {
  const why = obj[key] === undefined ? 'is required' : check(obj[key]);
  if (why) p.push(`${path}.${key} ${why}`);
}
const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? undefined : 'must be a non-empty string');
const ver = (v: unknown) => (typeof v === 'string' && semver.valid(v) ? undefined : `must be a semver version (got ${JSON.stringify(v)})`);
const oneOf = (xs: readonly string[]) => (v: unknown) =>
  typeof v === 'string' && xs.includes(v) ? undefined : `must be one of ${xs.join(', ')} (got ${JSON.stringify(v)})`;
const mavenId = /^[A-Za-z0-9_.-]+$/;

/** Check the shape of a parsed matrix; every problem is reported at once. */
export function validateMatrix(raw: unknown, where = 'matrix.yaml'): Matrix {
  const p: Problems = [];
  if (!isObj(raw)) throw new UserError('E_MATRIX', `${where} must be a YAML mapping`);
  need(p, raw, 'defaultLine', '', str);
  need(p, raw, 'defaultRisk', '', oneOf(RISKS));
  need(p, raw, 'risks', '', (v) => (Array.isArray(v) && v.every((r) => RISKS.includes(r as Risk)) ? undefined : `must list risks among ${RISKS.join(', ')}`));
  need(p, raw, 'project', '', (v) => (isObj(v) ? undefined : 'must be a mapping'));
  if (isObj(raw.project)) {
    const pr = raw.project;
    for (const k of ['registry', 'source', 'snapName', 'runUser']) need(p, pr, k, '.project', str);
    need(p, pr, 'uid', '.project', (v) => (Number.isInteger(v) && (v as number) > 0 ? undefined : 'must be a positive integer'));
    need(p, pr, 'pebble', '.project', (v) =>
      isObj(v) && typeof v.module === 'string' && typeof v.version === 'string' && semver.valid(v.version)
        ? undefined
        : 'must have module and a semver version',
    );
  }
  need(p, raw, 'flavours', '', (v) => (isObj(v) ? undefined : 'must be a mapping of flavour name to its description'));
  const flavours = isObj(raw.flavours) ? raw.flavours : {};
  for (const [name, f] of Object.entries(flavours)) {
    const path = `.flavours.${name}`;
    if (!isObj(f)) {
      p.push(`${path} must be a mapping`);
      continue;
    }
    need(p, f, 'image', path, (v) =>
      typeof v === 'string' && /^[a-z0-9]+([._-][a-z0-9]+)*$/.test(v) ? undefined : 'must be a lower-case OCI repository name',
    );
    if (f.name !== undefined && f.name !== name) p.push(`${path}.name must equal the key "${name}"`);
    if (f.over !== undefined) {
      const base = flavours[f.over as string];
      if (typeof f.over !== 'string' || !isObj(base)) p.push(`${path}.over must name another flavour`);
      else if (base.over !== undefined) p.push(`${path}.over names ${f.over}, which is itself layered over another flavour`);
    }
    if (f.available === false && (typeof f.reason !== 'string' || !f.reason)) p.push(`${path}.reason must say why the flavour is unavailable`);
    if (f.tagVersion !== undefined && (typeof f.tagVersion !== 'string' || !/^[0-9][0-9A-Za-z.]*$/.test(f.tagVersion)))
      p.push(`${path}.tagVersion must be a version string`);
    if (f.pypi !== undefined) {
      if (!Array.isArray(f.pypi)) p.push(`${path}.pypi must be a list`);
      else
        f.pypi.forEach((q: unknown, k: number) => {
          if (!isObj(q)) {
            p.push(`${path}.pypi[${k}] must be a mapping`);
            return;
          }
          need(p, q, 'name', `${path}.pypi[${k}]`, (v) => (typeof v === 'string' && /^[A-Za-z0-9._-]+$/.test(v) ? undefined : 'must be a PyPI project name'));
          need(p, q, 'version', `${path}.pypi[${k}]`, str);
          need(p, q, 'license', `${path}.pypi[${k}]`, str);
        });
      if (typeof f.wheelPython !== 'string' || !/^3\.\d+$/.test(f.wheelPython))
        p.push(`${path}.wheelPython must be "3.N" (the Python its wheels are resolved for)`);
    }
  }
  need(p, raw, 'lines', '', (v) => (Array.isArray(v) && v.length > 0 ? undefined : 'must be a non-empty list'));
  const lines = Array.isArray(raw.lines) ? raw.lines : [];
  const tracks = new Set<string>();
  lines.forEach((l: unknown, i: number) => {
    const path = `.lines[${i}]`;
    if (!isObj(l)) {
      p.push(`${path} must be a mapping`);
      return;
    }
    need(p, l, 'track', path, (v) => (typeof v === 'string' && /^\d+\.\d+$/.test(v) ? undefined : 'must be "<major>.<minor>" as a string'));
    need(p, l, 'spark', path, ver);
    if (typeof l.track === 'string' && typeof l.spark === 'string' && semver.valid(l.spark) && !semver.satisfies(l.spark, `${l.track}.x`))
      p.push(`${path}.spark ${l.spark} is not in track ${l.track}`);
    if (typeof l.track === 'string') {
      if (tracks.has(l.track)) p.push(`${path}.track ${l.track} is listed twice`);
      tracks.add(l.track);
    }
    need(p, l, 'scala', path, oneOf(['2.12', '2.13']));
    need(p, l, 'java', path, (v) => ([11, 17, 21].includes(v as number) ? undefined : 'must be 11, 17 or 21'));
    need(p, l, 'python', path, (v) => (typeof v === 'string' && /^3\.\d+$/.test(v) ? undefined : 'must be "3.N"'));
    need(p, l, 'hadoop', path, ver);
    need(p, l, 'py4j', path, (v) =>
      typeof v === 'string' && /^py4j-[\d.]+-src\.zip$/.test(v) ? undefined : 'must name the py4j zip, e.g. py4j-0.10.9.7-src.zip',
    );
    need(p, l, 'rock', path, (v) => (isObj(v) ? oneOf(['ubuntu@22.04', 'ubuntu@24.04'])(v.base) : 'must be a mapping'));
    need(p, l, 'snap', path, (v) => (isObj(v) ? oneOf(['core22', 'core24'])(v.base) : 'must be a mapping'));
    if (isObj(l.rock) && isObj(l.snap) && String(l.rock.base).slice(-5, -3) !== String(l.snap.base).slice(-2))
      p.push(`${path}.snap.base ${l.snap.base} does not match rock base ${l.rock.base}`);
    need(p, l, 'distribution', path, (v) =>
      isObj(v) && isObj(v.pypi) && v.pypi.name === 'pyspark' && v.pypi.version === l.spark ? undefined : 'must name pypi: {name: pyspark, version: <spark>}',
    );
    need(p, l, 'flavours', path, (v) =>
      Array.isArray(v) && v.every((f) => typeof f === 'string' && f in flavours) ? undefined : `must list flavours among ${Object.keys(flavours).join(', ')}`,
    );
    need(p, l, 'jars', path, (v) => (Array.isArray(v) ? undefined : 'must be a list'));
    if (Array.isArray(l.flavours) && l.flavours.includes('gpu')) {
      need(p, l, 'rapids', path, (v) =>
        isObj(v) &&
        typeof v.group === 'string' &&
        typeof v.artifact === 'string' &&
        typeof v.version === 'string' &&
        typeof v.license === 'string' &&
        typeof v.shim === 'string' &&
        /^spark\d{3}$/.test(v.shim)
          ? undefined
          : 'must name the RAPIDS jar (group, artifact, version, license) and its shim (sparkNNN)',
      );
      if (isObj(l.rapids) && typeof l.scala === 'string' && typeof l.rapids.artifact === 'string' && !l.rapids.artifact.endsWith(`_${l.scala}`))
        p.push(`${path}.rapids.artifact ${l.rapids.artifact} is not built for Scala ${l.scala}`);
    }
    (Array.isArray(l.jars) ? l.jars : []).forEach((j: unknown, k: number) => {
      const jp = `${path}.jars[${k}]`;
      if (!isObj(j)) {
        p.push(`${jp} must be a mapping`);
        return;
      }
      for (const key of ['group', 'artifact', 'version'])
        need(p, j, key, jp, (v) => (typeof v === 'string' && mavenId.test(v) ? undefined : 'must be a Maven coordinate part'));
      need(p, j, 'license', jp, str);
    });
  });
  if (typeof raw.defaultLine === 'string' && !tracks.has(raw.defaultLine)) p.push(`.defaultLine ${raw.defaultLine} is not a listed track`);
  if (p.length) throw new AggregateUserError(p.map((m) => new UserError('E_MATRIX', `${where}: ${m.replace(/^\./, '')}`)));
  return raw as unknown as Matrix;
}

export function loadMatrix(file: string = DEFAULT_MATRIX): Matrix {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError('E_MATRIX', `cannot read release matrix ${file} (${(e as NodeJS.ErrnoException).code})`, {
      hint: 'run from the project root or pass --matrix',
    });
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new UserError('E_MATRIX', `${file} is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  return validateMatrix(raw, file);
}

/** Lines sorted newest first (semver). */
export function sortedLines(m: Matrix): LineSpec[] {
  return [...m.lines].sort((a, b) => semver.rcompare(a.spark, b.spark));
}

export function flavourAvailable(f: FlavourSpec & { available?: boolean }): boolean {
  return f.available !== false;
}

/** Debian's name for the architecture of this host (Node's `x64` is `amd64`). */
export function hostArch(nodeArch: string = process.arch): string {
  return ({ x64: 'amd64', arm64: 'arm64', ppc64: 'ppc64el', s390x: 's390x', riscv64: 'riscv64' } as Record<string, string>)[nodeArch] ?? nodeArch;
}

/**
 * The tag scheme of the reference rocks: `<version>-<base>_<risk>` (immutable; the version carries
 * the flavour's tagVersion), `<track>-<base>_<risk>` (moving), and on stable also `<track>-<base>`.
 */
export function imageTags(version: string, track: string, baseVersion: string, risk: Risk): string[] {
  const tags = [`${version}-${baseVersion}_${risk}`, `${track}-${baseVersion}_${risk}`];
  if (risk === 'stable') tags.push(`${track}-${baseVersion}`);
  return tags;
}

/**
 * The flavour's own version, the second part of its immutable tag (`<spark>-<this>-<base>_<risk>`):
 * the gpu flavour's is the RAPIDS jar's version of the line; others name theirs as tagVersion.
 */
export function flavourVersionOf(f: FlavourSpec, line: LineSpec): string | undefined {
  if (f.name === 'gpu') return line.rapids?.version;
  return f.tagVersion;
}

/** Every derived name of one line × flavour × risk: the one place they are computed. */
export function resolveLine(m: Matrix, sel: { line?: string; flavour?: string; risk?: Risk; arch?: string } = {}): ResolvedLine {
  const track = sel.line ?? m.defaultLine;
  const line = m.lines.find((l) => l.track === track || l.spark === track);
  if (!line)
    throw new UserError('E_LINE', `no Spark line "${track}" in the release matrix`, { hint: `known lines: ${m.lines.map((l) => l.track).join(', ')}` });
  const flavourName = sel.flavour ?? 'spark';
  const flavour = m.flavours[flavourName] as (FlavourSpec & { available?: boolean; reason?: string }) | undefined;
  if (!flavour || !line.flavours.includes(flavourName)) {
    throw new UserError('E_FLAVOUR', `flavour "${flavourName}" is not offered for Spark ${line.track}`, { hint: `offered: ${line.flavours.join(', ')}` });
  }
  const risk = sel.risk ?? m.defaultRisk;
  if (!RISKS.includes(risk)) throw new UserError('E_RISK', `unknown risk "${risk}"`, { hint: `one of ${RISKS.join(', ')}` });
  const arch = sel.arch ?? hostArch();
  const baseVersion = line.rock.base.split('@')[1]!;
  const flavourVersion = flavourVersionOf(flavour, line);
  const version = flavourVersion ? `${line.spark}-${flavourVersion}` : line.spark;
  const base = flavour.over ? resolveLine(m, { line: line.track, flavour: flavour.over, risk, arch }) : undefined;
  const tags = imageTags(version, line.track, baseVersion, risk);
  const build = `build/${line.track}/${flavour.name}`;
  return {
    project: m.project,
    line,
    flavour,
    risk,
    baseVersion,
    version,
    ...(flavourVersion ? { flavourVersion } : {}),
    ...(base ? { base } : {}),
    arch,
    image: { registry: m.project.registry, name: flavour.image, tags, ref: `${m.project.registry}/${flavour.image}:${tags[1]}` },
    snap: { name: m.project.snapName, version: line.spark, channel: `${line.track}/${risk}` },
    paths: {
      build,
      inputs: `${build}/inputs`,
      rock: `dist/${flavour.image}_${version}_${arch}.rock`,
      snap: `dist/${m.project.snapName}_${line.spark}_${arch}.snap`,
    },
  };
}

/** Load the matrix and resolve the selected line: what every step starts from. */
export function selectLine(file: string, sel: { line?: string; flavour?: string; risk?: Risk } = {}): { matrix: Matrix; resolved: ResolvedLine } {
  const matrix = loadMatrix(file);
  return { matrix, resolved: resolveLine(matrix, sel) };
}

/** The RAPIDS shim named after a Spark version, as the jar's folders are: `3.4.4` → `spark344`. */
export const exactShim = (spark: string) => `spark${spark.split('.').join('')}`;

/**
 * The shims-provider override a line's gpu flavour needs (pure): the provider class of its shim when
 * that is not the line's own version (the plugin matches Spark's version exactly and refuses any
 * other unless told which shim to use), else undefined.
 */
export function rapidsShimOverride(line: LineSpec): string | undefined {
  const shim = line.rapids?.shim;
  if (!shim || shim === exactShim(line.spark)) return undefined;
  return `com.nvidia.spark.rapids.shims.${shim}.SparkShimServiceProvider`;
}

export function mavenUrl(j: JarSpec, repo = 'https://repo1.maven.org/maven2'): string {
  const file = `${j.artifact}-${j.version}${j.classifier ? `-${j.classifier}` : ''}.jar`;
  return `${repo}/${j.group.replace(/\./g, '/')}/${j.artifact}/${j.version}/${file}`;
}
