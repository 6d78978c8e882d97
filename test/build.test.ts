import { beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { appendFileSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadMatrix, resolveLine } from '../src/config/matrix.ts';
import { build } from '../src/pipeline.ts';
import { buildRock, gitRevision, LAYER_EPOCH } from '../src/pack/rock.ts';
import { stage } from '../src/pipeline.ts';
import { ensureSpark8t } from '../src/spark8t/build/build.ts';
import { layerCacheDir } from '../src/pack/layer.ts';
import { ROOT } from './support/k8s.ts';
import { containersConf } from '../src/smoke/runner.ts';
import { workspace } from '../src/lib/workspace.ts';

let rock: string;
let snap: string;
// The real artifacts of the default line: expected values come from the real matrix, not literals.
const spark = resolveLine(loadMatrix(), {}).line.spark;

beforeAll(async () => {
  rock = (await build('rock', { backend: 'builtin' })).artifact;
  snap = (await build('snap', { backend: 'builtin' })).artifact;
}, 1_800_000);

describe('the rock is a real OCI archive', () => {
  it('skopeo inspects it; labels, user, env and entrypoint are there', async () => {
    const r = JSON.parse((await execa('skopeo', ['inspect', '--config', `oci-archive:${rock}`])).stdout);
    expect(r.config.User).toBe('584792:584792');
    expect(r.config.Entrypoint).toEqual(['/usr/bin/pebble', 'enter', '--verbose', '--args', 'sparkd']);
    expect(r.config.Env).toContain('SPARK_HOME=/opt/spark');
    expect(r.config.Labels['org.opencontainers.image.base.name']).toBe('debian:bookworm');
    expect(r.config.Labels['org.opencontainers.image.version']).toBe(spark);
    expect(r.rootfs.diff_ids).toHaveLength(8);
  });
  it('umoci unpacks it with the expected ownership', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'umoci-'));
    await execa('tar', ['-xf', rock, '-C', dir]);
    const bundle = join(dir, 'bundle');
    await execa('umoci', ['unpack', '--image', `${dir}:${spark}`, bundle]);
    const st = statSync(join(bundle, 'rootfs/opt/spark/jars'));
    expect(st.uid).toBe(584792);
    expect(statSync(join(bundle, 'rootfs/var/lib/spark')).mode & 0o777).toBe(0o770);
    expect(readFileSync(join(bundle, 'rootfs/etc/passwd'), 'utf8')).toContain('_daemon_:x:584792:584792:');
    await execa('rm', ['-rf', dir]);
  });
  it('runs with podman (runc) as the run user: java, spark-submit, pyspark, spark8t, pebble', async () => {
    const env = { CONTAINERS_CONF: containersConf() };
    await execa('skopeo', ['copy', '-q', `oci-archive:${rock}`, 'containers-storage:localhost/charmed-spark:build-test'], { env });
    const run = (script: string) =>
      execa('podman', ['run', '--rm', '--network', 'host', '--entrypoint', '/bin/bash', 'localhost/charmed-spark:build-test', '-c', script], {
        env,
        reject: false,
      });
    const r = await run(
      `id -u; java -version 2>&1 | head -1; spark-submit --version 2>&1 | grep -o "version ${spark}" | head -1; python3 -c "import pyspark; print(pyspark.__version__)"; spark8t --help | head -1; echo "SPARK_CONFS=$SPARK_CONFS"`,
    );
    expect(r.exitCode, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('584792');
    expect(lines[1]).toMatch(/openjdk version "17/);
    expect(lines[2]).toBe(`version ${spark}`);
    expect(lines[3]).toBe(spark);
    expect(lines[4]).toMatch(/^spark8t /);
    expect(lines[5]).toBe('SPARK_CONFS=/etc/spark8t/conf');
    // pebble as the entrypoint: sparkd idles, history-server is disabled.
    const name = `build-test-${process.pid}`;
    await execa('podman', ['run', '-d', '--name', name, '--network', 'host', 'localhost/charmed-spark:build-test'], { env });
    try {
      let out = '';
      for (let i = 0; i < 30 && !/sparkd\s+enabled\s+active/.test(out); i++) {
        await new Promise((res) => setTimeout(res, 500));
        out = (await execa('podman', ['exec', name, 'pebble', 'services'], { env, reject: false })).stdout;
      }
      expect(out).toMatch(/history-server\s+disabled\s+inactive/);
      expect(out).toMatch(/sparkd\s+enabled\s+active/);
    } finally {
      await execa('podman', ['rm', '-f', name], { env, reject: false });
    }
  });
});

describe('the snap is a real squashfs snap', () => {
  it('unsquashfs lists it; meta/snap.yaml passes snap pack checks; every app command is executable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'snap-'));
    await execa('unsquashfs', ['-q', '-d', join(dir, 'root'), snap]);
    const y = parse(readFileSync(join(dir, 'root/meta/snap.yaml'), 'utf8'));
    expect(y.name).toBe('spark-client');
    expect((await execa('timeout', ['60', 'snap', 'pack', '--check-skeleton', join(dir, 'root')], { reject: false })).exitCode).toBe(0);
    for (const [n, a] of Object.entries(y.apps as Record<string, { command: string }>)) {
      const p = join(dir, 'root', a.command);
      expect(existsSync(p), n).toBe(true);
      expect(statSync(p).mode & 0o111, n).not.toBe(0);
    }
    expect(statSync(join(dir, 'root/meta/hooks/install')).mode & 0o111).not.toBe(0);
    expect(existsSync(join(dir, 'root/usr/lib/jvm/java-17-openjdk-amd64/bin/java'))).toBe(true);
    const sb = (await execa('unsquashfs', ['-s', snap])).stdout;
    expect(sb).toMatch(/Compression xz/);
    expect(sb).toMatch(/Block size 131072/);
    await execa('rm', ['-rf', dir]);
  });
});

describe('reproducible and cached', () => {
  // An unchanged rebuild reuses the archive and every layer: proved by this test's two builds (its own test was a third no-op build).
  it('trims layers no artifact uses from the cache, keeping the ones it uses and recent ones', async () => {
    const dir = layerCacheDir(workspace().cache);
    const fake = (key: string, hoursAgo: number) => {
      const blob = join(dir, `${key}-blob.tar.gz`);
      writeFileSync(blob, 'x'.repeat(1024));
      writeFileSync(join(dir, `${key}.json`), JSON.stringify({ key, path: blob, dirs: {} }));
      const t = new Date(Date.now() - hoursAgo * 3_600_000);
      for (const f of [blob, join(dir, `${key}.json`)]) utimesSync(f, t, t);
      return blob;
    };
    const old = fake('test-unused-old', 30);
    const recent = fake('test-unused-recent', 0.1);
    const r = await execa('node', ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'build', 'rock', '--backend', 'builtin', '--json'], { cwd: ROOT });
    const summary = JSON.parse(r.stdout);
    expect(summary.reused).toBe(true);
    expect(r.stderr).toMatch(/INFO trimmed the layer cache: [1-9]\d* layers no artifact uses/);
    expect(existsSync(old)).toBe(false);
    expect(existsSync(join(dir, 'test-unused-old.json'))).toBe(false);
    expect(existsSync(recent)).toBe(true);
    rmSync(recent);
    rmSync(join(dir, 'test-unused-recent.json'));
    // What the rock is made of is still there: the next build reuses every layer.
    const again = await build('rock', { backend: 'builtin' });
    expect(again.reused).toBe(true);
    expect(again.layers!.every((l) => l.cached)).toBe(true);
  });
  it('shows progress: a live step line on a terminal, timestamped lines otherwise', async () => {
    const cli = `node --import tsx ${join(ROOT, 'src/cli/main.ts')} build rock --backend builtin`;
    const plain = await execa('bash', ['-c', `${cli} 2>&1 >/dev/null`], { cwd: ROOT });
    const lines = plain.stdout.split('\n');
    expect(
      lines.some((l) => /^\d{4}-\d\d-\d\dT[\d:.]+Z INFO rock charmed-spark: part spark8t: done in \d+\.\d s$/.test(l)),
      plain.stdout,
    ).toBe(true);
    // Under a pseudo-terminal (script(1)): the spinner line is redrawn in place, then a finished line stays.
    const tty = await execa('script', ['-qec', cli, '/dev/null'], { cwd: ROOT });
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the progress line is drawn with ESC [2K
    expect(tty.stdout).toMatch(/\r\x1b\[2K\+ rock charmed-spark: part spark8t \(\d+\.\d s\)/);
    expect(tty.stdout).not.toMatch(/\d{4}-\d\d-\d\dT[\d:.]+Z INFO/);
  });
  it('changing only the spark8t executable rebuilds only its layer', async () => {
    const first = await build('rock', { backend: 'builtin' });
    const work = mkdtempSync(join(tmpdir(), 'spark8t-changed-'));
    const exe = join(work, 'spark8t');
    copyFileSync(await ensureSpark8t(), exe);
    appendFileSync(exe, `a changed build ${process.pid} ${Date.now()}\n`); // unique: a layer cached from an earlier run would hide the rebuild
    try {
      const st = await stage({ spark8t: exe });
      expect(st.skipped).toBe(false);
      const meta = await gitRevision(ROOT, workspace().sourceDateEpoch);
      // The same cell as the pack step's (its architecture, Java and Debian suite are in every layer's key).
      const cell = { arch: st.resolved.arch, java: st.resolved.java, suite: st.resolved.debianSuite };
      const b = await buildRock(workspace(), st.dir, join(work, 'changed.rock'), { ...meta, source: st.matrix.project.source, ...cell });
      const rebuilt = b.layers.filter((l) => !l.cached).map((l) => l.comment);
      expect(rebuilt).toEqual(['part spark8t']);
      const changed = b.layers.map((l, i) => (l.digest === first.layers![i]!.digest ? null : l.comment)).filter(Boolean);
      expect(changed).toEqual(['part spark8t']);
    } finally {
      await stage(); // back to the real executable
      await execa('rm', ['-rf', work]);
    }
  });
  it('a later build epoch (a matrix or lock commit) rebuilds no layer: every layer is byte-identical, only created changes', async () => {
    const first = await build('rock', { backend: 'builtin' });
    const st = await stage();
    const meta = await gitRevision(ROOT, workspace().sourceDateEpoch);
    const cell = { arch: st.resolved.arch, java: st.resolved.java, suite: st.resolved.debianSuite };
    const work = mkdtempSync(join(tmpdir(), 'later-epoch-'));
    try {
      const later = meta.epoch + 86_400 * 30;
      const b = await buildRock(workspace(), st.dir, join(work, 'later.rock'), { ...meta, epoch: later, source: st.matrix.project.source, ...cell });
      expect(b.layers.filter((l) => !l.cached).map((l) => l.comment)).toEqual([]);
      expect(b.layers.map((l) => l.digest)).toEqual(first.layers!.map((l) => l.digest));
      expect(b.image.manifestDigest).not.toBe(first.manifestDigest);
      const config = JSON.parse(b.image.config.toString()) as { created: string };
      expect(config.created).toBe(new Date(later * 1000).toISOString().replace(/\.\d+Z$/, 'Z'));
      // The files of the rock's own layer (users, pebble) carry the layer time, not the build's epoch.
      const tv = await execa('tar', ['--numeric-owner', '--full-time', '-tvzf', b.layers.at(-1)!.path], { env: { TZ: 'UTC' } });
      const times = new Set(tv.stdout.split('\n').map((l) => l.split(/\s+/).slice(3, 5).join(' ')));
      expect([...times]).toEqual([new Date(LAYER_EPOCH * 1000).toISOString().slice(0, 19).replace('T', ' ')]);
    } finally {
      await execa('rm', ['-rf', work]);
    }
  });
  it('a full disk is one clear line and leaves no partial layer', async () => {
    // The layer cache on a 64 MiB tmpfs: the runtime-packages layer cannot fit.
    const cache = mkdtempSync(join(tmpdir(), 'full-cache-'));
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', cache]);
    try {
      const src = workspace().cache;
      for (const d of ['rootfs', 'downloads', 'extract', 'bin', 'go']) await execa('ln', ['-s', join(src, d), join(cache, d)]);
      const r = await execa('node', ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'build', 'rock', '--backend', 'builtin'], {
        env: { SPARKCRAFT_CACHE: cache },
        reject: false,
        timeout: 600_000,
      });
      expect(r.exitCode).toBe(1);
      const last = r.stderr.trim().split('\n').pop()!;
      expect(last).toMatch(/^error: no space left on device while writing layer .+ \(free space under .+\)$/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(readdirSync(join(cache, 'layers')).filter((n) => n.includes('.tmp'))).toEqual([]);
    } finally {
      await execa('umount', ['-l', cache]);
      await execa('rm', ['-rf', cache]);
    }
  });
  it('a failing snap step is ended as failed, is one clear line, and leaves neither the prime tree nor a partial snap', async () => {
    // mksquashfs stands in for a squashfs that fails late (as a full disk would), after every part ran.
    const bin = mkdtempSync(join(tmpdir(), 'failing-mksquashfs-'));
    writeFileSync(join(bin, 'mksquashfs'), '#!/bin/sh\necho "FATAL ERROR: Failed to write to output filesystem" >&2\nexit 1\n', { mode: 0o755 });
    const primes = join(workspace().cache, 'snap-prime');
    const before = existsSync(primes) ? readdirSync(primes) : [];
    const r = await execa('node', ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'build', 'snap', '--backend', 'builtin'], {
      cwd: ROOT,
      env: { PATH: `${bin}:${process.env.PATH}`, SOURCE_DATE_EPOCH: '2345678' },
      reject: false,
      timeout: 600_000,
    });
    expect(r.exitCode).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(
      lines.some((l) => /INFO snap spark-client: part spark8t: done in \d+\.\d s$/.test(l)),
      r.stderr,
    ).toBe(true);
    expect(
      lines.some((l) => /INFO snap spark-client: mksquashfs → .+\.snap: failed in \d+\.\d s$/.test(l)),
      r.stderr,
    ).toBe(true);
    expect(lines.pop()).toBe('error: mksquashfs failed: FATAL ERROR: Failed to write to output filesystem');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(readdirSync(join(ROOT, 'dist')).filter((n) => n.includes('.tmp'))).toEqual([]);
    expect(existsSync(primes) ? readdirSync(primes) : []).toEqual(before);
    await execa('rm', ['-rf', bin]);
  });
  it('a missing craft tool is one clear line', async () => {
    const r = await execa('node', ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'build', 'rock', '--backend', 'craft'], {
      env: { PATH: '/usr/bin:/bin' },
      reject: false,
    });
    expect(r.exitCode).toBe(1);
    expect(r.stderr.trim().split('\n').pop()).toBe(
      'error: rockcraft is not installed (install it (snap install rockcraft --classic) or use --backend builtin)',
    );
  });
  /**
   * A snap build (a new SOURCE_DATE_EPOCH: a real pack) run until mksquashfs has written for
   * `afterMs`; the build must still be running then (mksquashfs once refused to start when
   * SOURCE_DATE_EPOCH was set).
   */
  async function snapBuildInSquashfs(epoch: string, afterMs: number, detached = false) {
    const p = execa('node', ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'build', 'snap', '--backend', 'builtin'], {
      env: { SOURCE_DATE_EPOCH: epoch },
      reject: false,
      detached,
    });
    const out = { p, err: '' };
    p.stderr!.on('data', (c: Buffer) => (out.err += c.toString()));
    for (let waited = 0; !/mksquashfs → /.test(out.err) && p.exitCode === null && waited < 300_000; waited += 250)
      await new Promise((res) => setTimeout(res, 250));
    await new Promise((res) => setTimeout(res, afterMs));
    expect(p.exitCode, out.err).toBe(null);
    return out;
  }
  it('SIGINT while mksquashfs writes: exit 130, its child stopped, no prime tree, partial snap or temporary file left', async () => {
    const run = await snapBuildInSquashfs('1234568', 2_000);
    const p = run.p;
    const tmpBefore = new Set(readdirSync(tmpdir()));
    process.kill(p.pid!, 'SIGINT'); // the process alone, as a supervisor signals it (not the terminal's group)
    const r = await p;
    expect(r.exitCode, run.err).toBe(130);
    // The step's own clean-up may have removed its files as its child stopped: the listing below is what counts.
    expect(run.err).toMatch(/sparkcraft: stopped by SIGINT; [1-9]\d* child process\(es\) stopped; \d+ temporary path\(s\) removed\n$/);
    const mine = (d: string) => readdirSync(d).filter((n) => n.endsWith(`.${p.pid}`) || n.includes(`.tmp-${p.pid}`) || n.includes(`-${p.pid}-`));
    expect([join(workspace().cache, 'snap-prime'), join(ROOT, 'build', '.tmp'), join(ROOT, 'dist'), tmpdir()].flatMap(mine)).toEqual([]);
    expect(readdirSync(join(ROOT, 'dist')).filter((n) => n.includes('.tmp'))).toEqual([]);
    expect(readdirSync(tmpdir()).filter((n) => n.startsWith('sparkcraft-') && !tmpBefore.has(n))).toEqual([]);
  }, 600_000);
  it('builds with SOURCE_DATE_EPOCH set; killed with -9 while packing, it leaves no partial file in dist/', async () => {
    // Kill it while mksquashfs writes, 3 s after that step starts (its own process group: detached).
    const { p } = await snapBuildInSquashfs('1234567', 3_000, true);
    p.kill('SIGKILL');
    await p;
    // Its children (mksquashfs) may carry on writing their temporary file outside dist/.
    try {
      process.kill(-p.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
    const names = readdirSync(join(ROOT, 'dist'));
    expect(names.filter((n) => n.includes('.tmp'))).toEqual([]);
    // Its prime tree (~1 GB) and partial snap are left behind by the kill, and swept by the next build.
    const left = () =>
      [join(workspace().cache, 'snap-prime'), join(ROOT, 'build', '.tmp')].flatMap((d) =>
        readdirSync(d).filter((n) => n.endsWith(`.${p.pid}`) || n.endsWith(`.tmp-${p.pid}`)),
      );
    expect(left()).toHaveLength(2);
    expect((await build('snap', { backend: 'builtin' })).reused).toBe(true);
    expect(left()).toEqual([]);
    // Up to 300 s until the squashfs step starts (a cold snap stage), then a whole snap build: on a
    // fresh 2-core machine more than the default 120 s.
  }, 600_000);
});
