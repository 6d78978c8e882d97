/**
 * A layered flavour over a given base oci-archive (`build rock --flavour gpu --base-archive FILE`,
 * what the release does with the base it publishes): the flavour's manifest lists that archive's
 * layers digest for digest (skopeo reads both), its own layers' parent directories take the base's
 * metadata, and an archive that is not the line's base is refused in one line with nothing written.
 * The base here is not one the built-in backend would make (its own small layers), so the test
 * fails if the flavour were layered over a rebuilt base instead.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  writeSync,
  closeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import type { Packed } from '../src/pack/pack.ts';
import { build } from '../src/pipeline.ts';
import type { LayerBlob } from '../src/pack/layer.ts';
import { RUN_USER, writeFakeBase } from './support/fake-base.ts';
import { imageIdentity, importBaseArchive, layerDirs } from '../src/pack/base-archive.ts';
import { indexTar } from '../src/lib/tar-read.ts';
import { blocks, END, tarHeader } from './support/crafted-tar.ts';
import { gzipSync } from 'node:zlib';
import { writeTar, type TarEntry } from '../src/pack/tar.ts';
import { loadMatrix, resolveLine } from '../src/config/matrix.ts';
import { workspace, type Workspace } from '../src/lib/workspace.ts';
import { UserError } from '../src/lib/errors.ts';
import { ROOT } from './support/k8s.ts';

const r = resolveLine(loadMatrix(), { line: '3.5', flavour: 'gpu' });
const MTIME = 1_700_000_000;
let dir: string;
let ws: Workspace;

type Manifest = { config: { digest: string }; layers: Array<{ mediaType: string; digest: string; size: number }> };
const manifestOf = async (archive: string) => JSON.parse((await execa('skopeo', ['inspect', '--raw', `oci-archive:${archive}`])).stdout) as Manifest;
const configOf = async (archive: string) =>
  JSON.parse((await execa('skopeo', ['inspect', '--config', `oci-archive:${archive}`])).stdout) as {
    config: { User: string; Env: string[]; Labels: Record<string, string> };
    history: Array<{ created_by: string }>;
  };

const fakeBase = (file: string, labels: Record<string, string>, salt: string) => writeFakeBase(ws, file, labels, salt);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sparkcraft-base-archive-'));
  // A workspace of its own (its build/ and dist/), reading the checkout's matrix, lock and templates.
  const root = join(dir, 'root');
  mkdirSync(root);
  for (const n of ['matrix.yaml', 'sparkcraft.lock.json', 'templates']) symlinkSync(join(ROOT, n), join(root, n));
  ws = workspace(root);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('reading an oci-archive in place', () => {
  it('indexes a tar by its headers (pax long names) and reads the directories a gzip layer writes', async () => {
    const long = `opt/${'x'.repeat(120)}`;
    const entries: TarEntry[] = [
      { path: 'opt', type: 'dir', mode: 0o751, uid: 0, gid: 0 },
      { path: long, type: 'dir', mode: 0o700, uid: RUN_USER, gid: 7 },
      { path: `${long}/f`, type: 'file', mode: 0o644, uid: 0, gid: 0, data: Buffer.alloc(1500, 1) },
    ];
    const tarFile = join(dir, 'plain.tar');
    const chunks: Buffer[] = [];
    const s = new PassThrough();
    s.on('data', (c: Buffer) => chunks.push(c));
    await writeTar(s, entries, MTIME);
    writeFileSync(tarFile, Buffer.concat(chunks));
    const idx = indexTar(tarFile);
    expect([...idx.keys()]).toEqual(['opt', long, `${long}/f`]);
    const m = idx.get(`${long}/f`)!;
    expect(m.size).toBe(1500);
    expect(readFileSync(tarFile).subarray(m.offset, m.offset + m.size)).toEqual(Buffer.alloc(1500, 1));
    await execa('bash', ['-c', `gzip -c "${tarFile}" > "${tarFile}.gz"`]);
    expect(await layerDirs(`${tarFile}.gz`)).toEqual({ opt: { mode: 0o751, uid: 0, gid: 0 }, [long]: { mode: 0o700, uid: RUN_USER, gid: 7 } });
    // Archives as GNU tar writes them in each format: GNU long names, ustar name prefixes, pax.
    const tree = join(dir, 'tree');
    const deep = `${'d'.repeat(60)}/${'e'.repeat(60)}/${'f'.repeat(30)}`;
    mkdirSync(join(tree, deep), { recursive: true });
    writeFileSync(join(tree, deep, 'file'), 'x'.repeat(700));
    for (const format of ['gnu', 'ustar', 'posix']) {
      const t = join(dir, `${format}.tar`);
      await execa('tar', [`--format=${format}`, '-C', tree, '-cf', t, deep.split('/')[0]!]);
      const names = [...indexTar(t).keys()];
      expect(names, format).toContain(`${deep}/file`);
      expect(indexTar(t).get(`${deep}/file`)!.size, format).toBe(700);
      await execa('bash', ['-c', `gzip -c "${t}" > "${t}.gz"`]);
      expect(Object.keys(await layerDirs(`${t}.gz`)).sort(), format).toEqual([deep.split('/')[0]!, deep.split('/').slice(0, 2).join('/'), deep]);
    }
    writeFileSync(join(dir, 'not.tar'), 'hello, not a tar at all\n'.repeat(40));
    expect(() => indexTar(join(dir, 'not.tar'))).toThrow(/checksum/);
  });
  it("an image is named by rockcraft's ref.name label, else (ours) by its title", () => {
    expect(
      imageIdentity({
        architecture: 'amd64',
        config: {
          Labels: {
            'org.opencontainers.image.title': 'Charmed Spark (spark)',
            'org.opencontainers.image.ref.name': 'charmed-spark',
            'org.opencontainers.image.version': '3.5.9',
          },
        },
      }),
    ).toEqual({ name: 'charmed-spark', version: '3.5.9', arch: 'amd64' });
    expect(
      imageIdentity({
        architecture: 'arm64',
        config: { Labels: { 'org.opencontainers.image.title': 'charmed-spark', 'org.opencontainers.image.version': '3.5.9' } },
      }),
    ).toEqual({ name: 'charmed-spark', version: '3.5.9', arch: 'arm64' });
  });
});

describe('crafted archives: member sizes bounded by the file, reading stops at the end-of-archive marker', () => {
  const want = { name: 'charmed-spark', version: '3.5.9', arch: 'amd64', what: '3.5/gpu' };
  const refusedAs = async (bytes: Buffer, why: RegExp) => {
    const file = join(dir, `crafted-${randomBytes(4).toString('hex')}.rock`);
    writeFileSync(file, bytes);
    const e = await importBaseArchive(join(dir, 'crafted-cache'), file, want).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(UserError);
    expect((e as UserError).code).toBe('E_BASE_ARCHIVE');
    const line = (e as UserError).oneLine();
    expect(line).not.toContain('\n');
    expect(line.startsWith(`--base-archive ${file}: `), line).toBe(true);
    expect(line).toMatch(why);
  };
  it('an index.json claiming 20 GiB, or 1.5 GiB, is refused naming the file and the member (no RangeError)', async () => {
    const tail = Buffer.concat([blocks(Buffer.from('{"manifests":[]}')), END]);
    await refusedAs(
      Buffer.concat([tarHeader('index.json', 20 * 2 ** 30), tail]),
      /not an oci-archive \(index\.json claims 21474836480 bytes, past the end of the file \(2048 bytes\)\)/,
    );
    await refusedAs(Buffer.concat([tarHeader('index.json', 1.5 * 2 ** 30), tail]), /index\.json claims 1610612736 bytes, past the end of the file/);
  });
  it('a pax header claiming 3 GiB, and one of 2 MiB that the file does hold, are refused', async () => {
    await refusedAs(Buffer.concat([tarHeader('PaxHeader', 3 * 2 ** 30, 'x'), END]), /PaxHeader claims 3221225472 bytes, past the end of the file/);
    const big = blocks(Buffer.alloc(2 << 20, 0x61));
    await refusedAs(Buffer.concat([tarHeader('PaxHeader', 2 << 20, 'x'), big, END]), /a pax header of 2097152 bytes/);
  });
  it('an index.json of 9 MiB (within the file) is not read into memory', async () => {
    const body = Buffer.from(JSON.stringify({ manifests: [], pad: 'x'.repeat(9 << 20) }));
    await refusedAs(Buffer.concat([tarHeader('index.json', body.length), blocks(body), END]), /index\.json is \d+ bytes, more than 8388608/);
  });
  const layer = async () => {
    const chunks: Buffer[] = [];
    const s = new PassThrough();
    s.on('data', (c: Buffer) => chunks.push(c));
    await writeTar(s, [{ path: 'opt', type: 'dir', mode: 0o751, uid: 0, gid: 0 }], MTIME);
    return gzipSync(Buffer.concat(chunks));
  };
  it('a layer is read up to its end-of-archive marker: what is compressed after it (4 MiB, then a broken gzip member) is never inflated', async () => {
    const file = join(dir, 'trailing-junk.tar.gz');
    const after = gzipSync(randomBytes(4 << 20), { level: 0 });
    writeFileSync(file, Buffer.concat([await layer(), after, Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]), randomBytes(4096)]));
    expect(await layerDirs(file)).toEqual({ opt: { mode: 0o751, uid: 0, gid: 0 } });
  });
  it('a gzip bomb after the marker (16 GiB of zeros in 16 MB) is not inflated', async () => {
    const zeros = gzipSync(Buffer.alloc(64 << 20, 0), { level: 9 });
    const file = join(dir, 'bomb.tar.gz');
    writeFileSync(file, Buffer.concat([await layer(), ...Array.from({ length: 256 }, () => zeros)]));
    const t0 = Date.now();
    expect(await layerDirs(file)).toEqual({ opt: { mode: 0o751, uid: 0, gid: 0 } });
    expect(Date.now() - t0).toBeLessThan(5_000);
  }, 60_000);
  it('a pax body over 1 MiB inside a layer is refused, not collected', async () => {
    const file = join(dir, 'pax-layer.tar.gz');
    writeFileSync(file, gzipSync(Buffer.concat([tarHeader('PaxHeader', 2 << 20, 'x'), blocks(Buffer.alloc(2 << 20, 0x61)), END])));
    await expect(layerDirs(file)).rejects.toThrow(/a pax header of 2097152 bytes/);
  });
});

describe('the gpu flavour over a given base archive', () => {
  let base: string;
  let fake: { layers: LayerBlob[] };
  let gpu: Packed;
  beforeAll(async () => {
    base = join(dir, 'base.rock');
    // Labelled as rockcraft labels a rock: a human title, the name as ref.name.
    fake = await fakeBase(
      base,
      {
        'org.opencontainers.image.title': 'Charmed Spark (spark)',
        'org.opencontainers.image.ref.name': r.base!.image.name,
        'org.opencontainers.image.version': r.base!.version,
      },
      randomBytes(8).toString('hex'),
    );
    gpu = await build('rock', { line: '3.5', flavour: 'gpu', backend: 'builtin', baseArchive: base }, ws);
  }, 1_200_000);

  it("lists the archive's layers first, byte for byte (skopeo), then its own two", async () => {
    const b = await manifestOf(base);
    const g = await manifestOf(gpu.artifact);
    expect(b.layers.map((l) => l.digest)).toEqual(fake.layers.map((l) => l.digest));
    expect(g.layers.slice(0, b.layers.length)).toEqual(b.layers);
    expect(g.layers).toHaveLength(b.layers.length + 2);
    expect(gpu.layers!.slice(b.layers.length).map((l) => l.comment)).toEqual(['part rapids', 'part gpu-config']);
    // The blobs in the flavour's archive are the base's bytes.
    const idx = indexTar(gpu.artifact);
    for (const l of b.layers) expect(idx.get(`blobs/sha256/${l.digest.slice(7)}`)!.size).toBe(l.size);
  });
  it("config: the base's user, environment and layer history; the base's manifest digest as its base", async () => {
    const b = await configOf(base);
    const g = await configOf(gpu.artifact);
    expect(g.config.User).toBe(`${RUN_USER}:${RUN_USER}`);
    expect(g.config.Env).toContain('SPARK_HOME=/opt/spark');
    expect(g.history.slice(0, 2)).toEqual(b.history);
    const digest = (await execa('skopeo', ['inspect', '--format', '{{.Digest}}', `oci-archive:${base}`])).stdout.trim();
    expect(g.config.Labels['org.opencontainers.image.base.digest']).toBe(digest);
    expect(g.config.Labels['org.opencontainers.image.title']).toBe('charmed-spark-gpu');
    // The base named itself as rockcraft does (ref.name): the flavour names itself, not the base, there.
    expect(g.config.Labels['org.opencontainers.image.ref.name']).toBe('charmed-spark-gpu');
    expect(g.config.Labels['io.sparkcraft.layered-over']).toBe('charmed-spark');
  });
  it("the flavour's jar sits under the base's /opt and /opt/spark with the base's owner and mode", async () => {
    const rapids = gpu.layers!.find((l) => l.comment === 'part rapids')!;
    const blob = join(dir, 'rapids.tar.gz');
    const idx = indexTar(gpu.artifact);
    const m = idx.get(`blobs/sha256/${rapids.digest.slice(7)}`)!;
    const fd = openSync(blob, 'w');
    const b = Buffer.alloc(m.size);
    const src = openSync(gpu.artifact, 'r');
    const { readSync } = await import('node:fs');
    readSync(src, b, 0, m.size, m.offset);
    closeSync(src);
    writeSync(fd, b);
    closeSync(fd);
    const dirs = await layerDirs(blob);
    expect(dirs.opt).toEqual({ mode: 0o751, uid: 0, gid: 0 });
    expect(dirs['opt/spark']).toEqual({ mode: 0o750, uid: RUN_USER, gid: RUN_USER });
    // (opt/spark/jars is the rapids part's own directory: its manifest's permissions, not the base's, apply.)
  });
  it('an unchanged rebuild over the same archive reuses every layer and the archive', async () => {
    const again = await build('rock', { line: '3.5', flavour: 'gpu', backend: 'builtin', baseArchive: base }, ws);
    expect(again.reused).toBe(true);
    expect(again.layers!.every((l) => l.cached)).toBe(true);
    expect(again.manifestDigest).toBe(gpu.manifestDigest);
  }, 600_000);

  describe("an archive that is not the line's base is refused, and nothing is written", () => {
    const refused = async (file: string, want: RegExp) => {
      const before = statSync(gpu.artifact);
      const e = await build('rock', { line: '3.5', flavour: 'gpu', backend: 'builtin', baseArchive: file }, ws).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(UserError);
      expect((e as UserError).code).toBe('E_BASE_ARCHIVE');
      expect((e as UserError).oneLine()).toMatch(want);
      expect((e as UserError).oneLine()).not.toContain('\n');
      const after = statSync(gpu.artifact);
      expect([after.ino, after.mtimeMs, after.size]).toEqual([before.ino, before.mtimeMs, before.size]);
    };
    it('another image (the gpu flavour itself), another version', async () => {
      await refused(
        gpu.artifact,
        new RegExp(
          `is charmed-spark-gpu ${r.version.replace(/\./g, '\\.')} for ${r.arch}, not charmed-spark ${r.base!.version.replace(/\./g, '\\.')} for ${r.arch}, which 3\\.5/gpu is layered over`,
        ),
      );
      const old = join(dir, 'old.rock');
      await fakeBase(old, { 'org.opencontainers.image.ref.name': 'charmed-spark', 'org.opencontainers.image.version': '3.4.4' }, 'old');
      await refused(old, /is charmed-spark 3\.4\.4 for/);
    }, 600_000);
    it('no file, not an archive, a layer whose bytes are not its digest', async () => {
      await refused(join(dir, 'missing.rock'), /missing\.rock: no such file/);
      writeFileSync(join(dir, 'junk.rock'), randomBytes(4096));
      await refused(join(dir, 'junk.rock'), /junk\.rock: not an oci-archive/);
      // A base whose second layer is damaged inside the archive (layers never cached before).
      const bad = join(dir, 'bad.rock');
      const f = await fakeBase(
        bad,
        { 'org.opencontainers.image.ref.name': 'charmed-spark', 'org.opencontainers.image.version': r.base!.version },
        randomBytes(8).toString('hex'),
      );
      for (const l of f.layers) {
        rmSync(l.path);
        rmSync(join(l.path, '..', `${l.key}.json`));
      }
      const m = indexTar(bad).get(`blobs/sha256/${f.layers[1]!.digest.slice(7)}`)!;
      const fd = openSync(bad, 'r+');
      writeSync(fd, Buffer.from([0xff, 0xfe]), 0, 2, m.offset + Math.floor(m.size / 2));
      closeSync(fd);
      await refused(bad, /layer 2 does not match its digest/);
      expect(existsSync(join(f.layers[1]!.path))).toBe(false);
    }, 600_000);
  });

  it('the CLI: one line on stderr, a non-zero exit; --base-archive without a layered flavour is a usage error', async () => {
    const cli = (args: string[]) =>
      execa('node', ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'build', 'rock', '--backend', 'builtin', ...args], { cwd: ROOT, reject: false });
    copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json.rock'));
    const a = await cli(['--flavour', 'gpu', '--base-archive', join(dir, 'package.json.rock')]);
    expect(a.exitCode).toBe(1);
    expect(
      a.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('error:')),
    ).toEqual([expect.stringMatching(/^error: --base-archive .*package\.json\.rock: not an oci-archive/)]);
    const b = await cli(['--base-archive', base]);
    expect(b.exitCode).toBe(2);
    expect(b.stderr).toMatch(/error: --base-archive is for a layered image flavour; spark is built from its own manifest/);
  }, 600_000);
});
