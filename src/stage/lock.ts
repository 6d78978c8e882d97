/**
 * The lock file (`sparkcraft.lock.json`): every input of every line pinned by URL and sha256.
 * `npm run lock` refreshes it on purpose; stage and build only read it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsPlugin from 'ajv-formats';
import semver from 'semver';
import { UserError } from '../lib/errors.ts';
import { log } from '../lib/log.ts';
import { projectRoot } from '../lib/paths.ts';
import { writeFileAtomic } from '../lib/fsx.ts';
import { flavourInputsOn, mavenFileName, mavenUrl } from '../config/matrix.ts';
import { ARCHITECTURES } from '../lib/arch.ts';
import { addSparkcraftFormats } from '../config/formats.ts';
import lockSchema from '../config/schemas/lock.schema.json' with { type: 'json' };
import type { FlavourSpec, JarSpec, LineSpec, Matrix } from '../config/types.ts';
import { resolveWheels } from '../lib/tools/pip.ts';
import { resolveClosure } from '../lib/tools/maven.ts';
import { fileDigest } from '../lib/hash.ts';
import { fetchUnpinned } from './fetch.ts';

export const LOCK_FILE = join(projectRoot, 'sparkcraft.lock.json');

export type InputKind = 'pypi' | 'maven' | 'go' | 'wheel';
export interface LockedInput {
  id: string;
  kind: InputKind;
  name: string;
  version: string;
  url: string;
  sha256: string;
  license: string;
}
export interface LockFile {
  lockVersion: 1;
  inputs: Record<string, LockedInput>;
  lines: Record<string, string[]>;
  /** The inputs of each layered flavour of a line on each architecture (`3.5/jupyter/amd64`), apart from the base's. */
  flavours?: Record<string, string[]>;
  /** What each line's jar closure (its ids in `lines`) was resolved from: see closureRequest. */
  closures?: Record<string, ClosureRequest>;
}
/** A line's jar roots (`group:artifact:version[:classifier]`, each followed by ` -excluded` ones) and what its distribution provides. */
export interface ClosureRequest {
  roots: string[];
  provided: string[];
}

/** Pure: what Maven resolves a line's jars from, as the lock records it (a change of it makes the lock stale). */
export function closureRequest(line: LineSpec): ClosureRequest {
  return {
    roots: line.jars.map(
      (j) =>
        `${j.group}:${j.artifact}:${j.version}${j.classifier ? `:${j.classifier}` : ''}${[...(j.exclude ?? [])]
          .sort()
          .map((x) => ` -${x}`)
          .join('')}`,
    ),
    provided: [...(line.provided ?? [])].sort(),
  };
}
const sameRequest = (a: ClosureRequest | undefined, b: ClosureRequest) => !!a && JSON.stringify(a) === JSON.stringify(b);

/** PEP 503's normal form of a Python project name. */
export const normalName = (n: string) => n.toLowerCase().replace(/[-_.]+/g, '-');
export const wheelId = (name: string, version: string) => `wheel:${normalName(name)}@${version}`;

/** Pure: the platform tag of a wheel's file name (`…-cp310-abi3-manylinux_2_28_x86_64.whl`), `any` for a pure one. */
export function wheelPlatform(url: string): string {
  const file = decodeURIComponent(url.split('/').pop() ?? '');
  return (
    file
      .replace(/\.whl$/, '')
      .split('-')
      .pop() ?? 'any'
  );
}
/**
 * Pure: a resolved wheel's id in the lock. A pure wheel (`none-any`) is the same file on every
 * architecture: `wheel:name@version`. A platform wheel is another file per architecture:
 * `wheel:name@version+<arch>`, so two architectures' closures share the lock without colliding.
 */
export function lockedWheelId(name: string, version: string, url: string, arch: string): string {
  return wheelPlatform(url) === 'any' ? wheelId(name, version) : `${wheelId(name, version)}+${arch}`;
}
/** The same wheel whatever its architecture suffix: what a root requirement matches. */
const sameWheel = (id: string, root: string) => id === root || id.startsWith(`${root}+`);

/**
 * What an input's id adds after its kind, name and version (`+<arch>` of a platform wheel, `+<classifier>`
 * of a Maven jar of another file than the plain one); undefined when nothing.
 */
export function idSuffix(i: Pick<LockedInput, 'id' | 'kind' | 'name' | 'version'>): string | undefined {
  const want = `${i.kind}:${i.name}@${i.version}+`;
  return i.id.startsWith(want) ? i.id.slice(want.length) : undefined;
}

/** A Maven jar as an input of the lock, before its checksum is known (pure). */
function mavenInput(j: JarSpec): Omit<LockedInput, 'sha256'> {
  return {
    // A classifier's jar is another file (RAPIDS' cuda12-arm64): another id.
    id: `maven:${j.group}:${j.artifact}@${j.version}${j.classifier ? `+${j.classifier}` : ''}`,
    kind: 'maven',
    name: `${j.group}:${j.artifact}`,
    version: j.version,
    license: j.license,
    url: mavenUrl(j),
  };
}

/**
 * What a layered flavour needs from outside on a line, before checksums are known (pure): its jars
 * and its PyPI requirements (whose closure `npm run lock` resolves: these ids are its roots), as
 * matrix.yaml gives them for the flavour and the line.
 */
export function plannedFlavourInputs(line: LineSpec, f: FlavourSpec, arch: string): Array<Omit<LockedInput, 'sha256' | 'url'> & { url?: string }> {
  const { jars, pypi } = flavourInputsOn(f, line, arch);
  return [
    ...jars.map(mavenInput),
    ...pypi.map((q) => ({ id: wheelId(q.name, q.version), kind: 'wheel' as const, name: normalName(q.name), version: q.version, license: q.license })),
  ];
}

/** A layered flavour's closure on one architecture (a wheel closure is resolved for each: pip's platform tags differ). */
export const flavourKey = (line: LineSpec, f: FlavourSpec, arch: string) => `${line.track}/${f.name}/${arch}`;

/** The pinned inputs of a layered flavour on `arch` (its whole wheel closure included); refuses a stale lock. */
export function lockedFlavourInputs(line: LineSpec, f: FlavourSpec, lock: LockFile, arch: string): LockedInput[] {
  const key = flavourKey(line, f, arch);
  const ids = lock.flavours?.[key];
  const roots = plannedFlavourInputs(line, f, arch).map((i) => i.id);
  const missing = ids ? roots.filter((root) => !ids.some((id) => sameWheel(id, root) && lock.inputs[id])) : roots;
  const gone = (ids ?? []).filter((id) => !lock.inputs[id]);
  if (missing.length || gone.length)
    throw new UserError('E_LOCK', `the lock file does not pin ${[...missing, ...gone].join(', ')} (flavours["${key}"])`, {
      hint: 'matrix.yaml changed, or the architecture is new: run `npm run lock` and commit the result',
    });
  return ids!.map((id) => lock.inputs[id]!);
}

/**
 * Pure: a lock of before per-architecture flavour closures (`flavours["3.5/jupyter"]`, resolved for the
 * family's first architecture) read as the per-architecture one (`3.5/jupyter/<first>`, its platform
 * wheels re-identified): the same files, so the first architecture's images do not change and nothing
 * is resolved again.
 */
export function migrateFlavourKeys(lock: LockFile, firstArch: string): LockFile {
  const flavours: Record<string, string[]> = {};
  const inputs = { ...lock.inputs };
  for (const [key, ids] of Object.entries(lock.flavours ?? {})) {
    if (key.split('/').length !== 2) {
      flavours[key] = ids;
      continue;
    }
    flavours[`${key}/${firstArch}`] = ids.map((id) => {
      const i = inputs[id];
      if (!i || i.kind !== 'wheel') return id;
      const now = lockedWheelId(i.name, i.version, i.url, firstArch);
      if (now !== id) {
        inputs[now] = { ...i, id: now };
        delete inputs[id];
      }
      return now;
    });
  }
  return { ...lock, inputs, ...(lock.flavours ? { flavours } : {}) };
}

/** What a line needs, before checksums are known (pure). */
export function plannedInputs(project: Matrix['project'], line: LineSpec): Array<Omit<LockedInput, 'sha256' | 'url'> & { url?: string }> {
  const p = line.distribution.pypi;
  return [
    { id: `pypi:${p.name}@${p.version}`, kind: 'pypi', name: p.name, version: p.version, license: p.license },
    ...line.jars.map(mavenInput),
    {
      id: `go:${project.pebble.module}@${project.pebble.version}`,
      kind: 'go',
      name: project.pebble.module,
      version: project.pebble.version,
      license: 'GPL-3.0-only',
      url: `https://proxy.golang.org/${project.pebble.module.toLowerCase()}/@v/${project.pebble.version}.zip`,
    },
  ];
}

/** `/inputs/maven:a@1/sha256` → `inputs["maven:a@1"].sha256` (a key path a user can find in the file). */
export function keyPath(pointer: string): string {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  return (
    parts.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : /^[A-Za-z_]\w*$/.test(p) ? `${i ? '.' : ''}${p}` : `[${JSON.stringify(p)}]`)).join('') ||
    '(the top level)'
  );
}

const shown = (v: unknown) => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
};

/** One ajv error as `KEYPATH what-is-wrong (value)` (pure). */
function describeSchemaError(e: ErrorObject, data: unknown): string {
  let pointer = e.instancePath;
  const p = e.params as Record<string, unknown>;
  if (typeof p.propertyName === 'string') pointer += `/${p.propertyName.replace(/~/g, '~0').replace(/\//g, '~1')}`;
  const value = pointer
    .split('/')
    .slice(1)
    .reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined), data);
  const where = keyPath(pointer);
  if (typeof p.propertyName === 'string') return `${where}: not a valid key here`;
  switch (e.keyword) {
    case 'format':
      return `${where} is not a ${String(p.format)}: ${shown(value)}`;
    case 'pattern':
      return `${where} does not match ${String(p.pattern)}: ${shown(value)}`;
    case 'required':
      return `${where} lacks ${JSON.stringify(p.missingProperty)}`;
    case 'additionalProperties':
      return `${where} has an unknown key ${JSON.stringify(p.additionalProperty)}`;
    default:
      return `${where} ${e.message ?? 'is not valid'}: ${shown(value)}`;
  }
}

let lockValidator: ValidateFunction | undefined;
function validatorOfLock(): ValidateFunction {
  if (!lockValidator) {
    const ajv = addSparkcraftFormats(new Ajv({ allErrors: false, strict: true, strictTypes: false }));
    (addFormatsPlugin as unknown as (a: Ajv, f: string[]) => Ajv)(ajv, ['uri']);
    lockValidator = ajv.compile(lockSchema);
  }
  return lockValidator;
}

/**
 * Pure: `raw` checked to be a lock file, by src/config/schemas/lock.schema.json and the formats of
 * src/config/formats.ts, then each input's key and id against its kind, name and version. Its
 * values become cache paths, staged file names and URLs, so the first problem is refused in one
 * line naming its key path.
 */
export function validateLock(raw: unknown, file: string): LockFile {
  const refuse = (why: string) =>
    new UserError('E_LOCK', `lock file ${file}: ${why}`, { hint: 'restore it from git or run `npm run lock`; a lock is written by `npm run lock` only' });
  const validate = validatorOfLock();
  if (!validate(raw)) throw refuse(describeSchemaError(validate.errors![0]!, raw));
  const lock = raw as LockFile;
  for (const [key, i] of Object.entries(lock.inputs)) {
    const want = `${i.kind}:${i.name}@${i.version}`;
    const idPath = keyPath(`/inputs/${key.replace(/~/g, '~0').replace(/\//g, '~1')}/id`);
    if (i.id !== key) throw refuse(`${idPath} is ${shown(i.id)}, not its key`);
    const suffix = idSuffix(i);
    // A platform wheel's id names the architecture it is the file of (lockedWheelId), one of the family's.
    if (i.kind === 'wheel' && suffix !== undefined && !(suffix in ARCHITECTURES && wheelPlatform(i.url) !== 'any'))
      throw refuse(`${idPath} names ${shown(suffix)}, not an architecture of a platform wheel`);
    // A Maven jar's id names its classifier when it has one (mavenInput): the file its URL names must carry it.
    if (
      i.kind === 'maven' &&
      suffix !== undefined &&
      !(/^[A-Za-z0-9_.-]+$/.test(suffix) && i.url.endsWith(`/${mavenFileName({ artifact: i.name.split(':')[1]!, version: i.version, classifier: suffix })}`))
    )
      throw refuse(`${idPath} names the classifier ${shown(suffix)}, which its url's file does not carry`);
    if (i.id !== want && (suffix === undefined || (i.kind !== 'wheel' && i.kind !== 'maven')))
      throw refuse(`${idPath} is not ${shown(want)} (its kind, name and version)`);
  }
  return lock;
}

export function readLock(file = LOCK_FILE): LockFile {
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch {
    throw new UserError('E_LOCK', `lock file ${file} is missing`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    throw new UserError('E_LOCK', `lock file ${file} is not valid JSON: ${(e as Error).message}`, { hint: 'restore it from git or run `npm run lock`' });
  }
  return validateLock(parsed, file);
}

/**
 * The pinned inputs of one line (its Spark distribution, the closure of its jar roots, pebble's module);
 * refuses when the lock does not match the matrix: an input missing, or jar roots, exclusions or
 * `provided` other than those the closure was resolved from.
 */
export function lockedInputsFor(project: Matrix['project'], line: LineSpec, lock: LockFile): LockedInput[] {
  const ids = lock.lines[line.track] ?? [];
  const want = plannedInputs(project, line).map((i) => i.id);
  const missing = want.filter((id) => !ids.includes(id) || !lock.inputs[id]);
  const gone = ids.filter((id) => !lock.inputs[id]);
  const hint = 'matrix.yaml changed: run `npm run lock` and commit the result';
  if (missing.length || gone.length)
    throw new UserError('E_LOCK', `the lock file does not pin ${[...missing, ...gone].join(', ')} (Spark ${line.track})`, { hint });
  if (!sameRequest(lock.closures?.[line.track], closureRequest(line)))
    throw new UserError(
      'E_LOCK',
      `the lock's jar closure of Spark ${line.track} was resolved from other roots, exclusions or provided jars than matrix.yaml names`,
      {
        hint,
      },
    );
  return ids.map((id) => lock.inputs[id]!);
}

/** I/O: pin one input (a Maven jar or Go module zip: fetched, hashed; a jar cross-checked with Central's .sha1). */
async function pin(cache: string, lock: LockFile, inp: Omit<LockedInput, 'sha256' | 'url'> & { url?: string }): Promise<void> {
  if (lock.inputs[inp.id]) return;
  const got = await fetchUnpinned(cache, inp.id, inp.url!);
  if (inp.kind === 'maven') await checkMavenSha1(inp.id, inp.url!, got.path);
  lock.inputs[inp.id] = { ...inp, url: inp.url!, sha256: got.sha256 };
  log.info(`locked ${inp.id} ${got.sha256}`);
}

/**
 * I/O: the ids of a line's jars, its roots' closure: the lock's when it was resolved from the same request,
 * else Maven's resolution now (every jar of it pinned).
 */
async function lockJarClosure(cache: string, lock: LockFile, line: LineSpec): Promise<string[]> {
  const request = closureRequest(line);
  const before = (lock.lines[line.track] ?? []).filter((id) => id.startsWith('maven:'));
  const roots = line.jars.map((j) => mavenInput(j).id);
  if (sameRequest(lock.closures?.[line.track], request) && roots.every((id) => before.includes(id)) && before.every((id) => lock.inputs[id])) return before;
  log.info(`resolving the closure of Spark ${line.track}'s ${line.jars.length} jar roots with Maven`);
  const closure = await resolveClosure(line.jars, line.provided ?? [], join(cache, 'maven-repo'));
  const ids: string[] = [];
  for (const c of closure) {
    const inp = mavenInput({ ...c, license: c.license });
    await pin(cache, lock, inp);
    ids.push(inp.id);
  }
  log.info(`locked ${ids.length} jars for Spark ${line.track} (${roots.length} roots)`);
  lock.closures = { ...(lock.closures ?? {}), [line.track]: request };
  return ids;
}

interface PypiRelease {
  packagetype: string;
  url: string;
  digests: { sha256: string };
}

async function pypiProject(name: string): Promise<{ releases: Record<string, PypiRelease[]> }> {
  const url = `https://pypi.org/pypi/${name}/json`;
  const res = await fetch(url);
  if (!res.ok) throw new UserError('E_LOCK_RESOLVE', `PyPI answered ${res.status} for ${url}`);
  return (await res.json()) as { releases: Record<string, PypiRelease[]> };
}

/** Newer patch releases of each line on PyPI (the "new Spark release" report). */
export function newerPatches(versions: string[], line: LineSpec): string[] {
  return versions
    .filter((v) => semver.valid(v) && !semver.prerelease(v) && semver.satisfies(v, `~${line.track}.0`) && semver.gt(v, line.spark))
    .sort(semver.compare);
}

/** I/O: cross-check a downloaded jar with the .sha1 Maven Central serves beside it (streamed: the
 * RAPIDS jar is 1 GB). A missing .sha1 is no error; a different one is. */
export async function checkMavenSha1(id: string, url: string, path: string): Promise<void> {
  const res = await fetch(`${url}.sha1`);
  if (!res.ok) return;
  const want = (await res.text()).trim().split(/\s+/)[0];
  const have = await fileDigest(path, 'sha1');
  if (want !== have)
    throw new UserError('E_CHECKSUM', `${id}: sha1 ${have} differs from Maven Central's ${want}`, { hint: 'retry later; the download was corrupted' });
}

/** Pin one layered flavour's inputs: the jar as the base's jars are; a wheel closure resolved once by pip. */
async function lockFlavour(cache: string, lock: LockFile, line: LineSpec, f: FlavourSpec, arch: string): Promise<void> {
  const key = flavourKey(line, f, arch);
  const planned = plannedFlavourInputs(line, f, arch);
  const have = lock.flavours?.[key] ?? [];
  const current = planned.every((i) => have.some((id) => sameWheel(id, i.id))) && have.every((id) => lock.inputs[id]);
  if (current) return;
  const ids: string[] = [];
  for (const inp of planned.filter((i) => i.kind === 'maven')) {
    ids.push(inp.id);
    await pin(cache, lock, inp);
  }
  const roots = planned.filter((i) => i.kind === 'wheel');
  if (roots.length) {
    log.info(`resolving ${roots.map((r) => `${r.name}==${r.version}`).join(' ')} for Python ${f.wheelPython} on ${arch} (${key})`);
    const wheels = await resolveWheels(
      roots.map((r) => `${r.name}==${r.version}`),
      f.wheelPython!,
      ARCHITECTURES[arch]!.pip,
    );
    for (const w of wheels) {
      const id = lockedWheelId(w.name, w.version, w.url, arch);
      const root = roots.find((r) => sameWheel(id, r.id));
      lock.inputs[id] = { id, kind: 'wheel', name: normalName(w.name), version: w.version, url: w.url, sha256: w.sha256, license: root?.license ?? w.license };
      ids.push(id);
    }
    const missing = roots.filter((r) => !ids.some((id) => sameWheel(id, r.id)));
    if (missing.length) throw new UserError('E_LOCK_RESOLVE', `pip's resolution of ${key} lacks ${missing.map((r) => r.id).join(', ')}`);
    log.info(`locked ${wheels.length} wheels for ${key}`);
  }
  lock.flavours = { ...(lock.flavours ?? {}), [key]: [...new Set(ids)].sort() };
}

export async function refreshLock(cache: string, m: Matrix, tracks?: string[], file = LOCK_FILE): Promise<{ lock: LockFile; newer: Record<string, string[]> }> {
  let lock: LockFile;
  try {
    lock = migrateFlavourKeys(readLock(file), m.architectures[0]!);
  } catch (e) {
    // A lock that is there but not valid is not trusted for any of its pins: all are locked again.
    if (!(e as Error).message.endsWith('is missing')) log.warn(`${(e as Error).message}: locking every input again`);
    lock = { lockVersion: 1, inputs: {}, lines: {} };
  }
  const newer: Record<string, string[]> = {};
  const pypiCache = new Map<string, { releases: Record<string, PypiRelease[]> }>();
  for (const line of m.lines) {
    if (tracks && !tracks.includes(line.track)) continue;
    const ids: string[] = [];
    for (const inp of plannedInputs(m.project, line)) {
      if (inp.kind === 'maven') continue; // the roots: their closure is resolved below
      ids.push(inp.id);
      if (inp.kind === 'pypi') {
        // Newer patch releases are reported on every refresh, locked or not.
        if (!pypiCache.has(inp.name)) pypiCache.set(inp.name, await pypiProject(inp.name));
        newer[line.track] = newerPatches(Object.keys(pypiCache.get(inp.name)!.releases), line);
        if (lock.inputs[inp.id]) continue;
        const proj = pypiCache.get(inp.name)!;
        const sdist = proj.releases[inp.version]?.find((f) => f.packagetype === 'sdist');
        if (!sdist) throw new UserError('E_LOCK_RESOLVE', `${inp.name} ${inp.version} has no source distribution on PyPI`);
        lock.inputs[inp.id] = { ...inp, url: new URL(sdist.url, `https://pypi.org/pypi/${inp.name}/json`).href, sha256: sdist.digests.sha256 };
        log.info(`locked ${inp.id} ${lock.inputs[inp.id]!.sha256}`);
      } else await pin(cache, lock, inp);
    }
    // The Spark distribution first, then the jars, then pebble (the order stage and the SBOM list them in).
    ids.splice(1, 0, ...(await lockJarClosure(cache, lock, line)));
    lock.lines[line.track] = ids;
    for (const name of line.flavours) {
      const f = m.flavours[name];
      if (!f?.over || f.available === false) continue;
      // One closure per flavour of a line and architecture (pip resolves for that architecture's platform tags).
      for (const arch of m.architectures) await lockFlavour(cache, lock, line, f, arch);
    }
  }
  // Lines gone from the matrix, and inputs no line uses any more, leave the lock.
  const tracksNow = new Set(m.lines.map((l) => l.track));
  for (const t of Object.keys(lock.lines)) if (!tracksNow.has(t)) delete lock.lines[t];
  for (const t of Object.keys(lock.closures ?? {})) if (!tracksNow.has(t)) delete lock.closures![t];
  const flavoursNow = new Set(
    m.lines.flatMap((l) =>
      l.flavours.filter((n) => m.flavours[n]?.over && m.flavours[n]?.available !== false).flatMap((n) => m.architectures.map((a) => `${l.track}/${n}/${a}`)),
    ),
  );
  for (const k of Object.keys(lock.flavours ?? {})) if (!flavoursNow.has(k)) delete lock.flavours![k];
  const used = new Set([...Object.values(lock.lines).flat(), ...Object.values(lock.flavours ?? {}).flat()]);
  for (const id of Object.keys(lock.inputs)) if (!used.has(id)) delete lock.inputs[id];
  const sorted: LockFile = {
    lockVersion: 1,
    inputs: Object.fromEntries(Object.entries(lock.inputs).sort(([a], [b]) => a.localeCompare(b))),
    lines: Object.fromEntries(Object.entries(lock.lines).sort()),
    ...(lock.flavours && Object.keys(lock.flavours).length ? { flavours: Object.fromEntries(Object.entries(lock.flavours).sort()) } : {}),
    ...(lock.closures && Object.keys(lock.closures).length ? { closures: Object.fromEntries(Object.entries(lock.closures).sort()) } : {}),
  };
  await writeFileAtomic(file, JSON.stringify(sorted, null, 2) + '\n');
  return { lock: sorted, newer };
}
