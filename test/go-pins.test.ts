/**
 * pebble is built from scripts/pebble (go.mod + go.sum committed, -mod=readonly): a module that does not
 * match its go.sum hash, or that go.sum has no hash of, is refused in one line, and so is a build module
 * that does not pin the lock's zip. The modules come from a file:// Go proxy of ours (a copy of the
 * cache's verified downloads) into an empty module cache, so the tampered cases need no network.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { goBuildCached, type PinnedModule } from '../src/lib/tools/go.ts';
import { hash1, moduleZipHash } from '../src/lib/gomod.ts';
import { UserError } from '../src/lib/errors.ts';
import { cacheDir, projectRoot } from '../src/lib/paths.ts';
import { fetchVerified } from '../src/stage/fetch.ts';
import { lockedInputsFor, readLock } from '../src/stage/lock.ts';
import { loadMatrix, resolveLine } from '../src/config/matrix.ts';

const r = resolveLine(loadMatrix(), {});
const pebble = lockedInputsFor(r.project, r.line, readLock()).find((i) => i.kind === 'go')!;
const PKG = `${pebble.name}/cmd/pebble`;
const PINS = join(projectRoot, 'scripts', 'pebble');
const SHARED = cacheDir();
const cell = { arch: 'amd64', java: null };
/** Go's module path escaping (upper case → !lower case), as its cache and proxies lay paths out. */
const esc = (p: string) => p.replace(/[A-Z]/g, (c) => `!${c.toLowerCase()}`);
const sumModules = () =>
  [
    ...new Set(
      readFileSync(join(PINS, 'go.sum'), 'utf8')
        .trim()
        .split('\n')
        .map((l) =>
          l
            .split(' ')
            .slice(0, 2)
            .join(' ')
            .replace(/\/go\.mod$/, ''),
        ),
    ),
  ].map((l) => l.split(' ') as [string, string]);
let mod: PinnedModule;

beforeAll(async () => {
  mod = { ...pebble, zip: await fetchVerified(SHARED, pebble.id, pebble.url, pebble.sha256) };
  // Every module go.sum names in the shared module cache, verified against go.sum by go itself.
  const work = mkdtempSync(join(tmpdir(), 'go-pins-dl-'));
  for (const f of ['go.mod', 'go.sum', 'tools.go']) copyFileSync(join(PINS, f), join(work, f));
  await execa('go', ['mod', 'download'], {
    cwd: work,
    env: { GOMODCACHE: join(SHARED, 'go', 'mod'), GOFLAGS: '-mod=readonly', GOTOOLCHAIN: 'local', PATH: `${process.env.PATH}:/usr/local/go/bin` },
  });
  rmSync(work, { recursive: true, force: true });
}, 600_000);

/** A file:// Go proxy with every module of go.sum, pebble's zip replaced by `zip` when given. */
function proxy(root: string, zip?: string): string {
  const from = join(SHARED, 'go', 'mod', 'cache', 'download');
  for (const [m, v] of sumModules()) {
    const at = join(root, esc(m), '@v');
    mkdirSync(at, { recursive: true });
    for (const ext of ['info', 'mod', 'zip'])
      if (existsSync(join(from, esc(m), '@v', `${v}.${ext}`))) copyFileSync(join(from, esc(m), '@v', `${v}.${ext}`), join(at, `${v}.${ext}`));
  }
  if (zip) copyFileSync(zip, join(root, esc(pebble.name), '@v', `${pebble.version}.zip`));
  return `file://${root}`;
}

/** pebble's module zip with its version string changed: a valid module, other bytes than the lock's. */
async function tamperedZip(dir: string): Promise<string> {
  const src = join(dir, 'src');
  await execa('unzip', ['-q', mod.zip, '-d', src]);
  const f = join(src, `${pebble.name}@${pebble.version}`, 'cmd', 'version.go');
  writeFileSync(f, readFileSync(f, 'utf8').replace(`var Version = "${pebble.version}"`, 'var Version = "v6.6.6-tampered"'));
  const out = join(dir, 'tampered.zip');
  await execa('zip', ['-q', '-X', '-D', '-r', out, '.'], { cwd: src });
  return out;
}

/** A cache of its own (empty module cache), sharing only Go's build cache (content-addressed) with the real one. */
function scratchCache(): string {
  const c = mkdtempSync(join(tmpdir(), 'go-pins-'));
  mkdirSync(join(c, 'go'), { recursive: true });
  symlinkSync(join(SHARED, 'go', 'build'), join(c, 'go', 'build'));
  dirs.push(c);
  return c;
}
function scratch(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}
/** A copy of scripts/pebble with its go.mod or go.sum changed by `edit`. */
function pinsWith(file: 'go.mod' | 'go.sum', edit: (text: string) => string): string {
  const d = scratch('go-pins-mod-');
  for (const f of ['go.mod', 'go.sum', 'tools.go']) copyFileSync(join(PINS, f), join(d, f));
  writeFileSync(join(d, file), edit(readFileSync(join(d, file), 'utf8')));
  return d;
}

/** The environment go starts from in a test: this process's with `vars` over it (process.env itself is never changed). */
const envWith = (vars: Record<string, string>): NodeJS.ProcessEnv => ({ ...process.env, ...vars });
const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) {
    // Go leaves its module cache read-only.
    await execa('chmod', ['-R', 'u+w', d]);
    rmSync(d, { recursive: true, force: true });
  }
});

/** What a build came to: the built pebble's version, or the refusal's code and one-line message. */
const outcome = (p: Promise<string>) =>
  p.then(
    async (bin) => `built: ${(await execa(bin, ['version', '--client'])).stdout}`,
    (e: Error) => {
      if (!(e instanceof UserError)) throw e;
      expect(e.message).not.toContain('\n');
      return `refused: ${e.code} ${e.message}`;
    },
  );
const binaries = (c: string) => (existsSync(join(c, 'bin')) ? readdirSync(join(c, 'bin')) : []);

describe('pebble from its pinned Go module', () => {
  it('a proxy serving a tampered pebble zip is refused, the checksum database off or not', async () => {
    const c = scratchCache();
    const p = scratch('go-pins-proxy-');
    const env = envWith({ GOPROXY: proxy(join(p, 'proxy'), await tamperedZip(p)), GOSUMDB: 'off', GONOSUMDB: '*', GOPRIVATE: '*', GOFLAGS: '-mod=mod' });
    const got = await outcome(goBuildCached(c, 'pebble', mod, PKG, 'amd64', cell, undefined, env));
    console.log(got);
    expect(got).toMatch(
      new RegExp(
        `^refused: E_GO_SUM building pebble ${pebble.version}: ${pebble.name}@${pebble.version} does not match scripts/pebble/go\\.sum \\(downloaded h1:\\S+, go\\.sum ${moduleZipHash(readFileSync(mod.zip)).replace(/[+/]/g, '\\$&')}\\)$`,
      ),
    );
    expect(binaries(c)).toEqual([]);
  }, 300_000);

  it('a module cache copy altered on disk after its download is refused', async () => {
    const c = scratchCache();
    const p = scratch('go-pins-proxy-');
    // The checksum database on (reached through the real proxy; every module itself is in ours).
    const env = envWith({ GOPROXY: `${proxy(join(p, 'proxy'))},https://proxy.golang.org` });
    const t0 = Date.now();
    const first = await outcome(goBuildCached(c, 'pebble', mod, PKG, 'amd64', cell, undefined, env));
    console.log(`genuine build, empty module cache: ${Date.now() - t0} ms`);
    expect(first).toBe(`built: ${pebble.version}`);
    // The extracted copy go builds from, changed in place; the built binary and its record gone.
    const f = join(c, 'go', 'mod', `${esc(pebble.name)}@${pebble.version}`, 'cmd', 'version.go');
    chmodSync(dirname(f), 0o755);
    chmodSync(f, 0o644);
    writeFileSync(f, readFileSync(f, 'utf8').replace(`var Version = "${pebble.version}"`, 'var Version = "v6.6.6-altered"'));
    for (const b of binaries(c)) rmSync(join(c, 'bin', b));
    const got = await outcome(goBuildCached(c, 'pebble', mod, PKG, 'amd64', cell, undefined, env));
    console.log(got);
    expect(got).toMatch(
      new RegExp(
        `^refused: E_GO_SUM building pebble ${pebble.version}: the module cache's copy does not match scripts/pebble/go\\.sum: ${pebble.name} ${pebble.version}: dir has been modified \\(`,
      ),
    );
    expect(binaries(c)).toEqual([]);
    // …and with the cache made consistent with the altered copy (its zip gone, the hash it recorded of the
    // download rewritten to the copy's): `go mod verify` finds nothing, go.sum still says no.
    const root = join(c, 'go', 'mod', `${esc(pebble.name)}@${pebble.version}`);
    const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
    const altered = hash1(walk(root).map((p) => ({ name: `${pebble.name}@${pebble.version}/${relative(root, p)}`, data: readFileSync(p) })));
    const ziphash = join(c, 'go', 'mod', 'cache', 'download', esc(pebble.name), '@v', `${pebble.version}.ziphash`);
    chmodSync(dirname(ziphash), 0o755);
    chmodSync(ziphash, 0o644);
    writeFileSync(ziphash, altered);
    rmSync(join(dirname(ziphash), `${pebble.version}.zip`));
    const again = await outcome(goBuildCached(c, 'pebble', mod, PKG, 'amd64', cell, undefined, env));
    console.log(again);
    expect(again).toBe(
      `refused: E_GO_SUM building pebble ${pebble.version}: ${pebble.name}@${pebble.version} does not match scripts/pebble/go.sum (downloaded ${altered}, go.sum ${moduleZipHash(readFileSync(mod.zip))})`,
    );
    expect(binaries(c)).toEqual([]);
  }, 300_000);

  it('a go.sum without the hash of one module of the build is refused', async () => {
    const c = scratchCache();
    const env = envWith({ GOPROXY: proxy(join(scratch('go-pins-proxy-'), 'proxy')) });
    const pins = pinsWith('go.sum', (s) => s.replace(/^golang\.org\/x\/sys v0\.33\.0 h1:.*\n/m, ''));
    expect(readFileSync(join(pins, 'go.sum'), 'utf8')).not.toMatch(/^golang\.org\/x\/sys v0\.33\.0 h1:/m);
    const got = await outcome(goBuildCached(c, 'pebble', mod, PKG, 'amd64', cell, pins, env));
    console.log(got);
    expect(got).toMatch(new RegExp(`^refused: E_GO_SUM building pebble ${pebble.version}: ${pins}/go\\.sum lacks a hash go needs: .*golang\\.org/x/sys`));
    expect(binaries(c)).toEqual([]);
  }, 300_000);

  it('a go.sum or go.mod that does not pin the zip the lock names is refused before go runs', async () => {
    const c = scratchCache();
    const h1 = moduleZipHash(readFileSync(mod.zip));
    const other = `h1:${'A'.repeat(43)}=`;
    const sum = pinsWith('go.sum', (s) => s.replace(`${pebble.name} ${pebble.version} ${h1}`, `${pebble.name} ${pebble.version} ${other}`));
    expect(await outcome(goBuildCached(c, 'pebble', mod, PKG, 'amd64', cell, sum))).toBe(
      `refused: E_GO_SUM ${sum}/go.sum pins ${pebble.name} ${pebble.version} at ${other}; the locked zip (sha256 ${pebble.sha256.slice(0, 12)}…) is ${h1}`,
    );
    const gomod = pinsWith('go.mod', (s) => s.replace(`${pebble.name} ${pebble.version}`, `${pebble.name} v1.0.0`));
    expect(await outcome(goBuildCached(c, 'pebble', mod, PKG, 'amd64', cell, gomod))).toBe(
      `refused: E_GO_SUM ${gomod}/go.mod requires ${pebble.name} v1.0.0, not ${pebble.version} (the lock's)`,
    );
    // go never ran: no module cache, no build folder.
    expect(readdirSync(join(c, 'go'))).toEqual(['build']);
  }, 60_000);

  it('the genuine build is kept under a key of the pins: the same pins reuse it, other pins build apart', async () => {
    const c = scratchCache();
    const env = envWith({ GOPROXY: proxy(join(scratch('go-pins-proxy-'), 'proxy')) });
    const a = await goBuildCached(c, 'pebble', mod, PKG, 'amd64', cell, undefined, env);
    expect((await execa(a, ['version', '--client'])).stdout).toBe(pebble.version);
    const record = JSON.parse(readFileSync(`${a}.state.json`, 'utf8'));
    expect(record.inputs).toMatchObject({ zip: pebble.sha256, module: pebble.name, version: pebble.version });
    expect(record.inputs['go.sum']).toMatch(/^[0-9a-f]{64}$/);
    const t0 = Date.now();
    expect(await goBuildCached(c, 'pebble', mod, PKG, 'amd64', cell, undefined, env)).toBe(a);
    console.log(`current build reused: ${Date.now() - t0} ms`);
    // One more (unused) hash line: go.sum is other bytes, so the binary is another one.
    const more = pinsWith('go.sum', (s) => `${s}gopkg.in/yaml.v3 v3.0.0/go.mod h1:${'B'.repeat(43)}=\n`);
    const b = await goBuildCached(c, 'pebble', mod, PKG, 'amd64', cell, more, env);
    expect(b).not.toBe(a);
    expect(binaries(c).filter((f) => !f.endsWith('.state.json'))).toHaveLength(2);
  }, 300_000);
});
