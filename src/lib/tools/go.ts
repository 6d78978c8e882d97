/**
 * The Go toolchain: build a command of a module at a pinned version from a build module committed in
 * the repository (scripts/<name>: go.mod requiring the module at that version, go.sum with the hash of
 * every module of the build, tools.go importing the command), with -mod=readonly: nothing is resolved
 * anew and nothing is added to go.sum, so a module whose hash go.sum does not hold, or holds another
 * one for, is refused. The lock's sha256 of the module zip (what the SBOM names) is checked to be the
 * module go.sum pins before go runs, and the module cache's copies are verified (`go mod verify`).
 */
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { UserError } from '../errors.ts';
import { goModRequires, moduleZipHash, parseGoSum } from '../gomod.ts';
import { temporary } from '../interrupt.ts';
import { projectRoot } from '../paths.ts';
import { cacheLock, decide, makeRecord, stepKey, withLock, writeRecord, type Cell } from '../state.ts';

/** The committed build module of the Go command `name` (go.mod, go.sum, tools.go). */
export const goPins = (name: string): string => join(projectRoot, 'scripts', name);
const PIN_FILES = ['go.mod', 'go.sum', 'tools.go'] as const;

/** Variables that would let go skip the checksum database for some modules (moot with a complete go.sum, dropped anyway). */
const UNCHECKED = ['GONOSUMDB', 'GONOSUMCHECK', 'GOPRIVATE', 'GONOPROXY', 'GOINSECURE', 'GOFLAGS'];

/**
 * Go's whole environment for a pinned build (pure): the caller's, without the variables that exempt
 * modules from checks, with the checksum database on, -mod=readonly, and the module and build caches
 * under `cache` (the workspace's).
 */
export function goEnv(cache: string, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const e: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !UNCHECKED.includes(k)) e[k] = v;
  if (!e.GOSUMDB || e.GOSUMDB === 'off') e.GOSUMDB = 'sum.golang.org';
  return {
    ...e,
    GOMODCACHE: join(cache, 'go', 'mod'),
    GOCACHE: join(cache, 'go', 'build'),
    GOFLAGS: '-mod=readonly',
    GOTOOLCHAIN: 'local',
    CGO_ENABLED: '0',
    PATH: `${env.PATH ?? ''}:/usr/local/go/bin`,
  };
}

/** A module zip the lock pins: its module path, version, sha256, and the verified file (fetchVerified). */
export interface PinnedModule {
  name: string;
  version: string;
  sha256: string;
  zip: string;
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
/** A path as the user finds it: relative inside the project, whole outside it. */
const shown = (f: string) => {
  const r = relative(projectRoot, f);
  return r && !r.startsWith('..') && !isAbsolute(r) ? r : f;
};

/**
 * Pure: refuses the build module `pins` (its files' texts) unless its go.mod requires `mod` at the
 * pinned version and its go.sum holds the hash of the locked zip (`zipH1`, computed from its bytes).
 */
export function checkPins(
  dir: string,
  files: { 'go.mod': string; 'go.sum': string },
  mod: { name: string; version: string; sha256: string },
  zipH1: string,
): void {
  const hint = `regenerate ${shown(dir)} on purpose (see its README), then rebuild`;
  const req = goModRequires(files['go.mod']).get(mod.name);
  if (req !== mod.version)
    throw new UserError('E_GO_SUM', `${shown(join(dir, 'go.mod'))} requires ${mod.name} ${req ?? '(nothing)'}, not ${mod.version} (the lock's)`, { hint });
  let sums: Map<string, string>;
  try {
    sums = parseGoSum(files['go.sum']);
  } catch (e) {
    throw new UserError('E_GO_SUM', `${shown(join(dir, 'go.sum'))}: ${(e as Error).message}`, { hint });
  }
  const pinned = sums.get(`${mod.name} ${mod.version}`);
  if (pinned !== zipH1)
    throw new UserError(
      'E_GO_SUM',
      `${shown(join(dir, 'go.sum'))} ${pinned ? `pins ${mod.name} ${mod.version} at ${pinned}` : `has no hash of ${mod.name} ${mod.version}`}; the locked zip (sha256 ${mod.sha256.slice(0, 12)}…) is ${zipH1}`,
      { hint },
    );
}

/**
 * Pure: go's failure (its stderr) as one line: a module that does not match go.sum, a module go.sum
 * has no hash of, a module cache copy altered on disk, else go's last line.
 */
export function goFailure(stderr: string, pins: string): { code: 'E_GO_SUM' | 'E_GO_BUILD'; message: string } {
  const lines = stderr.split('\n').map((l) => l.trim());
  const sum = shown(join(pins, 'go.sum'));
  const mismatch = lines.findIndex((l) => /checksum mismatch/.test(l));
  if (mismatch >= 0) {
    const what = /(?:verifying )?(\S+@\S+?):? (?:verifying module: )?checksum mismatch/.exec(lines[mismatch]!)?.[1] ?? lines[mismatch]!;
    const got = lines.find((l) => l.startsWith('downloaded:'))?.replace(/^downloaded:\s*/, '');
    const want = lines.find((l) => l.startsWith('go.sum:'))?.replace(/^go\.sum:\s*/, '');
    return { code: 'E_GO_SUM', message: `${what.replace(/^go: /, '')} does not match ${sum}${got && want ? ` (downloaded ${got}, go.sum ${want})` : ''}` };
  }
  const missing = lines.find((l) => /missing go\.sum entry/.test(l));
  if (missing)
    return {
      code: 'E_GO_SUM',
      message: `${sum} lacks a hash go needs: ${missing
        .replace(/^go: /, '')
        .replace(/^\S+\.go:\d+:\d+: /, '')
        .replace(/;? to add( it)?:$/, '')}`,
    };
  const modified = lines.find((l) => /(dir|zip) has been modified/.test(l));
  if (modified) return { code: 'E_GO_SUM', message: `the module cache's copy does not match ${sum}: ${modified.replace(/^go: /, '')}` };
  return { code: 'E_GO_BUILD', message: lines.filter(Boolean).pop() ?? 'go failed without a message' };
}

/**
 * Build `pkg` (a main package of the locked module `mod`) for linux/`goarch` into the cache, once per
 * cell, zip and build module: `<cache>/bin/<name>-<version>-<key>`, its record beside it
 * (`.state.json`) vouching for the file; the key names the lock's sha256 and the hashes of the
 * committed go.mod, go.sum and tools.go. Under a cache lock: two runs never write the same temporary.
 */
export async function goBuildCached(
  cache: string,
  name: string,
  mod: PinnedModule,
  pkg: string,
  goarch: string,
  cell: Cell,
  pins = goPins(name),
  /** The caller's environment Go starts from (goEnv drops what would skip a check); tests pass their proxy here. */
  callerEnv: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const files = Object.fromEntries(
    PIN_FILES.map((f) => {
      try {
        return [f, readFileSync(join(pins, f), 'utf8')];
      } catch {
        throw new UserError('E_GO_SUM', `${shown(join(pins, f))} is missing: ${name} is built only from its committed go.mod and go.sum`);
      }
    }),
  ) as Record<(typeof PIN_FILES)[number], string>;
  const inputs = {
    module: mod.name,
    version: mod.version,
    zip: mod.sha256,
    ...Object.fromEntries(PIN_FILES.map((f) => [f, sha256(files[f])])),
    pkg,
    goos: 'linux',
    goarch,
  };
  const key = stepKey('go-build', cell, inputs).slice(0, 16);
  const out = join(cache, 'bin', `${name}-${mod.version}-${key}`);
  const record = `${out}.state.json`;
  return withLock(cacheLock(cache, `go-${name}-${mod.version}-${key}`), `building ${name} ${mod.version}`, async () => {
    if (!(await decide(`go build ${name} ${mod.version}`, record, 'go-build', cell, inputs)).decision.run) return out;
    // Only before a build: a cached binary's record names this zip and these pins, checked when it was built.
    checkPins(pins, files, mod, moduleZipHash(readFileSync(mod.zip)));
    await goBuild(cache, name, mod.version, pkg, goarch, out, pins, files, key, callerEnv);
    await writeRecord(record, makeRecord(record, 'go-build', cell, inputs, [out]));
    return out;
  });
}

async function goBuild(
  cache: string,
  name: string,
  version: string,
  pkg: string,
  goarch: string,
  out: string,
  pins: string,
  files: Record<(typeof PIN_FILES)[number], string>,
  key: string,
  callerEnv: NodeJS.ProcessEnv,
): Promise<void> {
  // A fresh copy of the committed module: go reads it, and -mod=readonly keeps it as it is.
  const work = join(cache, 'go', `${name}-build-${version}-${key}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  for (const f of PIN_FILES) writeFileSync(join(work, f), files[f]);
  const env = { ...goEnv(cache, callerEnv), GOOS: 'linux', GOARCH: goarch };
  try {
    // The module cache's copies (a cold cache downloads, each download checked against go.sum).
    await execa('go', ['mod', 'verify'], { cwd: work, env, extendEnv: false });
    await execa('nice', ['go', 'build', '-mod=readonly', '-trimpath', '-ldflags=-s -w', '-o', temporary(`${out}.tmp`), pkg], {
      cwd: work,
      env,
      extendEnv: false,
    });
  } catch (e) {
    const err = e as { code?: string; stderr?: string };
    rmSync(`${out}.tmp`, { force: true });
    if (err.code === 'ENOENT') throw new UserError('E_TOOL', 'the Go toolchain (go) is not installed', { hint: 'install Go ≥ 1.24 and re-run' });
    const f = goFailure(err.stderr ?? '', pins);
    throw new UserError(f.code, `building ${name} ${version}: ${f.message}`);
  }
  for (const f of ['go.mod', 'go.sum'] as const)
    if (readFileSync(join(work, f), 'utf8') !== files[f])
      throw new UserError('E_GO_SUM', `building ${name} ${version}: go changed ${f} (-mod=readonly did not hold)`);
  renameSync(`${out}.tmp`, out);
}
