/**
 * What keeps a no-op build cheap stays correct: the CLI bundle is made again when a source changes
 * (and what runs is the changed source), a remembered sha256 is used only while the file is the one
 * hashed, a render that changes nothing writes nothing, and a changed input after a no-op build
 * still rebuilds (only) what it is in. Speed itself is measured by `npm run bench:build`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { sha256File, sha256Remembered } from '../src/lib/hash.ts';
import { treeHolds, writeBuildFolder, type RenderedFile } from '../src/render/render.ts';
import { build } from '../src/pipeline.ts';
import { fileIdentity } from '../src/lib/fsx.ts';
import { workspace, type Workspace } from '../src/lib/workspace.ts';
import { writeFakeBase } from './support/fake-base.ts';
import { ROOT } from './support/k8s.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sparkcraft-noop-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ident = (p: string) => {
  const s = statSync(p);
  return [s.ino, s.mtimeMs, s.size, s.mode];
};

describe('a remembered sha256', () => {
  it('is used while size, mtime and inode are those recorded; any of them changed, the file is hashed again', async () => {
    const f = join(dir, 'exe');
    const rec = join(dir, 'exe.sha256.json');
    writeFileSync(f, 'one');
    const one = await sha256Remembered(f, rec);
    expect(one).toBe(await sha256File(f));
    // Not hashed again while unchanged: a record claiming another hash for the same identity is believed.
    const claim = JSON.parse(readFileSync(rec, 'utf8'));
    writeFileSync(rec, JSON.stringify({ ...claim, data: { ...claim.data, digest: 'a'.repeat(64) } }));
    expect(await sha256Remembered(f, rec)).toBe('a'.repeat(64));
    // The same claim in another record format is not believed: hashed again.
    writeFileSync(rec, JSON.stringify({ ...claim, format: claim.format - 1, data: { ...claim.data, digest: 'a'.repeat(64) } }));
    expect(await sha256Remembered(f, rec)).toBe(one);
    writeFileSync(rec, JSON.stringify({ file: f, identity: fileIdentity(f), sha256: 'a'.repeat(64) })); // the unversioned one of before
    expect(await sha256Remembered(f, rec)).toBe(one);
    // Content and size changed.
    writeFileSync(f, 'two, longer');
    expect(await sha256Remembered(f, rec)).toBe(await sha256File(f));
    // Same size and mtime, another inode (a rebuilt file renamed into place).
    const t = statSync(f).mtime;
    writeFileSync(`${f}.new`, 'TWO, LONGER');
    utimesSync(`${f}.new`, t, t);
    renameSync(`${f}.new`, f);
    expect(await sha256Remembered(f, rec)).toBe(await sha256File(f));
    // Same inode and size, another mtime (edited in place).
    const before = await sha256Remembered(f, rec);
    writeFileSync(f, 'two, LONGER');
    expect(await sha256Remembered(f, rec)).not.toBe(before);
    // Another path with the same record file: hashed.
    writeFileSync(join(dir, 'other'), 'other');
    expect(await sha256Remembered(join(dir, 'other'), rec)).toBe(await sha256File(join(dir, 'other')));
  });
});

describe('rendering into a build folder', () => {
  const files: RenderedFile[] = [
    { path: 'rockcraft.yaml', content: 'name: x\n', mode: 0o644 },
    { path: 'files/rock/opt/x.sh', content: '#!/bin/sh\n', mode: 0o755 },
    { path: 'files/rock/etc/x.conf', content: 'a=1\n', mode: 0o644 },
  ];
  it('writes nothing when the folder already holds what is rendered, and rewrites what differs', async () => {
    const b = join(dir, 'build');
    await writeBuildFolder(b, files);
    const m = join(b, 'rockcraft.yaml');
    const sh = join(b, 'files/rock/opt/x.sh');
    const was = [ident(m), ident(sh), ident(join(b, 'files'))];
    await writeBuildFolder(b, files);
    expect([ident(m), ident(sh), ident(join(b, 'files'))]).toEqual(was);
    // A changed mode, a changed content, a stray file, a missing file: each is put right.
    for (const spoil of [
      () => chmodSync(sh, 0o644),
      () => writeFileSync(sh, '#!/bin/sh\necho\n'),
      () => writeFileSync(join(b, 'files/rock/stray'), ''),
      () => rmSync(join(b, 'files/rock/etc/x.conf')),
      () => mkdirSync(join(b, 'files/rock/empty')),
    ]) {
      spoil();
      expect(
        treeHolds(
          join(b, 'files'),
          files.filter((f) => f.path.startsWith('files/')).map((f) => ({ ...f, path: f.path.slice(6) })),
          [],
        ),
      ).toBe(false);
      await writeBuildFolder(b, files);
      expect(readFileSync(sh, 'utf8')).toBe('#!/bin/sh\n');
      expect(statSync(sh).mode & 0o777).toBe(0o755);
      expect(readdirSync(join(b, 'files/rock')).sort()).toEqual(['etc', 'opt']);
      expect(readFileSync(join(b, 'files/rock/etc/x.conf'), 'utf8')).toBe('a=1\n');
    }
    writeFileSync(m, 'name: y\n');
    await writeBuildFolder(b, files);
    expect(readFileSync(m, 'utf8')).toBe('name: x\n');
  });
});

describe("the Debian packages' check (scripts/lib.sh apt_install)", () => {
  it("asks dpkg once, then again only after dpkg's database changed", async () => {
    // dpkg-query stubbed on PATH (`-W -f=FORMAT PKG...`: it records each call and reports every package installed).
    const bin = join(dir, 'bin');
    mkdirSync(bin, { recursive: true });
    const calls = join(dir, 'dpkg-calls');
    writeFileSync(join(bin, 'dpkg-query'), `#!/bin/sh\necho call >> "${calls}"\nshift 2\nfor p; do echo "$p install ok installed"; done\n`, { mode: 0o755 });
    const status = join(dir, 'dpkg-status');
    writeFileSync(status, 'one\n');
    const env = { PATH: `${bin}:${process.env.PATH}`, SPARKCRAFT_CACHE: join(dir, 'cache'), SPARKCRAFT_DPKG_STATUS: status };
    const check = () => execa('bash', ['-c', `. "${join(ROOT, 'scripts/lib.sh')}"; apt_install pigz jq`], { env });
    const n = () => readFileSync(calls, 'utf8').trim().split('\n').length;
    await check();
    expect(n()).toBe(1);
    await check();
    expect(n()).toBe(1);
    writeFileSync(status, 'two, longer\n'); // a package installed or removed
    await check();
    expect(n()).toBe(2);
    await check();
    expect(n()).toBe(2);
    // Another list of packages is checked on its own.
    await execa('bash', ['-c', `. "${join(ROOT, 'scripts/lib.sh')}"; apt_install pigz`], { env });
    expect(n()).toBe(3);
  });
});

describe('the CLI bundle (scripts/sparkcraft.sh)', () => {
  it('is made once, reused while src/ is unchanged, and made again from a changed source', async () => {
    // A copy of the checkout's scripts and sources (npm packages shared), so src/ can be changed.
    const root = join(dir, 'checkout');
    mkdirSync(root);
    for (const n of ['scripts', 'src']) cpSync(join(ROOT, n), join(root, n), { recursive: true });
    for (const n of ['package.json', 'package-lock.json', 'matrix.yaml', 'sparkcraft.lock.json']) cpSync(join(ROOT, n), join(root, n));
    symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
    const cli = (...args: string[]) => execa('bash', [join(root, 'scripts/sparkcraft.sh'), ...args], { reject: false });
    const first = await cli('--help');
    expect(first.exitCode).toBe(0);
    expect(first.stdout).toContain('Build, test and publish Spark rocks, snaps and the spark8t CLI');
    const bundles = () => readdirSync(join(root, 'build/cli')).filter((n) => n.endsWith('.mjs'));
    expect(bundles()).toHaveLength(1);
    const made = ident(join(root, 'build/cli', bundles()[0]!));
    await cli('--help');
    expect(bundles()).toHaveLength(1);
    expect(ident(join(root, 'build/cli', bundles()[0]!))).toEqual(made);
    // A changed source: another bundle, and it is what runs.
    const main = join(root, 'src/cli/main.ts');
    writeFileSync(main, readFileSync(main, 'utf8').replace("'Build, test and publish Spark rocks, snaps and the spark8t CLI'", "'A CHANGED DESCRIPTION'"));
    const changed = await cli('--help');
    expect(changed.stdout).toContain('A CHANGED DESCRIPTION');
    expect(bundles()).toHaveLength(2);
    // From the bundle (build/cli/), the project root is still the checkout's (import.meta.url is each
    // module's own source): its matrix.yaml is found.
    const resolve = await cli('publish', 'resolve', '--line', '3.5');
    expect(resolve.exitCode, resolve.stderr).toBe(0);
    expect(resolve.stdout).toContain('track=3.5');
    writeFileSync(join(root, 'matrix.yaml'), 'lines: [\n');
    const broken = await cli('publish', 'resolve', '--line', '3.5');
    expect(broken.exitCode).not.toBe(0);
    expect(broken.stderr).toContain(join(root, 'matrix.yaml'));
    // At DEBUG the error's stack is read through the bundle's source map: it names the source line.
    expect(readdirSync(join(root, 'build/cli')).filter((n) => n.endsWith('.mjs.map'))).toHaveLength(2);
    const debug = await cli('publish', 'resolve', '--line', '3.5', '--log-level', 'DEBUG');
    expect(debug.exitCode).not.toBe(0);
    expect(debug.stderr).toMatch(new RegExp(`at \\S+ \\(${join(root, 'src')}/[\\w/-]+\\.ts:\\d+:\\d+\\)`));
    expect(broken.stderr).not.toMatch(/^\s+at /m);
    // SPARKCRAFT_TSX=1 runs the sources through tsx.
    writeFileSync(main, readFileSync(main, 'utf8').replace("'A CHANGED DESCRIPTION'", "'THROUGH TSX'"));
    const tsx = await execa('bash', [join(root, 'scripts/sparkcraft.sh'), '--help'], { env: { SPARKCRAFT_TSX: '1' } });
    expect(tsx.stdout).toContain('THROUGH TSX');
    expect(bundles()).toHaveLength(2);
  }, 300_000);
});

describe('after a no-op build, a changed input still rebuilds', () => {
  let ws: Workspace;
  let base: string;
  beforeAll(async () => {
    // A workspace of its own with its own templates (changed below), the checkout's matrix and lock.
    const root = join(dir, 'ws');
    mkdirSync(root);
    for (const n of ['matrix.yaml', 'sparkcraft.lock.json']) symlinkSync(join(ROOT, n), join(root, n));
    cpSync(join(ROOT, 'templates'), join(root, 'templates'), { recursive: true });
    ws = workspace(root);
    base = join(dir, 'base.rock');
    await writeFakeBase(
      ws,
      base,
      { 'org.opencontainers.image.ref.name': 'charmed-spark', 'org.opencontainers.image.version': '3.5.9' },
      randomBytes(8).toString('hex'),
    );
  });
  it('the gpu flavour: unchanged → every layer and the archive reused; a changed template → only its layer and the archive', async () => {
    const o = { line: '3.5', flavour: 'gpu', backend: 'builtin' as const, baseArchive: base };
    const first = await build('rock', o, ws);
    const noop = await build('rock', o, ws);
    expect(noop.reused).toBe(true);
    expect(noop.layers!.every((l) => l.cached)).toBe(true);
    expect(ident(noop.artifact)).toEqual(ident(first.artifact));
    const conf = join(ws.templates, 'flavours/gpu/rock/etc/spark8t/conf/spark-defaults.conf.hbs');
    writeFileSync(conf, `${readFileSync(conf, 'utf8')}# changed ${randomBytes(4).toString('hex')}\n`);
    const changed = await build('rock', o, ws);
    expect(changed.reused).toBe(false);
    expect(changed.layers!.filter((l) => !l.cached).map((l) => l.comment)).toEqual(['part gpu-config']);
    expect(changed.manifestDigest).not.toBe(first.manifestDigest);
    expect(changed.layers!.slice(0, -1).map((l) => l.digest)).toEqual(first.layers!.slice(0, -1).map((l) => l.digest));
  }, 1_200_000);
});
