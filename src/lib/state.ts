/**
 * Step state: the one place that records what each step made from what, and decides whether it
 * runs again (the role craft-parts' state manager plays). Every record is versioned (a format
 * number per record kind, `FORMATS`), keyed by the cell (architecture and Java version) and the
 * step's named inputs, written atomically (temporary file + rename), and re-identified before it
 * is trusted: the outputs it vouches for must still be the files it recorded (size, mtime, inode).
 * A record in another format, for another cell, with a changed input or a changed output gives a
 * decision to run with that reason; nothing here throws on an old or unreadable record.
 *
 * It also holds the lock concurrent runs take around a step that writes shared state (`withLock`:
 * flock(2) held by a child `flock` process, so the kernel releases it when this run dies, even by
 * SIGKILL), and the journal of decisions `--explain` prints.
 *
 * Pure: `FORMATS`, `stepKey`, `compareRecord`, `changedInputs`. I/O: the rest.
 */
import { spawn } from 'node:child_process';
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { UserError } from './errors.ts';
import { fileIdentity, writeFileAtomic } from './fsx.ts';
import { log } from './log.ts';
import type { Workspace } from './workspace.ts';

/**
 * The format of each kind of record. Bump one when what a record means changes: every record of
 * that kind written before is then "stale: format N, now M" and its step runs again. The first
 * format of each kind here is one above the version constant it replaced, so that records written
 * before this module (legacy files) read as the older format.
 */
export const FORMATS = {
  /** `build/<track>/<flavour>/inputs/.state.json` (was `.stamp` + `.keys.json`, LAYOUT_VERSION 4). */
  stage: 5,
  /** `<cache>/extract/spark-<key>/.state.json`: an unpacked pyspark sdist (was `.complete`). */
  'spark-tree': 2,
  /**
   * `<cache>/bin/<name>-<version>-<key>.state.json`: a Go command built once (was the file's presence);
   * 3: built from the committed go.mod + go.sum with -mod=readonly, keyed on them and the lock's zip.
   */
  'go-build': 3,
  /** `build/spark8t/state.json`: dist/spark8t and the sources it was built from (was `sources.sha256`). */
  spark8t: 2,
  /** A remembered sha256 of a big file (was `build/.stamps/spark8t.sha256.json`, unversioned). */
  hash: 2,
  /** `<cache>/rootfs/<key>/.state.json`: a Debian root (was `.complete`, key `v: 4`). */
  rootfs: 5,
  /** `<cache>/rootfs/<key>/root.diff.state.json`: its files that differ from minbase (was `.diff.complete`). */
  'rootfs-diff': 2,
  /** `<cache>/layers/<key>.json`: a layer blob (was rock.ts FORMAT 5). */
  layer: 6,
  /** `<cache>/parts/<name>-<key>/.state.json`: an override-build's install tree (was SCRIPTLET_FORMAT 1 + `.complete`). */
  scriptlet: 2,
  /** `build/.stamps/<rock>.state.json`: the archive in dist/ and its layers (was `.digest` + `.layers`). */
  rock: 2,
  /** `build/.stamps/<snap>.state.json`: the snap in dist/ (was `.key`, `v: 3`). */
  snap: 4,
} as const;
export type RecordKind = keyof typeof FORMATS;

/**
 * What every key names besides the step's own inputs: the release cell's architecture (the resolved
 * line's `arch`) and Java version (`null` for a step that contains no Java, e.g. spark8t).
 */
export interface Cell {
  arch: string;
  java: number | null;
  /** The built-in backend's Debian suite for the cell's Java (Debian roots only; bookworm when absent). */
  suite?: string;
}

/** A step's decision: run it (with why) or skip it (with why it is current). */
export interface Decision {
  step: string;
  run: boolean;
  reason: string;
}

export interface StepRecord<D = unknown> {
  kind: RecordKind;
  format: number;
  arch: string;
  java: number | null;
  /** stepKey(kind, cell, inputs): what a content-addressed cache names the output by. */
  key: string;
  /** Each named input's digest, so a changed one is named. */
  inputs: Record<string, string>;
  /** The files this record vouches for (relative to the record's folder) and their identity. */
  outputs: Record<string, string>;
  data?: D;
}

/** sha256 (hex) of a value's JSON (object keys sorted): an input's digest. */
export function digestOf(v: unknown): string {
  return createHash('sha256').update(canonical(v)).digest('hex');
}

function canonical(v: unknown): string {
  return JSON.stringify(v, (_, x) =>
    x && typeof x === 'object' && !Array.isArray(x) && !Buffer.isBuffer(x)
      ? Object.fromEntries(
          Object.keys(x as object)
            .sort()
            .map((k) => [k, (x as Record<string, unknown>)[k]]),
        )
      : x,
  );
}

/** Pure: the key of a step: its kind, that kind's format, the cell and every named input. */
export function stepKey(kind: RecordKind, cell: Cell, inputs: Record<string, string>): string {
  return digestOf({ kind, format: FORMATS[kind], arch: cell.arch, java: cell.java, inputs });
}

const short = (d: string | undefined) => (d === undefined ? 'none' : d.length > 12 ? `${d.slice(0, 12)}…` : d);

/** Pure: the names of inputs that differ between two sets, with old → new digests. */
export function changedInputs(was: Record<string, string>, now: Record<string, string>): string[] {
  const names = [...new Set([...Object.keys(was), ...Object.keys(now)])].sort();
  return names
    .filter((n) => was[n] !== now[n])
    .map((n) => (was[n] === undefined ? `${n} (new)` : now[n] === undefined ? `${n} (gone)` : `${n} (${short(was[n])} → ${short(now[n])})`));
}

/** Pure: why a record found is not of `kind` in the current format (undefined when it is). */
export function staleFormat(kind: RecordKind, found: unknown): string | undefined {
  const r = found as Partial<StepRecord> | null;
  if (!r || typeof r !== 'object' || Array.isArray(r)) return 'stale: unreadable record';
  const now = FORMATS[kind];
  if (typeof r.format !== 'number' || r.kind !== kind) return `stale: format ${typeof r.format === 'number' ? r.format : 'unknown'}, now ${now}`;
  if (r.format !== now) return `stale: format ${r.format}, now ${now}`;
  return undefined;
}

/**
 * Pure: does the record found (anything parsed from disk, or undefined) still stand for these
 * inputs of this cell? Outputs are checked apart (`outputsChanged`), as they need the disk.
 */
export function compareRecord(kind: RecordKind, cell: Cell, inputs: Record<string, string>, found: unknown): { run: boolean; reason: string } {
  if (found === undefined) return { run: true, reason: 'no record: never run here' };
  const stale = staleFormat(kind, found);
  if (stale) return { run: true, reason: stale };
  const r = found as StepRecord;
  const now = FORMATS[kind];
  if (r.arch !== cell.arch) return { run: true, reason: `architecture changed: ${r.arch} → ${cell.arch}` };
  if ((r.java ?? null) !== cell.java) return { run: true, reason: `Java changed: ${r.java} → ${cell.java}` };
  const changed = changedInputs(r.inputs ?? {}, inputs);
  if (changed.length) return { run: true, reason: `input changed: ${changed.join(', ')}` };
  return {
    run: false,
    reason: `current: ${Object.keys(inputs).length} inputs unchanged (format ${now}, ${cell.arch}${cell.java === null ? '' : `, Java ${cell.java}`})`,
  };
}

/** A record parsed from `file`; undefined when there is none, `{}`-like garbage when unreadable. */
export function readRecord(file: string): unknown {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return null; // unreadable: compareRecord calls it stale
  }
}

/** The identity of each output (a path relative to `base`, or absolute). */
export function identify(base: string, paths: string[]): Record<string, string> {
  return Object.fromEntries(paths.map((p) => [isAbsolute(p) ? relative(base, p) : p, fileIdentity(resolve(base, p))]));
}

/** The first output of a record that is missing or no longer the file recorded (its reason), else undefined. */
export function outputsChanged(base: string, outputs: Record<string, string> | undefined): string | undefined {
  for (const [p, id] of Object.entries(outputs ?? {})) {
    const f = resolve(base, p);
    if (!statSync(f, { throwIfNoEntry: false })) return `output missing: ${p}`;
    if (fileIdentity(f) !== id) return `output changed on disk: ${p} (size, mtime or inode)`;
  }
  return undefined;
}

/** Make a record for `file`'s folder (outputs relative to it). */
export function makeRecord<D>(file: string, kind: RecordKind, cell: Cell, inputs: Record<string, string>, outputs: string[] = [], data?: D): StepRecord<D> {
  return {
    kind,
    format: FORMATS[kind],
    arch: cell.arch,
    java: cell.java,
    key: stepKey(kind, cell, inputs),
    inputs,
    outputs: identify(dirname(file), outputs),
    ...(data === undefined ? {} : { data }),
  };
}

/** Write a record atomically (a reader never meets half of one). */
export async function writeRecord(file: string, rec: StepRecord<unknown>): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(rec, null, 1)}\n`);
}

/**
 * The decision for a step whose record is at `file`: compare it (format, cell, inputs), then
 * re-identify its outputs. `legacy` names files an older version of this code wrote instead, with
 * their format: found (and no record), they give "stale: format N, now M". `extra` is a check of
 * the step's own (e.g. staged jars still the verified files): its reason, or undefined when fine.
 */
export async function decide<D = unknown>(
  step: string,
  file: string,
  kind: RecordKind,
  cell: Cell,
  inputs: Record<string, string>,
  o: { legacy?: Array<{ file: string; format: number }>; force?: boolean; extra?: (rec: StepRecord<D>) => Promise<string | undefined> } = {},
): Promise<{ decision: Decision; record?: StepRecord<D> }> {
  let found = readRecord(file);
  if (found === undefined) {
    const old = o.legacy?.find((l) => existsSync(l.file));
    if (old) found = { kind, format: old.format };
  }
  let { run, reason } = compareRecord(kind, cell, inputs, found);
  const record = run ? undefined : (found as StepRecord<D>);
  if (record) {
    const why = outputsChanged(dirname(file), record.outputs) ?? (o.extra ? await o.extra(record) : undefined);
    if (why) ({ run, reason } = { run: true, reason: why });
  }
  if (!run && o.force) ({ run, reason } = { run: true, reason: 'forced (--force)' });
  return { decision: note({ step, run, reason }), record: run ? undefined : record };
}

/**
 * The digest of a big `file` (by `hash`), computed again only when its identity (size, mtime,
 * inode) differs from the one `record` holds, or the record is of another format or file. The
 * record is written only when the file did not change while it was hashed.
 */
export async function rememberedHash(file: string, record: string, hash: (f: string) => Promise<string>): Promise<string> {
  const identity = fileIdentity(file);
  const r = readRecord(record) as Partial<StepRecord<{ file?: string; digest?: string }>> | null | undefined;
  if (r && !staleFormat('hash', r) && r.data?.file === file && r.outputs?.[file] === identity && typeof r.data.digest === 'string') return r.data.digest;
  const digest = await hash(file);
  if (fileIdentity(file) === identity) {
    const rec: StepRecord<{ file: string; digest: string }> = {
      kind: 'hash',
      format: FORMATS.hash,
      arch: 'any',
      java: null,
      key: digest,
      inputs: {},
      outputs: { [file]: identity },
      data: { file, digest },
    };
    await writeRecord(record, rec);
  }
  return digest;
}

// The decisions of this run, in order, for `--explain`.
const journal: Decision[] = [];

/** Add a decision to the run's journal (and log it at DEBUG); returns it. */
export function note(d: Decision): Decision {
  journal.push(d);
  log.debug(`${d.step}: ${d.run ? 'runs' : 'skipped'}: ${d.reason}`);
  return d;
}

/** The decisions taken since the last `clearJournal()`. */
export function journalEntries(): Decision[] {
  return [...journal];
}

export function clearJournal(): void {
  journal.length = 0;
}

/** Pure: the journal as `--explain` prints it, one line per step. */
export function formatJournal(ds: Decision[]): string {
  const w = Math.max(0, ...ds.map((d) => d.step.length));
  return ds.map((d) => `${d.run ? 'ran    ' : 'skipped'}  ${d.step.padEnd(w)}  ${d.reason}`).join('\n');
}

// ---- the lock ----

interface Held {
  files: Set<string>;
}
const held = new AsyncLocalStorage<Held>();

/** What a waiting run says about the holder: written into the lock file by the holder. */
function holderOf(file: string): string {
  try {
    const h = JSON.parse(readFileSync(file, 'utf8')) as { pid?: number; command?: string; since?: string };
    return `pid ${h.pid} (${h.command}) since ${h.since}`;
  } catch {
    return 'another run';
  }
}

/**
 * Run `fn` holding the exclusive lock `file` (flock(2) on it). The lock is held by a child
 * `flock` process whose stdin is a pipe from this one: when this run ends or is killed (SIGKILL
 * too), the pipe closes, the child exits and the kernel releases the lock. Reentrant within one
 * call chain; two chains of one process exclude each other as two processes do. A run that has to
 * wait says once which run holds the lock (`what` names it for the user).
 */
export async function withLock<T>(file: string, what: string, fn: () => Promise<T>): Promise<T> {
  const f = resolve(file);
  const mine = held.getStore();
  if (mine?.files.has(f)) return fn();
  mkdirSync(dirname(f), { recursive: true });
  const child = spawn('flock', ['--exclusive', f, 'sh', '-c', 'echo locked; exec cat >/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  // 'close' (or, should it never come, 5 s: a child that failed to spawn).
  const exited = new Promise<void>((res) => {
    child.once('close', () => res());
    setTimeout(res, 5000).unref();
  });
  // Released when the child has exited (its lock fd closed), so the lock is free when withLock returns.
  const release = async () => {
    child.stdin.end();
    child.stdout.destroy();
    await exited;
  };
  try {
    await new Promise<void>((res, rej) => {
      let out = '';
      const said = setTimeout(() => log.warn(`waiting for the lock on ${what}: held by ${holderOf(f)}`), 250);
      child.on('error', (e) => {
        clearTimeout(said);
        rej(
          (e as NodeJS.ErrnoException).code === 'ENOENT' ? new UserError('E_TOOL', 'flock (util-linux) is not installed', { hint: 'install util-linux' }) : e,
        );
      });
      child.on('exit', (code) => {
        clearTimeout(said);
        rej(new UserError('E_STEP_LOCK', `could not take the lock on ${what} (${f}): flock exited with ${code}: ${stderr.trim()}`));
      });
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('locked')) {
          clearTimeout(said);
          child.removeAllListeners('exit');
          res();
        }
      });
    });
  } catch (e) {
    await release();
    throw e;
  }
  try {
    // In place (same inode: the lock is on it), for a run that waits to name us.
    writeFileSync(f, JSON.stringify({ pid: process.pid, command: commandLine(), since: new Date().toISOString() }));
    const store: Held = { files: new Set([...(mine?.files ?? []), f]) };
    return await held.run(store, fn);
  } finally {
    await release();
  }
}

function commandLine(): string {
  const args = process.argv.slice(2);
  return ['sparkcraft', ...args].join(' ').slice(0, 200);
}

const lockName = (name: string) => `${name.replace(/[^A-Za-z0-9_.-]+/g, '_')}.lock`;

/** A lock of the workspace (its build folders, dist/): `build/.locks/<name>.lock`. */
export function workspaceLock(ws: Pick<Workspace, 'root'>, name: string): string {
  return join(ws.root, 'build', '.locks', lockName(name));
}

/** A lock of the cache (`cache`, the workspace's) shared between checkouts: `<cache>/locks/<name>.lock`. */
export function cacheLock(cache: string, name: string): string {
  return join(cache, 'locks', lockName(name));
}
