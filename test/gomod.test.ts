/**
 * src/lib/gomod.ts (pure): a module zip's h1: hash as go.sum records it, go.sum and go.mod parsing,
 * and the committed build module of pebble (scripts/pebble) against the matrix. The zips are made here;
 * the expected h1 was computed apart from this code (sha256sum per file, sorted, sha256sum | base64).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { goModRequires, hash1, moduleZipHash, parseGoSum, zipFiles } from '../src/lib/gomod.ts';
import { goEnv, goFailure } from '../src/lib/tools/go.ts';
import { loadMatrix } from '../src/config/matrix.ts';
import { projectRoot } from '../src/lib/paths.ts';
import { makeZip } from './support/zip.ts';

const zip = makeZip;

const MODULE = [
  { name: 'm@v1.0.0/' },
  { name: 'm@v1.0.0/sub/f.go', data: 'package sub\n\nfunc F() {}\n' },
  { name: 'm@v1.0.0/big.txt', data: 'zz'.repeat(300), deflate: true },
  { name: 'm@v1.0.0/go.mod', data: 'module m\n' },
];
const H1 = 'h1:8PV0Kew6IMC35LiCSrdvMahp9ao/pRPXyE2QTSYe7RE=';

describe('module zip hash (h1:)', () => {
  it('reads stored and deflated entries, skips directories, and hashes as dirhash.Hash1', () => {
    const z = zip(MODULE);
    expect(zipFiles(z).map((f) => f.name)).toEqual(['m@v1.0.0/sub/f.go', 'm@v1.0.0/big.txt', 'm@v1.0.0/go.mod']);
    expect(zipFiles(z)[1]!.data.toString()).toBe('zz'.repeat(300));
    expect(moduleZipHash(z)).toBe(H1);
    // The order of the archive does not matter, its names and contents do.
    expect(moduleZipHash(zip([...MODULE].reverse()))).toBe(H1);
    expect(moduleZipHash(zip(MODULE.map((e) => (e.name.endsWith('go.mod') ? { ...e, data: 'module m2\n' } : e))))).not.toBe(H1);
    expect(moduleZipHash(zip(MODULE.map((e) => (e.name.endsWith('f.go') ? { ...e, name: 'm@v1.0.0/sub/g.go' } : e))))).not.toBe(H1);
  });
  it('refuses what is not a zip, and a file name with a newline', () => {
    expect(() => zipFiles(Buffer.from('not a zip at all, just some bytes'))).toThrow(/not a zip archive/);
    expect(() => hash1([{ name: 'a\nb', data: Buffer.from('') }])).toThrow(/newline/);
  });
});

describe('go.sum and go.mod', () => {
  it('go.sum: module version (and version/go.mod) → h1, a malformed line refused with its number', () => {
    const s = parseGoSum(`a.example/m v1.0.0 ${H1}\na.example/m v1.0.0/go.mod ${H1}\n\n`);
    expect([...s.keys()]).toEqual(['a.example/m v1.0.0', 'a.example/m v1.0.0/go.mod']);
    expect(() => parseGoSum(`a.example/m v1.0.0 ${H1}\na.example/m v1.0.0 h1:short=\n`)).toThrow(/^go\.sum line 2 /);
  });
  it('go.mod: single require lines and require blocks, comments dropped', () => {
    const r = goModRequires(
      'module x\n\ngo 1.24\n\nrequire a.example/m v1.2.3\n\nrequire (\n\tb.example/n v0.1.0 // indirect\n\tc.example/o v2.0.0+incompatible\n)\n',
    );
    expect(Object.fromEntries(r)).toEqual({ 'a.example/m': 'v1.2.3', 'b.example/n': 'v0.1.0', 'c.example/o': 'v2.0.0+incompatible' });
  });
  it("scripts/pebble pins the matrix's pebble, and go.sum has a hash of every module go.mod requires", () => {
    const pebble = loadMatrix().project.pebble;
    const dir = join(projectRoot, 'scripts', 'pebble');
    const req = goModRequires(readFileSync(join(dir, 'go.mod'), 'utf8'));
    const sum = parseGoSum(readFileSync(join(dir, 'go.sum'), 'utf8'));
    expect(req.get(pebble.module)).toBe(pebble.version);
    const missing = [...req].flatMap(([m, v]) => [`${m} ${v}`, `${m} ${v}/go.mod`]).filter((k) => !sum.has(k));
    expect(missing).toEqual([]);
  });
});

describe("go's environment and failures (src/lib/tools/go.ts, pure)", () => {
  it('-mod=readonly, the checksum database on, and no variable that exempts modules from it', () => {
    const e = goEnv('/c', {
      PATH: '/bin',
      HOME: '/h',
      GOSUMDB: 'off',
      GONOSUMDB: '*',
      GONOSUMCHECK: '1',
      GOPRIVATE: '*',
      GONOPROXY: '*',
      GOINSECURE: '*',
      GOFLAGS: '-mod=mod',
      GOPROXY: 'https://mirror.example',
    });
    expect(e).toMatchObject({
      GOFLAGS: '-mod=readonly',
      GOSUMDB: 'sum.golang.org',
      GOMODCACHE: '/c/go/mod',
      GOCACHE: '/c/go/build',
      GOTOOLCHAIN: 'local',
      HOME: '/h',
      GOPROXY: 'https://mirror.example',
    });
    for (const k of ['GONOSUMDB', 'GONOSUMCHECK', 'GOPRIVATE', 'GONOPROXY', 'GOINSECURE']) expect(e, k).not.toHaveProperty(k);
    // A checksum database of one's own is kept.
    expect(goEnv('/c', { GOSUMDB: 'sum.example.com+key' }).GOSUMDB).toBe('sum.example.com+key');
  });
  // go 1.26's own words (captured from the runs of test/go-pins.test.ts and by hand).
  const PINS = join(projectRoot, 'scripts', 'pebble');
  it('a checksum mismatch, a missing go.sum entry, an altered module cache: each E_GO_SUM in one line', () => {
    const mismatch =
      'verifying github.com/canonical/pebble@v1.26.0: checksum mismatch\n\tdownloaded: h1:jgEKJGO0QSn0KB4nZz2YUnKub6YpwuwcjX7G13I+2Yw=\n\tgo.sum:     h1:jsPJmHe/E5PU6epAoq8QC/U2itPsMX947/oP4zcsWCA=\n\nSECURITY ERROR\nThis download does NOT match an earlier download recorded in go.sum.\n';
    expect(goFailure(mismatch, PINS)).toEqual({
      code: 'E_GO_SUM',
      message:
        'github.com/canonical/pebble@v1.26.0 does not match scripts/pebble/go.sum (downloaded h1:jgEKJGO0QSn0KB4nZz2YUnKub6YpwuwcjX7G13I+2Yw=, go.sum h1:jsPJmHe/E5PU6epAoq8QC/U2itPsMX947/oP4zcsWCA=)',
    });
    const missing =
      '/c/go/mod/github.com/canonical/go-flags@v0.0.0-20230403090104-105d09a091b8/termsize.go:6:2: missing go.sum entry for module providing package golang.org/x/sys/unix (imported by github.com/canonical/pebble/internals/cli); to add:\n\tgo get github.com/canonical/pebble/internals/cli@v1.26.0\n';
    expect(goFailure(missing, PINS)).toEqual({
      code: 'E_GO_SUM',
      message:
        'scripts/pebble/go.sum lacks a hash go needs: missing go.sum entry for module providing package golang.org/x/sys/unix (imported by github.com/canonical/pebble/internals/cli)',
    });
    expect(goFailure('github.com/canonical/pebble v1.26.0: dir has been modified (/c/go/mod/github.com/canonical/pebble@v1.26.0)\n', PINS).message).toBe(
      "the module cache's copy does not match scripts/pebble/go.sum: github.com/canonical/pebble v1.26.0: dir has been modified (/c/go/mod/github.com/canonical/pebble@v1.26.0)",
    );
    expect(goFailure('# pkg\n./x.go:1:1: syntax error\n', PINS)).toEqual({ code: 'E_GO_BUILD', message: './x.go:1:1: syntax error' });
  });
});
