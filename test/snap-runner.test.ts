/** The smoke's snap: mounted read-only as snapd mounts it (or unpacked), and its mounts taken down. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mountsUnder } from '../src/lib/mounts.ts';
import { sweepLeftovers } from '../src/lib/fsx.ts';
import { catFile, mksquashfs, unsquashfs } from '../src/lib/tools/squashfs.ts';
import { execa } from 'execa';
import { SnapRunner } from '../src/smoke/runner.ts';

const base = mkdtempSync(join(tmpdir(), 'snap-runner-'));
const snapFile = join(base, 'tiny.snap');
/** Where this process may mount a squashfs (root, loop devices): elsewhere the runner unpacks. */
const canMount = process.getuid?.() === 0 && existsSync('/dev/loop-control');
const mounted = () => mountsUnder(readFileSync('/proc/self/mountinfo', 'utf8'), base);

beforeAll(async () => {
  const prime = join(base, 'prime');
  mkdirSync(join(prime, 'meta'), { recursive: true });
  mkdirSync(join(prime, 'bin'));
  writeFileSync(join(prime, 'meta', 'snap.yaml'), 'name: tiny\nversion: "1"\napps:\n  hello:\n    command: bin/hello\n');
  // Writes where a snap may ($SNAP_USER_DATA), then tries $SNAP itself.
  writeFileSync(join(prime, 'bin', 'hello'), '#!/bin/sh\necho hi > "$SNAP_USER_DATA/out" && cat "$SNAP_USER_DATA/out"\ntouch "$SNAP/written" 2>&1 || true\n');
  chmodSync(join(prime, 'bin', 'hello'), 0o755);
  await mksquashfs(prime, snapFile, 1234567);
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('SnapRunner.open', () => {
  it(`runs an app from the snap, ${canMount ? 'mounted read-only: a write into $SNAP fails as under snapd' : 'unpacked (this process may not mount)'}; close() leaves no mount`, async () => {
    const work = join(base, 'w1');
    const s = await SnapRunner.open(snapFile, work);
    expect(s.mounted).toBe(canMount);
    expect(mounted().length).toBe(canMount ? 1 : 0);
    const r = await s.app('hello', []);
    expect(r.exitCode).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('hi');
    if (canMount) expect(r.stdout).toMatch(/Read-only file system/);
    expect(existsSync(join(s.root, 'written'))).toBe(!canMount);
    await s.close();
    expect(mounted()).toEqual([]);
    rmSync(work, { recursive: true });
  });
  it('unpacks when asked (SPARKCRAFT_SNAP_UNPACK=1 in the CLI), and opening again over a mount takes the old one down', async () => {
    const work = join(base, 'w2');
    const first = await SnapRunner.open(snapFile, work);
    const s = await SnapRunner.open(snapFile, work, { unpack: true });
    expect(first.mounted).toBe(canMount);
    expect(s.mounted).toBe(false);
    expect(mounted()).toEqual([]);
    expect(readFileSync(join(s.root, 'meta', 'snap.yaml'), 'utf8')).toContain('name: tiny');
  });
  it(`a killed smoke's work directory is swept${canMount ? ' with its mount' : ''}`, async () => {
    // A pid no process has (above pid_max's default): the run that made the directory is gone.
    const work = join(base, 'sparkcraft-smoke-4999999-abc');
    await SnapRunner.open(snapFile, work);
    expect(mounted().length).toBe(canMount ? 1 : 0);
    expect(await sweepLeftovers(base, /^sparkcraft-smoke-(\d+)-\w+$/)).toBe(1);
    expect(mounted()).toEqual([]);
    expect(existsSync(work)).toBe(false);
  });
});

describe('mountsUnder', () => {
  it('lists the mount points at or under a directory, deepest first, with mountinfo escapes undone', () => {
    const info = [
      '22 1 0:21 / / rw - overlay overlay rw',
      '30 22 7:0 / /tmp/w/snap ro,nodev - squashfs /dev/loop0 ro',
      '31 30 0:5 / /tmp/w/snap/dev rw - tmpfs tmpfs rw',
      '32 22 7:1 / /tmp/w\\040x/snap ro - squashfs /dev/loop1 ro',
      '33 22 7:2 / /tmp/wx ro - squashfs /dev/loop2 ro',
      '',
    ].join('\n');
    expect(mountsUnder(info, '/tmp/w/')).toEqual(['/tmp/w/snap/dev', '/tmp/w/snap']);
    expect(mountsUnder(info, '/tmp/w x')).toEqual(['/tmp/w x/snap']);
    expect(mountsUnder(info, '/tmp/none')).toEqual([]);
  });
});

describe('squashfs (real tools)', () => {
  it('packs with fixed times and reads a file back (real tools)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sqfs-'));
    try {
      writeFileSync(join(dir, 'hello'), 'hi\n');
      await mksquashfs(dir, join(dir, '..', `${dir.split('/').pop()}.sqfs`), 1234567);
      const file = `${dir}.sqfs`;
      expect(await catFile(file, 'hello')).toEqual({ ok: true, text: 'hi\n' });
      expect((await catFile(file, 'nope')).ok).toBe(false);
      await unsquashfs(file, join(dir, 'out'));
      expect((await execa('cat', [join(dir, 'out', 'hello')])).stdout).toBe('hi');
      rmSync(file);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
