import { describe, expect, it, afterEach } from 'vitest';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { clearSecrets, mask, registerSecret } from '../src/lib/secrets.ts';
import { replaceDirAtomic, sweepLeftovers, writeFileAtomic } from '../src/lib/fsx.ts';
import { alive } from '../src/lib/procs.ts';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { UserError, describeError } from '../src/lib/errors.ts';

describe('secret masking', () => {
  afterEach(() => clearSecrets());
  it('masks registered secrets and their encoded forms', () => {
    registerSecret('s3cr3t/value+x');
    const out = mask(`a s3cr3t/value+x b ${encodeURIComponent('s3cr3t/value+x')} c ${Buffer.from('s3cr3t/value+x').toString('base64')}`);
    expect(out).toBe('a *** b *** c ***');
  });
  it('masks secret-looking environment values, bearer tokens and URL credentials', () => {
    const out = mask('token=abcd1234 Authorization: Bearer eyJhbGci.x.y https://user:pw@host/x', { GITHUB_TOKEN: 'abcd1234' });
    expect(out).toBe('token=*** Authorization: Bearer *** https://user:***@host/x');
  });
});

describe('atomic writes', () => {
  it('leaves no temp file and replaces content', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sc-'));
    const f = path.join(dir, 'a', 'b.txt');
    await writeFileAtomic(f, 'one');
    await writeFileAtomic(f, 'two', 0o600);
    expect(await fs.readFile(f, 'utf8')).toBe('two');
    expect((await fs.stat(f)).mode & 0o777).toBe(0o600);
    expect(await fs.readdir(path.dirname(f))).toEqual(['b.txt']);
  });
  it('keeps the previous directory when filling the new one fails', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sc-'));
    const target = path.join(dir, 'tree');
    await replaceDirAtomic(target, async (t) => fs.writeFile(path.join(t, 'x'), '1'));
    await expect(
      replaceDirAtomic(target, async (t) => {
        await fs.writeFile(path.join(t, 'y'), '2');
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await fs.readdir(target)).toEqual(['x']);
    expect(await fs.readdir(dir)).toEqual(['tree']);
  });
  it('sweeps what killed processes left: their temporaries go, a running process keeps its own', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sc-'));
    const dead = spawnSync('true').pid!;
    // A replaced directory whose build was killed mid-fill (kill -9 skips every cleanup).
    await fs.mkdir(path.join(dir, `tree.new-${dead}-0a1b2c3d`));
    await fs.writeFile(path.join(dir, `tree.new-${dead}-0a1b2c3d`, 'partial'), 'x');
    await fs.mkdir(path.join(dir, `tree.new-${process.pid}-0a1b2c3d`)); // this process: still running
    await fs.mkdir(path.join(dir, `other.new-${dead}-0a1b2c3d`)); // another directory's: not ours to sweep
    await replaceDirAtomic(path.join(dir, 'tree'), async (t) => fs.writeFile(path.join(t, 'x'), '1'));
    expect((await fs.readdir(dir)).sort()).toEqual([`other.new-${dead}-0a1b2c3d`, 'tree', `tree.new-${process.pid}-0a1b2c3d`]);
    // The general form: a pattern whose first group is the pid.
    await fs.writeFile(path.join(dir, `a.snap.tmp-${dead}`), 'x');
    await fs.writeFile(path.join(dir, `b.snap.tmp-${process.pid}`), 'x');
    expect(await sweepLeftovers(dir, /\.tmp-(\d+)$/)).toBe(1);
    expect(await fs.readdir(dir)).toContain(`b.snap.tmp-${process.pid}`);
    expect(await fs.readdir(dir)).not.toContain(`a.snap.tmp-${dead}`);
    expect(alive(process.pid)).toBe(true);
    expect(alive(dead)).toBe(false);
  });
});

describe('errors', () => {
  it('renders one line with the hint', () => {
    expect(describeError(new UserError('E_STAGE', 'bad thing\nhappened', { hint: 'do that' }))).toBe('bad thing happened (do that)');
  });
});

describe('the CLI output path', () => {
  it('masks secrets on stdout too (results, not only log lines)', async () => {
    const { execa } = await import('execa');
    const { join } = await import('node:path');
    const { projectRoot } = await import('../src/lib/paths.ts');
    // A secret-looking variable whose value appears in a result line: the image name.
    const r = await execa('node', ['--import', 'tsx', join(projectRoot, 'src/cli/main.ts'), 'publish', 'resolve'], {
      env: { DEMO_TOKEN: 'charmed-spark' },
      reject: false,
    });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('image=***');
    expect(r.stdout).not.toContain('charmed-spark');
  });
});

describe("cluster: the kubelet's pull time from its Pulled event", () => {
  it('reads Go durations from "Successfully pulled image" messages, and nothing from others', async () => {
    const { goDuration, pulledSeconds } = await import('../src/lib/cluster.ts');
    expect(goDuration('1m2.5s')).toBeCloseTo(62.5);
    expect(goDuration('812ms')).toBeCloseTo(0.812);
    expect(goDuration('1h0m3s')).toBe(3603);
    expect(pulledSeconds(['Container image "x" already present on machine'])).toBeNull();
    expect(
      pulledSeconds([
        'Successfully pulled image "127.0.0.1:15443/sparkcraft/charmed-spark:3.5-22.04_edge" in 41.234s (41.234s including waiting). Image size: 851234567 bytes.',
      ]),
    ).toBeCloseTo(41.234);
    expect(pulledSeconds(['Successfully pulled image "a:b" in 1m5.5s (1m9s including waiting)'])).toBeCloseTo(65.5);
    // "100ms" once read as 100 minutes (6000 s) in bench:cluster
    expect(pulledSeconds(['Successfully pulled image "a:b" in 100ms (100ms including waiting)'])).toBeCloseTo(0.1);
  });
});

describe('cluster: which layers an image holds', () => {
  it("lists a manifest's layer digests and nothing for an index, a config or junk", async () => {
    const { manifestLayers } = await import('../src/lib/cluster.ts');
    expect(manifestLayers({ schemaVersion: 2, config: { digest: 'sha256:c' }, layers: [{ digest: 'sha256:a' }, { digest: 'sha256:b' }] })).toEqual([
      'sha256:a',
      'sha256:b',
    ]);
    expect(manifestLayers({ schemaVersion: 2, manifests: [{ digest: 'sha256:m' }] })).toEqual([]);
    expect(manifestLayers(null)).toEqual([]);
    expect(manifestLayers({ layers: 'x' })).toEqual([]);
  });
  it('names the snapshots of a layer stack by OCI chain IDs (the first is its diff ID)', async () => {
    const { chainIds } = await import('../src/lib/cluster.ts');
    // sha256sum of "a", of "b", and of "<first> <second>", computed by sha256sum(1)
    expect(
      chainIds([
        'sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb',
        'sha256:3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d',
      ]),
    ).toEqual([
      'sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb',
      'sha256:51c0c8ace48498d6f5fee6b0592cc06f2da0f3cbe09c5a34a97dce85c3889676',
    ]);
    expect(chainIds([])).toEqual([]);
  });
  it('reads the layers of a built rock archive', async () => {
    const { archiveLayers } = await import('../src/lib/cluster.ts');
    const { mkdtempSync, mkdirSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { createHash } = await import('node:crypto');
    const { execa } = await import('execa');
    const d = mkdtempSync(join(tmpdir(), 'layers-'));
    const config = JSON.stringify({ rootfs: { type: 'layers', diff_ids: ['sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb'] } });
    const ch = createHash('sha256').update(config).digest('hex');
    const manifest = JSON.stringify({ schemaVersion: 2, config: { digest: `sha256:${ch}` }, layers: [{ digest: 'sha256:l1' }, { digest: 'sha256:l2' }] });
    const h = createHash('sha256').update(manifest).digest('hex');
    mkdirSync(join(d, 'blobs/sha256'), { recursive: true });
    writeFileSync(join(d, 'blobs/sha256', h), manifest);
    writeFileSync(join(d, 'blobs/sha256', ch), config);
    writeFileSync(join(d, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ digest: `sha256:${h}` }] }));
    await execa('tar', ['-cf', join(d, 'x.rock'), '-C', d, 'index.json', 'blobs']);
    expect(await archiveLayers(join(d, 'x.rock'))).toEqual({
      layers: ['sha256:l1', 'sha256:l2'],
      chainIds: ['sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb'],
    });
  });
});

describe('cluster: the manifest digest of an oci-archive', () => {
  it('a bad archive is one UserError naming the file: junk, an index.json claiming 20 GiB, an index.json that is not JSON', async () => {
    const { archiveDigest } = await import('../src/lib/cluster.ts');
    const { tarHeader, blocks, END } = await import('./support/crafted-tar.ts');
    const d = await fs.mkdtemp(path.join(os.tmpdir(), 'archive-digest-'));
    const cases: Array<[string, Buffer, RegExp]> = [
      ['junk.rock', Buffer.alloc(4096, 0x41), /junk\.rock is not a readable oci-archive: /],
      ['huge.rock', Buffer.concat([tarHeader('index.json', 20 * 2 ** 30), blocks(Buffer.from('{}')), END]), /huge\.rock is not a readable oci-archive: /],
      [
        'text.rock',
        Buffer.concat([tarHeader('index.json', 5), blocks(Buffer.from('hello')), END]),
        /text\.rock is not a readable oci-archive: index\.json is not JSON/,
      ],
      [
        'empty.rock',
        Buffer.concat([tarHeader('index.json', 2), blocks(Buffer.from('{}')), END]),
        /empty\.rock is not a readable oci-archive: holds 0 images, not one/,
      ],
    ];
    for (const [name, bytes, want] of cases) {
      const file = path.join(d, name);
      await fs.writeFile(file, bytes);
      const e = await archiveDigest(file).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(e, name).toBeInstanceOf(UserError);
      expect((e as UserError).oneLine(), name).toMatch(want);
      expect((e as UserError).oneLine(), name).not.toContain('\n');
    }
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, config: { digest: `sha256:${sha(config)}` }, layers: [] }));
    const ok = Buffer.from(JSON.stringify({ manifests: [{ digest: `sha256:${sha(manifest)}` }] }));
    const member = (name: string, b: Buffer) => Buffer.concat([tarHeader(name, b.length), blocks(b)]);
    const archive = (...m: Buffer[]) => Buffer.concat([...m, END]);
    await fs.writeFile(
      path.join(d, 'ok.rock'),
      archive(member('index.json', ok), member(`blobs/sha256/${sha(manifest)}`, manifest), member(`blobs/sha256/${sha(config)}`, config)),
    );
    expect(await archiveDigest(path.join(d, 'ok.rock'))).toBe(`sha256:${sha(manifest)}`);
    // an index naming a manifest the archive does not hold
    await fs.writeFile(path.join(d, 'hollow.rock'), archive(member('index.json', ok)));
    await expect(archiveDigest(path.join(d, 'hollow.rock'))).rejects.toThrow(
      /hollow\.rock is not a readable oci-archive: manifest sha256:\w+ is not in the archive/,
    );
    await fs.rm(d, { recursive: true, force: true });
  });
});
