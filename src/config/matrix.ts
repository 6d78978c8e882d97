/**
 * Load and validate matrix.yaml (its JSON Schema, src/config/schema.ts, then the cross-checks), and
 * resolve one release cell (line × flavour × architecture × Java, at a risk) into every derived name.
 * Pure apart from reading the file. Validation errors name the key path and the reason.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';
import { parse as parseYaml } from 'yaml';
import { AggregateUserError, UserError } from '../lib/errors.ts';
import { projectRoot } from '../lib/paths.ts';
import { compileSchema } from '../lib/schema.ts';
import { ARCHITECTURES, hostArch } from '../lib/arch.ts';
import { FORMATS } from './formats.ts';
import { matrixSchema } from './schema.ts';
import type { FlavourSpec, JarSpec, LineSpec, Matrix, PypiSpec, ResolvedLine, Risk } from './types.ts';

export { hostArch } from '../lib/arch.ts';

export const RISKS: Risk[] = ['edge', 'beta', 'candidate', 'stable'];
export const DEFAULT_MATRIX = join(projectRoot, 'matrix.yaml');

const validateShape = compileSchema(matrixSchema, FORMATS);

/** `_2.12` / `_2.13` at the end of a Maven artifact: the Scala it is built for. */
const scalaOf = (artifact: string) => /_(2\.1[0-9])$/.exec(artifact)?.[1];

/**
 * What a schema cannot say about a matrix of the right shape (each problem with its key path): tracks
 * listed twice or outside their Spark, bases that do not pair, flavours over a missing or a layered
 * flavour, per-line additions for a line that does not offer the flavour, jars built for another
 * Scala, Java versions without a Debian suite, architectures the toolchain does not know.
 */
function crossChecks(m: Matrix): string[] {
  const p: string[] = [];
  for (const a of m.architectures)
    if (!ARCHITECTURES[a]) p.push(`architectures: ${a} is not one of ${Object.keys(ARCHITECTURES).join(', ')} (src/lib/arch.ts)`);
  for (const [name, f] of Object.entries(m.flavours)) {
    const path = `flavours.${name}`;
    if (f.name !== undefined && f.name !== name) p.push(`${path}.name must equal the key "${name}"`);
    if (f.over !== undefined) {
      const base = m.flavours[f.over];
      if (!base) p.push(`${path}.over must name another flavour`);
      else if (base.over !== undefined) p.push(`${path}.over names ${f.over}, which is itself layered over another flavour`);
    }
    if (f.available === false && !f.reason) p.push(`${path}.reason must say why the flavour is unavailable`);
    if (f.versionOf && f.tagVersion) p.push(`${path}: tagVersion and versionOf are two version rules; keep one`);
    const hasPypi = (f.pypi?.length ?? 0) > 0 || Object.values(f.lines ?? {}).some((l) => (l.pypi?.length ?? 0) > 0);
    if (hasPypi && !f.wheelPython) p.push(`${path}.wheelPython must be "3.N" (the Python its wheels are resolved for)`);
    if (f.entrypointService && !f.services?.[f.entrypointService]) p.push(`${path}.entrypointService ${f.entrypointService} is not one of its services`);
    for (const t of Object.keys(f.lines ?? {})) {
      const l = m.lines.find((x) => x.track === t);
      if (!l) p.push(`${path}.lines.${t}: no line ${t} in lines`);
      else if (!l.flavours.includes(name)) p.push(`${path}.lines.${t}: line ${t} does not offer ${name}`);
    }
  }
  const tracks = new Set<string>();
  m.lines.forEach((l, i) => {
    const path = `lines[${i}]`;
    if (!semver.satisfies(l.spark, `${l.track}.x`)) p.push(`${path}.spark ${l.spark} is not in track ${l.track}`);
    if (tracks.has(l.track)) p.push(`${path}.track ${l.track} is listed twice`);
    tracks.add(l.track);
    if (l.rock.base.slice(-5, -3) !== l.snap.base.slice(-2)) p.push(`${path}.snap.base ${l.snap.base} does not match rock base ${l.rock.base}`);
    if (l.distribution.pypi.name !== 'pyspark' || l.distribution.pypi.version !== l.spark)
      p.push(`${path}.distribution must name pypi: {name: pyspark, version: ${l.spark}}`);
    for (const f of l.flavours) if (!m.flavours[f]) p.push(`${path}.flavours: ${f} is not among ${Object.keys(m.flavours).join(', ')}`);
    for (const s of Object.keys(l.unavailableServices ?? {}))
      if (!l.flavours.some((f) => m.flavours[f]?.services?.[s]?.needs))
        p.push(`${path}.unavailableServices: ${s} is no service with \`needs\` of the line's flavours`);
    for (const j of l.java) if (!m.project.debianSuites[String(j)]) p.push(`${path}.java: Java ${j} has no Debian suite in project.debianSuites`);
    // s3a is hadoop-aws of the very Hadoop the distribution ships (hadoop-client-api/-runtime; stage checks it).
    l.jars.forEach((j, k) => {
      if (j.group === 'org.apache.hadoop' && j.artifact === 'hadoop-aws' && j.version !== l.hadoop)
        p.push(`${path}.jars[${k}] hadoop-aws ${j.version} is not the line's Hadoop ${l.hadoop}`);
    });
    const jarsOf: Array<[string, JarSpec[]]> = [[`${path}.jars`, l.jars]];
    for (const f of l.flavours) {
      const fl = m.flavours[f];
      if (fl) jarsOf.push([`flavours.${f}.jars`, fl.jars ?? []], [`flavours.${f}.lines.${l.track}.jars`, fl.lines?.[l.track]?.jars ?? []]);
    }
    for (const [where, jars] of jarsOf) {
      jars.forEach((j, k) => {
        const s = scalaOf(j.artifact);
        if (s && s !== l.scala) p.push(`${where}[${k}].artifact ${j.artifact} is built for Scala ${s}, line ${l.track} for ${l.scala}`);
      });
    }
  });
  if (!tracks.has(m.defaultLine)) p.push(`defaultLine ${m.defaultLine} is not a listed track`);
  return p;
}

/** Check a parsed matrix: its shape against the schema, then what the schema cannot say; every problem at once. */
export function validateMatrix(raw: unknown, where = 'matrix.yaml'): Matrix {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new UserError('E_MATRIX', `${where} must be a YAML mapping`);
  const shape = validateShape(raw);
  const p = shape.length ? shape : crossChecks(raw as Matrix);
  if (p.length) throw new AggregateUserError(p.map((m) => new UserError('E_MATRIX', `${where}: ${m}`)));
  const m = raw as Matrix;
  for (const [name, f] of Object.entries(m.flavours)) f.name ??= name;
  return m;
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

export function flavourAvailable(f: FlavourSpec): boolean {
  return f.available !== false;
}

/**
 * The tag scheme of the reference rocks: `<version>-<base>_<risk>` (immutable; the version carries
 * the flavour's own version), `<track>-<base>_<risk>` (moving), and on stable also `<track>-<base>`.
 * A Java variant other than the line's default carries its Java as apache/spark-docker names it,
 * after the version (`4.1.4-java17-24.04_edge`, `4.1-java17-24.04_edge`); the default's tags carry none.
 */
export function imageTags(version: string, track: string, baseVersion: string, risk: Risk, java?: number): string[] {
  const j = java === undefined ? '' : `-java${java}`;
  const tags = [`${version}${j}-${baseVersion}_${risk}`, `${track}${j}-${baseVersion}_${risk}`];
  if (risk === 'stable') tags.push(`${track}${j}-${baseVersion}`);
  return tags;
}

/**
 * A flavour's inputs on one line (pure): its own jars and requirements, then the line's additions. On an
 * architecture, a jar with `classifiers` is that architecture's file (its classifier, or the plain jar).
 */
export function flavourInputsOn(f: FlavourSpec, line: LineSpec, arch?: string): { jars: JarSpec[]; pypi: PypiSpec[]; settings: Record<string, string> } {
  const on = f.lines?.[line.track];
  const jars = [...(f.jars ?? []), ...(on?.jars ?? [])].map(({ classifiers, ...j }) => {
    const c = arch === undefined ? undefined : classifiers?.[arch];
    return c ? { ...j, classifier: c } : j;
  });
  return { jars, pypi: [...(f.pypi ?? []), ...(on?.pypi ?? [])], settings: { ...(on?.settings ?? {}) } };
}

/**
 * The flavour's own version, the second part of its immutable tag (`<spark>-<this>-<base>_<risk>`),
 * by its rule: a fixed `tagVersion`, or the version of its first jar or first requirement on the line.
 */
export function flavourVersionOf(f: FlavourSpec, line: LineSpec): string | undefined {
  if (!f.versionOf) return f.tagVersion;
  const inputs = flavourInputsOn(f, line);
  const first = f.versionOf === 'jars' ? inputs.jars[0] : inputs.pypi[0];
  if (!first)
    throw new UserError('E_MATRIX', `flavour ${f.name} takes its version from its ${f.versionOf}, and has none on Spark ${line.track}`, {
      hint: `add ${f.versionOf} to flavours.${f.name}.lines.${line.track} in matrix.yaml`,
    });
  return first.version;
}

/** What a cell is asked for: each has a default (the matrix's line, the base flavour, the matrix's risk, this host, the line's first Java). */
export interface CellSelector {
  line?: string;
  flavour?: string;
  risk?: Risk;
  arch?: string;
  java?: number;
}

/** Every derived name of one release cell (line × flavour × architecture × Java, at a risk): the one place they are computed. */
export function resolveLine(m: Matrix, sel: CellSelector = {}): ResolvedLine {
  const track = sel.line ?? m.defaultLine;
  const line = m.lines.find((l) => l.track === track || l.spark === track);
  if (!line)
    throw new UserError('E_LINE', `no Spark line "${track}" in the release matrix`, { hint: `known lines: ${m.lines.map((l) => l.track).join(', ')}` });
  // The default flavour is the base image: the first flavour layered over none.
  const flavourName = sel.flavour ?? Object.entries(m.flavours).find(([, f]) => !f.over)![0];
  const flavour = m.flavours[flavourName];
  if (!flavour || !line.flavours.includes(flavourName)) {
    throw new UserError('E_FLAVOUR', `flavour "${flavourName}" is not offered for Spark ${line.track}`, { hint: `offered: ${line.flavours.join(', ')}` });
  }
  const risk = sel.risk ?? m.defaultRisk;
  if (!RISKS.includes(risk)) throw new UserError('E_RISK', `unknown risk "${risk}"`, { hint: `one of ${RISKS.join(', ')}` });
  const arch = sel.arch ?? hostArch();
  const names = ARCHITECTURES[arch];
  if (!names || !m.architectures.includes(arch)) {
    throw new UserError('E_ARCH', `architecture "${arch}" is not built by this matrix`, { hint: `architectures: ${m.architectures.join(', ')}` });
  }
  const java = sel.java ?? line.java[0]!;
  if (!line.java.includes(java)) throw new UserError('E_JAVA', `Spark ${line.track} is not built with Java ${java}`, { hint: `java: ${line.java.join(', ')}` });
  const defaultJava = java === line.java[0];
  const suite = m.project.debianSuites[String(java)]!;
  // A flavour's wheels are locked for one Python: a cell whose suite has another cannot take them.
  if (flavour.wheelPython && flavour.wheelPython !== suite.python)
    throw new UserError(
      'E_FLAVOUR',
      `flavour ${flavourName}'s wheels are locked for Python ${flavour.wheelPython}, and Spark ${line.track} with Java ${java} is built on Debian ${suite.suite}, whose python3 is ${suite.python}`,
      {
        hint: `build it with Java ${line.java.filter((j) => m.project.debianSuites[String(j)]?.python === flavour.wheelPython).join(' or ') || "(none of the line's)"}`,
      },
    );
  const baseVersion = line.rock.base.split('@')[1]!;
  const flavourVersion = flavourVersionOf(flavour, line);
  const version = flavourVersion ? `${line.spark}-${flavourVersion}` : line.spark;
  const base = flavour.over ? resolveLine(m, { line: line.track, flavour: flavour.over, risk, arch, java }) : undefined;
  const tags = imageTags(version, line.track, baseVersion, risk, defaultJava ? undefined : java);
  const variant = `${arch}-java${java}`;
  const build = `build/${line.track}/${flavour.name}/${variant}`;
  const javaSuffix = defaultJava ? '' : `-java${java}`;
  return {
    project: m.project,
    line,
    flavour: withoutUnavailable(flavour, line),
    risk,
    baseVersion,
    version,
    ...(flavourVersion ? { flavourVersion } : {}),
    ...(base ? { base } : {}),
    arch,
    // One platform per manifest: its JAVA_HOME (and the snap's) is the architecture's, which a craft
    // manifest's environment cannot vary by platform; each architecture's is rendered and built on its own.
    architectures: [arch],
    platform: { oci: names.oci, go: names.go, bun: names.bun, pip: names.pip, triplet: names.triplet },
    java,
    javaHome: `/usr/lib/jvm/java-${java}-openjdk-${arch}`,
    defaultJava,
    debianSuite: suite.suite,
    python: suite.python,
    cds: suite.cds === true,
    inputs: flavourInputsOn(flavour, line, arch),
    key: `${line.track}/${flavour.name}/${variant}`,
    image: { registry: m.project.registry, name: flavour.image, tags, ref: `${m.project.registry}/${flavour.image}:${tags[1]}` },
    snap: { name: m.project.snapName, version: line.spark, channel: `${line.track}/${risk}` },
    paths: {
      build,
      inputs: `${build}/inputs`,
      rock: `dist/${flavour.image}_${version}${javaSuffix}_${arch}.rock`,
      snap: `dist/${m.project.snapName}_${line.spark}${javaSuffix}_${arch}.snap`,
      examplesJar: `/opt/spark/examples/jars/spark-examples_${line.scala}-${line.spark}.jar`,
      thriftAuthJar: `/opt/spark/jars/sparkcraft-thriftserver-auth-${line.spark}.jar`,
    },
  };
}

/** The flavour as the line's rock has it: without the services the line marks unavailable. */
function withoutUnavailable(f: FlavourSpec, line: LineSpec): FlavourSpec {
  const gone = Object.keys(line.unavailableServices ?? {});
  if (!f.services || !gone.some((s) => f.services![s])) return f;
  return { ...f, services: Object.fromEntries(Object.entries(f.services).filter(([s]) => !gone.includes(s))) };
}

/** Whether LINE's rock has SERVICE: a flavour of the line declares it and the line does not mark it unavailable. */
export const lineHasService = (m: Matrix, line: LineSpec, service: string): boolean =>
  !line.unavailableServices?.[service] && line.flavours.some((f) => m.flavours[f]?.services?.[service]);

/**
 * A service of the line's rock, or a one-line refusal naming the service and the line's evidence (the
 * `manifest` command asks before printing a server's objects).
 */
export function serviceOn(m: Matrix, track: string | undefined, service: string): { line: LineSpec } {
  const line = m.lines.find((l) => l.track === (track ?? m.defaultLine));
  if (!line)
    throw new UserError('E_LINE', `no Spark line "${track}" in the release matrix`, { hint: `known lines: ${m.lines.map((l) => l.track).join(', ')}` });
  const why = line.unavailableServices?.[service];
  if (why)
    throw new UserError('E_SERVICE', `Spark ${line.track}'s rock has no ${service} service: ${why}`, {
      hint: `lines that have it: ${
        m.lines
          .filter((l) => lineHasService(m, l, service))
          .map((l) => l.track)
          .join(', ') || 'none'
      }`,
    });
  if (!lineHasService(m, line, service)) throw new UserError('E_SERVICE', `no flavour of Spark ${line.track} has a ${service} service`);
  return { line };
}

/** Every cell of the matrix at one risk: each line's available flavours × the architectures × the line's Java versions. */
export function allCells(m: Matrix, risk?: Risk): ResolvedLine[] {
  return m.lines.flatMap((l) =>
    l.flavours
      .filter((f) => flavourAvailable(m.flavours[f]!))
      .flatMap((flavour) => m.architectures.flatMap((arch) => l.java.map((java) => resolveLine(m, { line: l.track, flavour, risk, arch, java })))),
  );
}

/** Load the matrix and resolve the selected cell: what every step starts from. */
export function selectLine(file: string, sel: CellSelector = {}): { matrix: Matrix; resolved: ResolvedLine } {
  const matrix = loadMatrix(file);
  return { matrix, resolved: resolveLine(matrix, sel) };
}

/** Maven's file name of a jar: `<artifact>-<version>[-<classifier>].jar`. */
export const mavenFileName = (j: { artifact: string; version: string; classifier?: string | undefined }): string =>
  `${j.artifact}-${j.version}${j.classifier ? `-${j.classifier}` : ''}.jar`;

export function mavenUrl(j: JarSpec, repo = 'https://repo1.maven.org/maven2'): string {
  return `${repo}/${j.group.replace(/\./g, '/')}/${j.artifact}/${j.version}/${mavenFileName(j)}`;
}
