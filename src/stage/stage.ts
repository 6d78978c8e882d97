/**
 * Fill `build/<track>/<flavour>/inputs/` from pinned, verified inputs: the Spark distribution
 * (pyspark sdist) laid out as /opt/spark, extra jars, pebble built from its Go module, the spark8t
 * executable with its command links, manifest.json and an SPDX SBOM. The tree is built aside and
 * swapped in whole; an unchanged stage (same input hashes) returns at once.
 */
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readFile, rm, symlink, writeFile, chmod, rename } from 'node:fs/promises';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UserError } from '../lib/errors.ts';
import { inStep, log } from '../lib/log.ts';
import { linkOrCopy, linkTreeOrCopy, replaceDirAtomic, sweepLeftovers } from '../lib/fsx.ts';
import { goBuildCached } from '../lib/tools/go.ts';
import { lastChange } from '../lib/tools/git.ts';
import type { FlavourSpec, LineSpec, ResolvedLine, Matrix } from '../config/types.ts';
import type { Rendered } from '../render/render.ts';
import { sha256File, sha256Remembered } from '../lib/hash.ts';
import { casPath, fetchAllVerified, recheckCached } from './fetch.ts';
import { idSuffix, lockedFlavourInputs, lockedInputsFor, readLock, type LockedInput } from './lock.ts';
import { mavenFileName } from '../config/matrix.ts';
import { at, workspace, type Workspace } from '../lib/workspace.ts';
import {
  decide,
  digestOf,
  FORMATS,
  makeRecord,
  note,
  readRecord,
  stepKey,
  withLock,
  workspaceLock,
  cacheLock,
  writeRecord,
  type Cell,
  type StepRecord,
} from '../lib/state.ts';
import { describeTree, spdxDocument, type Origin } from './sbom.ts';
import { examplesOrigins, examplesSourcesKey, stageExamples } from './examples.ts';
import { temporary } from '../lib/interrupt.ts';
import { ARCHITECTURES } from '../lib/arch.ts';
import { keptBy, nativeRules, type NativeRule } from './native-libs.ts';
import { dropZipEntries, zipDirectory } from '../lib/zip.ts';
import { escapeRegExp } from '../lib/regexp.ts';

/** The stage record (`inputs/.state.json`): the stage's inputs, and one content key per staged tree. */
export type StageRecord = StepRecord<{ trees: Record<string, string> }>;
export const STAGE_RECORD = '.state.json';
/** What this code wrote before the step-state module (LAYOUT_VERSION 4): read as format 4. */
const LEGACY_STAGE = (target: string) => [{ file: join(target, '.stamp'), format: 4 }];

/** One content key per staged tree (what a build keys that tree's layer by). */
const treeKeyOf = (v: unknown) => digestOf({ format: FORMATS.stage, v });
export const SPARK8T_TOOLS = ['service-account-registry', 'spark-submit', 'spark-shell', 'pyspark', 'spark-sql'];

export interface StageOptions {
  line?: string;
  flavour?: string;
  lockFile?: string;
  matrix?: string;
  spark8t?: string;
  /** Restage even when the inputs are unchanged. */
  force?: boolean;
  /** Rehash every cached download, not only those whose size, mtime or inode changed. */
  verify?: boolean;
}

/** What the stage step staged: the inputs folder of the build folder, and whether it was current. */
export interface Staged {
  /** The build folder. */
  dir: string;
  /** `<build folder>/inputs` */
  inputs: string;
  /** The stamp of what was staged (a hash of every input). */
  stamp: string;
  skipped: boolean;
  seconds: number;
}

/** The file name of a Maven input under inputs/jars: Maven's own (its id's classifier included; the lock's validation ties it to the URL). */
export function stagedJarName(i: LockedInput): string {
  return mavenFileName({ artifact: i.name.split(':')[1]!, version: i.version, classifier: idSuffix(i) });
}

/**
 * When the SBOM says it was made: SOURCE_DATE_EPOCH, else the commit time of the last change to the
 * matrix or the lock (as the layers' file times), so a fresh clone gives the same SBOM; for a lock
 * given from elsewhere, or outside a checkout, the lock file's mtime.
 */
async function sbomCreated(ws: Workspace, lockFile: string): Promise<string> {
  // Another lock than the checkout's own is not in its history: that file's time dates it.
  const committed = lockFile === ws.lockFile ? await lastChange(ws.root, ['matrix.yaml', 'sparkcraft.lock.json']) : 0;
  const t = ws.sourceDateEpoch || committed || Math.floor(statSync(lockFile).mtimeMs / 1000);
  return new Date(t * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
}

/**
 * Whether a staged input is no longer the verified download: neither a hard link of the cache entry
 * (one inode) nor, where that entry was replaced or is gone, a file that still hashes to the lock's
 * sha256. Warns for the first such input.
 */
async function stagedReplaced(cache: string, inputs: LockedInput[], placed: (i: LockedInput) => string): Promise<boolean> {
  for (const i of inputs) {
    const a = statSync(placed(i), { throwIfNoEntry: false });
    if (a && a.ino === statSync(casPath(cache, i.sha256), { throwIfNoEntry: false })?.ino) continue;
    if (a && (await sha256File(placed(i))) === i.sha256) continue;
    log.warn(`staged ${i.id} is not the verified download any more: restaging`);
    return true;
  }
  return false;
}

/**
 * Extract the pyspark sdist once per checksum (and record format) into the cache, laid out as
 * /opt/spark; its record (`.state.json`, written before the tree is renamed into place) vouches
 * for bin/spark-submit.
 */
export async function sparkTree(cache: string, input: LockedInput, archive: string, py4j: string, cell: Cell): Promise<string> {
  const jni = ARCHITECTURES[cell.arch]?.jni ?? {};
  const inputs = { archive: input.sha256, py4j, jni: JSON.stringify(jni) };
  const key = stepKey('spark-tree', cell, inputs);
  const dest = join(cache, 'extract', `spark-${key}`);
  const step = `unpack ${input.name} ${input.version}`;
  // Under the lock, so that concurrent stages unpack it once and none sees half a tree.
  return withLock(cacheLock(cache, `extract-spark-${key}`), `the unpacked ${input.name} ${input.version}`, async () => {
    if (!(await decide(step, join(dest, STAGE_RECORD), 'spark-tree', cell, inputs)).decision.run) return dest;
    return unpackSpark(input, archive, py4j, nativeRules(jni), dest, async (home) =>
      writeRecord(join(home, STAGE_RECORD), makeRecord(join(home, STAGE_RECORD), 'spark-tree', cell, inputs, ['bin/spark-submit'])),
    );
  });
}

async function unpackSpark(
  input: LockedInput,
  archive: string,
  py4j: string,
  rules: NativeRule[],
  dest: string,
  record: (home: string) => Promise<void>,
): Promise<string> {
  // What killed unpacks left goes; a unique name per call keeps concurrent unpacks apart.
  await sweepLeftovers(dirname(dest), /^spark-[0-9a-f]{64}\.tmp-(\d+)(?:-[0-9a-f]+)?$/);
  const tmp = temporary(`${dest}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  const raw = join(tmp, 'raw');
  await mkdir(raw, { recursive: true });
  log.info(`unpacking ${input.name} ${input.version}`);
  const untar = await execa('tar', ['-xzf', archive, '-C', raw, '--strip-components=1', '--no-same-owner'], { reject: false });
  if (untar.exitCode !== 0) {
    await rm(tmp, { recursive: true, force: true });
    const why = untar.stderr.split('\n').find((l) => /No space left|Cannot|Error|error/.test(l)) ?? untar.stderr.split('\n')[0] ?? '';
    throw new UserError('E_STAGE', `unpacking ${input.name} ${input.version} into ${dirname(dest)} failed: ${why.replace(/^tar: /, '').slice(0, 200)}`, {
      hint: /No space left/.test(untar.stderr)
        ? 'free space on that file system (or set SPARKCRAFT_CACHE elsewhere) and run again'
        : 'run `npm run stage -- --verify` to check the download, then again',
    });
  }
  const home = join(tmp, 'home');
  await mkdir(join(home, 'python'), { recursive: true });
  for (const d of ['bin', 'sbin', 'jars', 'data', 'examples', 'licenses']) {
    if (existsSync(join(raw, 'deps', d))) await rename(join(raw, 'deps', d), join(home, d));
  }
  if (!existsSync(join(home, 'jars')) || !existsSync(join(home, 'bin', 'spark-submit'))) {
    throw new UserError('E_STAGE', `${input.name} ${input.version} does not carry Spark's bin/ and jars/`, {
      hint: 'use a pyspark source distribution (sdist)',
    });
  }
  // Other platforms' JNI libraries out of the jars that carry one per platform (rocksdbjni: 53 of its 58 MB).
  for (const f of readdirSync(join(home, 'jars'))) {
    const rule = rules.find((r) => r.jar.test(f));
    if (!rule) continue;
    const jar = join(home, 'jars', f);
    const before = await readFile(jar);
    if (!zipDirectory(before).entries.some((e) => e.name === rule.keep))
      throw new UserError('E_DISTRIBUTION', `${input.name} ${input.version}: jars/${f} has no ${rule.keep}, the JNI library this architecture loads`, {
        hint: 'correct `jni` of the architecture in src/config/arch.ts for this rocksdbjni',
      });
    const after = dropZipEntries(before, keptBy(rule));
    await writeFile(jar, after);
    log.info(`jars/${f}: kept ${rule.keep} of its native libraries (${before.length} → ${after.length} bytes)`);
  }
  await rename(join(raw, 'pyspark'), join(home, 'python', 'pyspark'));
  if (existsSync(join(raw, 'lib'))) await rename(join(raw, 'lib'), join(home, 'python', 'lib'));
  if (!existsSync(join(home, 'python', 'lib', py4j))) {
    throw new UserError('E_STAGE', `${input.name} ${input.version} has no python/lib/${py4j}`, { hint: 'fix `py4j` of this line in matrix.yaml' });
  }
  await mkdir(join(home, 'conf'), { recursive: true });
  await execa('find', [home, '-path', `${home}/bin/*`, '-o', '-path', `${home}/sbin/*`, '-type', 'f', '-exec', 'chmod', '0755', '{}', '+']);
  await execa('chmod', ['-R', 'u+rwX,go+rX,go-w', home]);
  // The record goes in before the rename, so the tree appears whole or not at all (the lock keeps
  // other runs from unpacking the same archive meanwhile).
  await record(home);
  if (existsSync(dest)) await rm(dest, { recursive: true, force: true });
  await rename(home, dest);
  await rm(tmp, { recursive: true, force: true });
  return dest;
}

function origin(i: LockedInput): Origin {
  return { name: i.name, version: i.version, url: i.url, sha256: i.sha256, license: i.license };
}

/** The stage step: verified inputs → `r.paths.inputs`, swapped in whole; unchanged inputs return at once. */
export async function stageLine(
  resolved: ResolvedLine,
  ws: Workspace,
  rendered: Rendered,
  o: Pick<StageOptions, 'lockFile' | 'spark8t' | 'force' | 'verify'> = {},
): Promise<Staged> {
  if (resolved.flavour.over) return stageFlavour(resolved, ws, rendered, o);
  return withLock(workspaceLock(ws, `stage-${resolved.key}`), `${resolved.paths.inputs}`, () => stageBase(resolved, ws, rendered, o));
}

/** The cell a line's steps are keyed by. */
export function cellOf(r: ResolvedLine): Cell {
  return { arch: r.arch, java: r.java };
}

/** The stage's reason to restage when a staged input is no longer the verified file (see stagedReplaced). */
async function replacedReason(cache: string, inputs: LockedInput[], placed: (i: LockedInput) => string): Promise<string | undefined> {
  return (await stagedReplaced(cache, inputs, placed)) ? 'output changed on disk: a staged input is not the verified download any more' : undefined;
}

/**
 * Pure: what is wrong with a distribution's jars/ (file names) against what the line says of it: each
 * `provided` artifact is there (any version: the distribution's serves), and Hadoop's client jars are of
 * the line's `hadoop`, the version its hadoop-aws root has (src/config/matrix.ts checks that one).
 */
export function distributionProblems(
  jars: string[],
  line: Pick<LineSpec, 'hadoop' | 'provided'> & Partial<Pick<LineSpec, 'scala' | 'spark'>>,
  services: FlavourSpec['services'] = {},
): string[] {
  const p: string[] = [];
  // A service's server at the line's exact version, never another's jar (matrix.yaml `needs`).
  for (const [name, s] of Object.entries(services ?? {})) {
    if (!s.needs) continue;
    const want = `${s.needs}_${line.scala}-${line.spark}.jar`;
    if (!jars.includes(want))
      p.push(`its jars/ has no ${want}, which service ${name} needs (list ${name} under the line's unavailableServices in matrix.yaml, with the evidence)`);
  }
  for (const ga of line.provided ?? []) {
    const artifact = ga.split(':')[1]!;
    const re = new RegExp(`^${escapeRegExp(artifact)}-\\d[^/]*\\.jar$`);
    if (!jars.some((j) => re.test(j))) p.push(`its jars/ has no ${artifact}-<version>.jar, which matrix.yaml says it provides (${ga})`);
  }
  for (const a of ['hadoop-client-api', 'hadoop-client-runtime'])
    if (!jars.includes(`${a}-${line.hadoop}.jar`)) {
      const have = jars.find((j) => j.startsWith(`${a}-`));
      p.push(`its Hadoop is ${have ? have.slice(a.length + 1, -4) : 'missing'} (${a}), not the line's ${line.hadoop}, which its hadoop-aws must match`);
    }
  return p;
}

async function stageBase(
  resolved: ResolvedLine,
  ws: Workspace,
  rendered: Rendered,
  o: Pick<StageOptions, 'lockFile' | 'spark8t' | 'force' | 'verify'>,
): Promise<Staged> {
  const started = Date.now();
  const dir = rendered.dir;
  const cell = cellOf(resolved);
  // The lock in use dates the SBOM too (the default one was read even when another was given).
  const lockFile = o.lockFile ?? ws.lockFile;
  const lock = readLock(lockFile);
  const inputs = lockedInputsFor(resolved.project, resolved.line, lock);
  let spark8t = o.spark8t;
  if (!spark8t) {
    // Rebuilt only when its sources changed since the last build.
    const { ensureSpark8t, canBuildFor } = await import('../spark8t/build/build.ts');
    if (!canBuildFor(resolved.platform.bun))
      throw new UserError('E_TOOL', `spark8t for ${resolved.arch} needs bun, which is not installed (@oven/bun-linux-x64, an optional dependency)`, {
        hint: 'run `npm ci` on a Linux x64 host, or pass a built executable with --spark8t',
      });
    spark8t = await ensureSpark8t({ arch: resolved.arch, java: null }, resolved.platform.bun, ws.cache);
  }
  // The staged tree hard-links the cached downloads: a cached file changed on disk changes it too, so
  // the cache is rechecked (cheaply: size, mtime, inode) before the record is believed.
  const removed: string[] = [];
  for (const i of inputs) if ((await recheckCached(ws.cache, i.id, i.sha256, { rehash: o.verify })) === 'removed') removed.push(i.id);
  // 100+ MB: hashed again only when its size, mtime or inode changed since it was last hashed.
  const spark8tSha = await sha256Remembered(spark8t, join(ws.stamps, 'spark8t.sha256.json'));
  const examplesKey = await examplesSourcesKey();
  const stepInputs: Record<string, string> = {
    ...Object.fromEntries(inputs.map((i) => [i.id, i.sha256])),
    spark8t: spark8tSha,
    py4j: resolved.line.py4j,
    examples: examplesKey,
    // The JNI libraries the Spark tree keeps (sparkTree): another rule is another tree.
    jni: JSON.stringify(ARCHITECTURES[resolved.arch]?.jni ?? {}),
  };
  const stamp = stepKey('stage', cell, stepInputs);
  const target = at(ws, resolved.paths.inputs);
  const recordFile = join(target, STAGE_RECORD);
  const what = `stage ${resolved.line.track}/${resolved.flavour.name}`;
  const { decision, record } = removed.length
    ? { decision: note({ step: what, run: true, reason: `cached download changed on disk: ${removed.join(', ')}` }), record: undefined }
    : await decide<StageRecord['data']>(what, recordFile, 'stage', cell, stepInputs, {
        legacy: LEGACY_STAGE(target),
        force: o.force,
        // The staged jars must still be the verified files: hard links of the cache entries (one inode), or,
        // where the cache entry was replaced or is gone, files that still hash to the lock's sha256.
        extra: () =>
          replacedReason(
            ws.cache,
            inputs.filter((x) => x.kind === 'maven'),
            (i) => join(target, 'jars', stagedJarName(i)),
          ),
      });
  if (!decision.run && record) {
    log.info(`inputs of ${resolved.line.track}/${resolved.flavour.name} are current`);
    return { dir, inputs: target, stamp, skipped: true, seconds: (Date.now() - started) / 1000 };
  }
  log.info(`${what}: ${decision.reason}`);
  // Every download verified before anything is staged.
  const paths = await fetchAllVerified(ws.cache, inputs);
  const spark = inputs.find((i) => i.kind === 'pypi')!;
  const pebbleIn = inputs.find((i) => i.kind === 'go')!;
  const tree = await sparkTree(ws.cache, spark, paths.get(spark.id)!, resolved.line.py4j, cell);
  const problem = distributionProblems(readdirSync(join(tree, 'jars')), resolved.line, resolved.flavour.services)[0];
  if (problem) throw new UserError('E_DISTRIBUTION', `${spark.name} ${spark.version}: ${problem}`);
  // Built from scripts/pebble (go.mod + go.sum), checked to pin the very zip the lock names and the SBOM lists.
  const pebble = await goBuildCached(
    ws.cache,
    'pebble',
    { ...pebbleIn, zip: paths.get(pebbleIn.id)! },
    `${pebbleIn.name}/cmd/pebble`,
    resolved.platform.go,
    cell,
  );

  // Written aside (inputs.new-<pid>-*) and swapped in whole: a killed stage leaves the previous tree.
  await inStep(`stage ${resolved.line.track}/${resolved.flavour.name}: writing ${target}`, () =>
    replaceDirAtomic(target, async (tmp) => {
      // Hard links of the cache where it shares the project's file system, copies where it does not.
      if (!(await linkTreeOrCopy(tree, join(tmp, 'spark')))) log.info('the cache is on another file system than the project: staging copies, not hard links');
      await rm(join(tmp, 'spark', STAGE_RECORD), { force: true });
      await mkdir(join(tmp, 'jars'));
      for (const i of inputs.filter((x) => x.kind === 'maven')) {
        await linkOrCopy(paths.get(i.id)!, join(tmp, 'jars', stagedJarName(i)));
      }
      await mkdir(join(tmp, 'pebble'));
      await copyFile(pebble, join(tmp, 'pebble', 'pebble'));
      await chmod(join(tmp, 'pebble', 'pebble'), 0o755);
      const bin = join(tmp, 'spark8t', 'opt', 'spark-client', 'bin');
      await mkdir(bin, { recursive: true });
      await copyFile(spark8t, join(bin, 'spark8t'));
      await chmod(join(bin, 'spark8t'), 0o755);
      for (const t of SPARK8T_TOOLS) await symlink('spark8t', join(bin, `spark-client.${t}`));
      await stageExamples(join(tmp, 'examples'));

      const spark8tOrigin: Origin = { name: 'spark8t (sparkcraft)', version: '1.6.0-ts', url: 'dist/spark8t', sha256: spark8tSha, license: 'Apache-2.0' };
      const pebbleOrigin = origin(pebbleIn);
      const jarOrigins = new Map(inputs.filter((x) => x.kind === 'maven').map((i) => [`jars/${stagedJarName(i)}`, origin(i)]));
      const examples = examplesOrigins(resolved);
      const files = await describeTree(tmp, (rel) =>
        rel.startsWith('spark/')
          ? origin(spark)
          : rel.startsWith('pebble/')
            ? pebbleOrigin
            : rel.startsWith('spark8t/')
              ? spark8tOrigin
              : rel.startsWith('examples/')
                ? examples.sources
                : (jarOrigins.get(rel) ?? spark8tOrigin),
      );
      const origins = [...inputs.map(origin), spark8tOrigin, examples.sources, examples.jar, examples.authJar];
      const created = await sbomCreated(ws, lockFile);
      await writeFile(
        join(tmp, 'sbom.spdx.json'),
        JSON.stringify(spdxDocument(`${resolved.flavour.image}-${resolved.line.spark}-inputs`, created, files, origins), null, 1),
      );
      await writeFile(
        join(tmp, 'manifest.json'),
        JSON.stringify(
          { line: resolved.line.track, spark: resolved.line.spark, flavour: resolved.flavour.name, inputs: origins, files: files.length },
          null,
          2,
        ),
      );
      // One key per input tree, so a build rebuilds only the layers whose inputs changed.
      const trees = {
        spark: treeKeyOf({ spark: spark.sha256, py4j: resolved.line.py4j, jni: stepInputs.jni }),
        jars: treeKeyOf(inputs.filter((x) => x.kind === 'maven').map((i) => [i.name, i.version, i.sha256])),
        pebble: treeKeyOf({ pebble: await sha256File(join(tmp, 'pebble', 'pebble')) }),
        spark8t: treeKeyOf({ spark8tSha, tools: SPARK8T_TOOLS }),
        examples: treeKeyOf({ examplesKey }),
      };
      // Written last, in the tree swapped in whole: the record and what it vouches for arrive together.
      const rec = makeRecord(join(tmp, STAGE_RECORD), 'stage', cell, stepInputs, ['pebble/pebble', 'spark8t/opt/spark-client/bin/spark8t'], { trees });
      await writeRecord(join(tmp, STAGE_RECORD), rec);
    }),
  );
  const seconds = (Date.now() - started) / 1000;
  log.info(`staged ${target} in ${seconds.toFixed(1)} s`);
  return { dir, inputs: target, stamp, skipped: false, seconds };
}

/** The file name of a wheel input under inputs/wheels: the name its URL gives (pip reads its tags). */
export function stagedWheelName(i: LockedInput): string {
  const name = decodeURIComponent(new URL(i.url).pathname.split('/').pop() ?? '');
  if (!/^[A-Za-z0-9_.+-]+\.whl$/.test(name)) throw new UserError('E_LOCK', `${i.id}: ${i.url} does not name a wheel`);
  return name;
}

/**
 * A layered flavour's stage: only its own inputs (the base stages its own), each verified against
 * the lock: jars → inputs/jars, wheels → inputs/wheels (hard links of the cache), with its SBOM,
 * manifest.json and one content key per tree, swapped in whole; unchanged inputs return at once.
 */
export async function stageFlavour(
  resolved: ResolvedLine,
  ws: Workspace,
  rendered: Rendered,
  o: Pick<StageOptions, 'lockFile' | 'force' | 'verify'> = {},
): Promise<Staged> {
  return withLock(workspaceLock(ws, `stage-${resolved.key}`), `${resolved.paths.inputs}`, () => stageFlavourLocked(resolved, ws, rendered, o));
}

async function stageFlavourLocked(
  resolved: ResolvedLine,
  ws: Workspace,
  rendered: Rendered,
  o: Pick<StageOptions, 'lockFile' | 'force' | 'verify'>,
): Promise<Staged> {
  const started = Date.now();
  const dir = rendered.dir;
  const cell = cellOf(resolved);
  const lockFile = o.lockFile ?? ws.lockFile;
  const inputs = lockedFlavourInputs(resolved.line, resolved.flavour, readLock(lockFile), resolved.arch);
  const removed: string[] = [];
  for (const i of inputs) if ((await recheckCached(ws.cache, i.id, i.sha256, { rehash: o.verify })) === 'removed') removed.push(i.id);
  const stepInputs: Record<string, string> = { flavour: resolved.flavour.name, ...Object.fromEntries(inputs.map((i) => [i.id, i.sha256])) };
  const stamp = stepKey('stage', cell, stepInputs);
  const target = at(ws, resolved.paths.inputs);
  const placed = (i: LockedInput) => join(target, i.kind === 'wheel' ? 'wheels' : 'jars', i.kind === 'wheel' ? stagedWheelName(i) : stagedJarName(i));
  const what = `stage ${resolved.line.track}/${resolved.flavour.name}`;
  const { decision } = removed.length
    ? { decision: note({ step: what, run: true, reason: `cached download changed on disk: ${removed.join(', ')}` }) }
    : await decide(what, join(target, STAGE_RECORD), 'stage', cell, stepInputs, {
        legacy: LEGACY_STAGE(target),
        force: o.force,
        extra: () => replacedReason(ws.cache, inputs, placed),
      });
  if (!decision.run) {
    log.info(`inputs of ${resolved.line.track}/${resolved.flavour.name} are current`);
    return { dir, inputs: target, stamp, skipped: true, seconds: (Date.now() - started) / 1000 };
  }
  log.info(`${what}: ${decision.reason}`);
  const paths = await fetchAllVerified(ws.cache, inputs);
  await inStep(`stage ${resolved.line.track}/${resolved.flavour.name}: writing ${target}`, () =>
    replaceDirAtomic(target, async (tmp) => {
      const byFile = new Map<string, Origin>();
      for (const i of inputs) {
        const sub = i.kind === 'wheel' ? 'wheels' : 'jars';
        const name = i.kind === 'wheel' ? stagedWheelName(i) : stagedJarName(i);
        await mkdir(join(tmp, sub), { recursive: true });
        await linkOrCopy(paths.get(i.id)!, join(tmp, sub, name));
        byFile.set(`${sub}/${name}`, origin(i));
      }
      const files = await describeTree(tmp, (rel) => byFile.get(rel)!);
      const origins = inputs.map(origin);
      const created = await sbomCreated(ws, lockFile);
      await writeFile(
        join(tmp, 'sbom.spdx.json'),
        JSON.stringify(spdxDocument(`${resolved.flavour.image}-${resolved.version}-inputs`, created, files, origins), null, 1),
      );
      await writeFile(
        join(tmp, 'manifest.json'),
        JSON.stringify(
          {
            line: resolved.line.track,
            spark: resolved.line.spark,
            flavour: resolved.flavour.name,
            over: resolved.flavour.over,
            inputs: origins,
            files: files.length,
          },
          null,
          2,
        ),
      );
      const trees: Record<string, string> = {};
      for (const sub of ['jars', 'wheels']) {
        const of = inputs.filter((i) => (i.kind === 'wheel') === (sub === 'wheels'));
        if (of.length) trees[sub] = treeKeyOf(of.map((i) => [i.id, i.sha256]));
      }
      await writeRecord(join(tmp, STAGE_RECORD), makeRecord(join(tmp, STAGE_RECORD), 'stage', cell, stepInputs, [], { trees }));
    }),
  );
  const seconds = (Date.now() - started) / 1000;
  log.info(`staged ${target} in ${seconds.toFixed(1)} s`);
  return { dir, inputs: target, stamp, skipped: false, seconds };
}
