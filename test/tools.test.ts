/** The thin tool modules: commands as data from pure builders, one runner, one formatCommand (no tool runs here but sh, printf and git; squashfs is in snap-runner.test.ts). */
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { tmpdir } from 'node:os';
import { formatCommand, run } from '../src/lib/tools/run.ts';
import { execCommand, runCommand } from '../src/lib/tools/podman.ts';
import { mksquashfsCommand } from '../src/lib/tools/squashfs.ts';
import { headRevision, lastChange } from '../src/lib/tools/git.ts';
import { flattenCommand, getJsonCommand } from '../src/lib/tools/kubectl.ts';
import { ROOT } from './support/k8s.ts';

describe('tool modules', () => {
  it('formatCommand quotes so that a shell reads back every argument exactly', async () => {
    const args = ['a b', "it's", 'plain', '', '$HOME', '`id`', 'back\\slash', 'new\nline', '*', '--x=1;2', '"dq"', '!'];
    expect(formatCommand(['x', ['a b', "it's", 'plain']])).toBe(`x 'a b' 'it'\\''s' plain`);
    // Run what it printed: sh must see the same arguments, none expanded, split or lost.
    const r = await execa('sh', ['-c', formatCommand(['printf', ['%s\\0', ...args]])]);
    expect(r.stdout.split('\0').slice(0, -1)).toEqual(args);
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
  it('git: the revision and last change of this checkout', async () => {
    expect(await headRevision(ROOT)).toBe((await execa('git', ['rev-parse', 'HEAD'], { cwd: ROOT })).stdout.trim());
    expect(await lastChange(ROOT, ['matrix.yaml'])).toBe(
      Number((await execa('git', ['log', '-1', '--format=%ct', '--', 'matrix.yaml'], { cwd: ROOT })).stdout),
    );
    expect(await headRevision(tmpdir())).toBeUndefined();
  });
});
