/** The thin tool modules: commands as data from pure builders, one runner, one formatCommand. */
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatCommand, run } from '../src/lib/tools/run.ts';
import * as skopeo from '../src/lib/tools/skopeo-registry.ts';
import * as store from '../src/lib/tools/snapcraft-store.ts';
import { execCommand, runCommand } from '../src/lib/tools/podman.ts';
import { catFile, mksquashfs, mksquashfsCommand, unsquashfs } from '../src/lib/tools/squashfs.ts';
import { headRevision, lastChange } from '../src/lib/tools/git.ts';
import { flattenCommand, getJsonCommand } from '../src/lib/tools/kubectl.ts';
import { ROOT } from './support/k8s.ts';

describe('tool modules', () => {
  it('share one formatCommand', () => {
    expect(skopeo.formatCommand).toBe(formatCommand);
    expect(store.formatCommand).toBe(formatCommand);
    expect(formatCommand(['x', ['a b', "it's", 'plain']])).toBe(`x 'a b' 'it'\\''s' plain`);
  });
  it('build podman, squashfs and kubectl commands as data', () => {
    expect(runCommand('localhost/r:smoke', ['-c', 'id'], { rm: true, entrypoint: '/bin/bash', volumes: ['/a:/b:ro'], envs: { K: 'v' } })).toEqual([
      'podman',
      ['run', '--rm', '--network', 'host', '--entrypoint', '/bin/bash', '-v', '/a:/b:ro', '-e', 'K=v', 'localhost/r:smoke', '-c', 'id'],
    ]);
    expect(execCommand('n', ['pebble', 'services'])).toEqual(['podman', ['exec', 'n', 'pebble', 'services']]);
    expect(mksquashfsCommand('/p', '/o.snap', 42)).toEqual([
      'mksquashfs',
      [
        '/p',
        '/o.snap',
        '-noappend',
        '-comp',
        'xz',
        '-all-root',
        '-no-xattrs',
        '-no-fragments',
        '-mkfs-time',
        '42',
        '-all-time',
        '42',
        '-quiet',
        '-no-progress',
      ],
    ]);
    const k = { kubectl: '/bin/kubectl', kubeconfig: '/k' };
    expect(getJsonCommand(k, ['-n', 'ns', 'get', 'pods'])).toEqual(['/bin/kubectl', ['--kubeconfig', '/k', '-n', 'ns', 'get', 'pods', '-o', 'json']]);
    expect(flattenCommand(k)).toEqual(['/bin/kubectl', ['--kubeconfig', '/k', 'config', 'view', '--flatten', '--minify']]);
  });
  it('the runner keeps output as written and says when a tool is missing', async () => {
    expect((await run(['printf', ['a\\n\\n']])).stdout).toBe('a\n\n');
    const r = await run(['sparkcraft-no-such-tool', []]);
    expect(r).toMatchObject({ missing: true, exitCode: 127 });
  });
  it('squashfs: packs with fixed times and reads a file back (real tools)', async () => {
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
  it('git: the revision and last change of this checkout', async () => {
    expect(await headRevision(ROOT)).toBe((await execa('git', ['rev-parse', 'HEAD'], { cwd: ROOT })).stdout.trim());
    expect(await lastChange(ROOT, ['matrix.yaml'])).toBe(
      Number((await execa('git', ['log', '-1', '--format=%ct', '--', 'matrix.yaml'], { cwd: ROOT })).stdout),
    );
    expect(await headRevision(tmpdir())).toBeUndefined();
  });
});
