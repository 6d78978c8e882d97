import { beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { copyFileSync, existsSync, lstatSync, utimesSync, mkdtempSync, readFileSync, readlinkSync, writeFileSync, readdirSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stage } from '../src/pipeline.ts';
import { fetchVerified } from '../src/stage/fetch.ts';
import { lockedInputsFor, readLock, LOCK_FILE } from '../src/stage/lock.ts';
import { loadMatrix as loadRealMatrix, resolveLine } from '../src/config/matrix.ts';
import { workspace } from '../src/lib/workspace.ts';
import { ROOT } from './support/k8s.ts';

let inputs: string;
// What the default line stages, from the real matrix and lock (a version bump changes no literal here).
const r = resolveLine(loadRealMatrix(), {});
const track = r.line.track;
const locked = lockedInputsFor(r.project, r.line, readLock());
const jarName = (i: (typeof locked)[number]) => `${i.name.split(':')[1]!}-${i.version}.jar`;
const mavenJars = locked.filter((i) => i.kind === 'maven');
const jmx = mavenJars.find((i) => i.name.endsWith(':jmx_prometheus_javaagent'))!;
const hadoopAws = mavenJars.find((i) => i.name.endsWith(':hadoop-aws'))!;

beforeAll(async () => {
  inputs = (await stage()).inputs;
}, 900_000);

describe('stage (default line, real PyPI/Maven/Go inputs)', () => {
  it('lays Spark out as /opt/spark wants it, with extra jars, pebble and spark8t', async () => {
    expect(lstatSync(join(inputs, 'spark/bin/spark-submit')).mode & 0o111).not.toBe(0);
    const jars = readdirSync(join(inputs, 'spark/jars'));
    expect(jars).toContain(`spark-core_${r.line.scala}-${r.line.spark}.jar`);
    expect(jars).toContain(`spark-kubernetes_${r.line.scala}-${r.line.spark}.jar`);
    expect(jars.some((j) => j.startsWith('kubernetes-client-'))).toBe(true);
    expect(readdirSync(join(inputs, 'jars')).sort()).toEqual(mavenJars.map(jarName).sort());
    expect(existsSync(join(inputs, `spark/python/lib/${r.line.py4j}`))).toBe(true);
    const pv = await execa(join(inputs, 'pebble/pebble'), ['version', '--client']);
    expect(pv.stdout).toContain(r.project.pebble.version);
    expect(readlinkSync(join(inputs, 'spark8t/opt/spark-client/bin/spark-client.spark-submit'))).toBe('spark8t');
  });
  it('writes an SPDX SBOM covering every staged file, with origin, checksums and licence', async () => {
    const sbom = JSON.parse(readFileSync(join(inputs, 'sbom.spdx.json'), 'utf8'));
    expect(sbom.spdxVersion).toBe('SPDX-2.3');
    const { stdout } = await execa('find', ['.', '-type', 'f', '!', '-name', 'sbom.spdx.json', '!', '-name', 'manifest.json', '!', '-name', '.state.json'], {
      cwd: inputs,
    });
    const files = stdout.split('\n').sort();
    expect(sbom.files.map((f: { fileName: string }) => f.fileName).sort()).toEqual(files);
    const jar = sbom.files.find((f: { fileName: string }) => f.fileName === `./jars/${jarName(hadoopAws)}`);
    expect(jar.licenseConcluded).toBe('Apache-2.0');
    expect(jar.checksums[1].checksumValue).toBe(hadoopAws.sha256);
  });
  it('an unchanged stage is skipped', async () => {
    const r = await stage();
    expect(r.skipped).toBe(true);
  });
  it('a checksum mismatch is refused with expected, actual and URL, and nothing is staged', async () => {
    const lock = JSON.parse(readFileSync(LOCK_FILE, 'utf8'));
    const id = jmx.id;
    lock.inputs[id].sha256 = '0'.repeat(64);
    const bad = join(mkdtempSync(join(tmpdir(), 'lock-')), 'lock.json');
    writeFileSync(bad, JSON.stringify(lock));
    const before = readFileSync(join(inputs, '.state.json'), 'utf8');
    const e = await stage({ lockFile: bad }).then(
      () => undefined,
      (x: Error) => x,
    );
    expect(e?.message.startsWith(`checksum mismatch for ${id}: expected sha256 ${'0'.repeat(64)}, got `), e?.message).toBe(true);
    expect(e?.message).toMatch(/got [0-9a-f]{64} \(https:\/\/repo1\.maven\.org\/.*\.jar\)$/);
    expect(readFileSync(join(inputs, '.state.json'), 'utf8')).toBe(before);
  });
  it('a full disk while downloading is one clear line, not retried, and nothing enters the cache', async () => {
    let requests = 0;
    const srv = createHttpServer((_, res) => {
      requests++;
      res.end(Buffer.alloc(4 << 20, 1));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const port = (srv.address() as { port: number }).port;
    const cache = mkdtempSync(join(tmpdir(), 'full-dl-'));
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', cache]);
    try {
      const err = await fetchVerified(cache, 'big', `http://127.0.0.1:${port}/big.jar`, 'b'.repeat(64), {
        attempts: 3,
        baseDelayMs: 2000,
        maxDelayMs: 2000,
      }).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.message).toBe(`no space left on device downloading http://127.0.0.1:${port}/big.jar`);
      expect(requests).toBe(1); // not retried
      expect(readdirSync(join(cache, 'downloads', 'sha256'))).toEqual([]);
    } finally {
      srv.close();
      await execa('umount', ['-l', cache]);
      await execa('rm', ['-rf', cache]);
    }
  });
  it('a stage killed midway leaves the previous tree', async () => {
    const before = readFileSync(join(inputs, '.state.json'), 'utf8');
    const buildFolder = join(inputs, '..');
    const aside = () => readdirSync(buildFolder).filter((n) => n.startsWith('inputs.new-'));
    // Force a restage and kill it once it is writing: its own step line says so, and its tree aside exists.
    const p = execa('node', ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'stage', '--force'], { reject: false });
    let err = '';
    p.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    for (
      let waited = 0;
      p.exitCode === null && waited < 300_000 && !(/INFO stage \S+: writing .*inputs \.\.\./.test(err) && aside().length > 0);
      waited += 50
    ) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(p.exitCode, err).toBe(null); // still running: killed midway, not after
    expect(aside(), err).toHaveLength(1);
    p.kill('SIGKILL');
    await p;
    expect(readFileSync(join(inputs, '.state.json'), 'utf8')).toBe(before);
    expect(existsSync(join(inputs, 'spark/bin/spark-submit'))).toBe(true);
    // What it left aside goes with the next stage that writes.
    await stage({ force: true });
    expect(aside()).toEqual([]);
    // The same inputs staged again: the same record but for the identities (inode, mtime) of the files it copied anew.
    const { outputs: _o1, ...was } = JSON.parse(before);
    const { outputs: _o2, ...now } = JSON.parse(readFileSync(join(inputs, '.state.json'), 'utf8'));
    expect(now).toEqual(was);
  });
  it('the lock given is the one read: it dates the SBOM (the default lock was read too)', async () => {
    const other = join(mkdtempSync(join(tmpdir(), 'lock-')), 'lock.json');
    copyFileSync(LOCK_FILE, other);
    const when = new Date('2001-02-03T04:05:06Z');
    utimesSync(other, when, when);
    try {
      // A workspace without SOURCE_DATE_EPOCH, whatever this process's environment says.
      await stage({ lockFile: other, force: true }, workspace(ROOT, { sourceDateEpoch: undefined }));
      expect(JSON.parse(readFileSync(join(inputs, 'sbom.spdx.json'), 'utf8')).creationInfo.created).toBe('2001-02-03T04:05:06Z');
    } finally {
      await stage({ force: true });
    }
  });
  it('a lock refresh drops inputs and lines the matrix no longer names, and keeps the rest', async () => {
    const { refreshLock } = await import('../src/stage/lock.ts');
    const { loadMatrix } = await import('../src/config/matrix.ts');
    const lock = readLock();
    lock.inputs['pypi:pyspark@0.0.1'] = { ...lock.inputs[lock.lines[track]![0]!]!, id: 'pypi:pyspark@0.0.1', version: '0.0.1' };
    lock.lines['9.9'] = ['pypi:pyspark@0.0.1'];
    const file = join(mkdtempSync(join(tmpdir(), 'lock-')), 'lock.json');
    writeFileSync(file, JSON.stringify(lock));
    const { lock: after } = await refreshLock(workspace().cache, loadMatrix(), [track], file);
    expect(after.inputs['pypi:pyspark@0.0.1']).toBeUndefined();
    expect(after.lines['9.9']).toBeUndefined();
    expect(after).toEqual(JSON.parse(readFileSync(LOCK_FILE, 'utf8')));
  });
});
