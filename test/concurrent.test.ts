/**
 * N runs of the same command at once, in one checkout (a user's two terminals, a CI matrix sharing
 * a cache): 20 renders and 20 no-op builds of the rock (each runs render, stage and pack) all succeed,
 * the committed manifests stay current, and the rock in dist/ is the one that was there (same bytes,
 * nothing deleted that another run was using). The build waits for other runs' step locks
 * (src/lib/state.ts withLock) and says which run holds one.
 */
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { build } from '../src/pipeline.ts';
import { ROOT } from './support/k8s.ts';

const N = 20;
const cli = (args: string[]) => execa('bash', [join(ROOT, 'scripts/sparkcraft.sh'), ...args], { cwd: ROOT, reject: false });
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

describe(`${N} concurrent runs of one command`, () => {
  it(`${N} renders, then ${N} no-op builds of the rock: all exit 0, nothing half-written, the rock unchanged`, async () => {
    const first = await build('rock', { backend: 'builtin' });
    const rock = first.artifact!;
    const before = { sha: sha(rock), ino: statSync(rock).ino };
    const manifest = readFileSync(join(ROOT, 'rockcraft.yaml'), 'utf8');

    const renders = await Promise.all(Array.from({ length: N }, () => cli(['render'])));
    expect(
      renders.map((r) => r.exitCode).filter((c) => c !== 0),
      renders.find((r) => r.exitCode)?.stderr,
    ).toEqual([]);
    expect(readFileSync(join(ROOT, 'rockcraft.yaml'), 'utf8')).toBe(manifest);
    expect((await cli(['render', '--check'])).exitCode).toBe(0);

    const t0 = Date.now();
    const builds = await Promise.all(Array.from({ length: N }, () => cli(['build', 'rock', '--backend', 'builtin', '--json'])));
    const seconds = (Date.now() - t0) / 1000;
    const failed = builds.filter((r) => r.exitCode !== 0);
    expect(
      failed.map((r) => r.stderr.split('\n').filter(Boolean).at(-1)),
      `${failed.length} of ${N} failed`,
    ).toEqual([]);
    expect(builds.map((r) => JSON.parse(r.stdout).reused)).toEqual(Array(N).fill(true));
    // The rock is the same file (not even rewritten), and no run left a temporary file beside it.
    expect({ sha: sha(rock), ino: statSync(rock).ino }).toEqual(before);
    expect(readdirSync(join(ROOT, 'dist')).filter((n) => /\.tmp|\.new-|\.old-/.test(n))).toEqual([]);
    const waited = builds.filter((r) => /waiting for the lock on .*: held by/.test(r.stderr)).length;
    console.log(`${N} renders and ${N} no-op builds at once: all exit 0; builds took ${seconds.toFixed(1)} s together; ${waited} waited for a lock`);
  }, 600_000);
});
