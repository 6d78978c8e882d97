/**
 * Every README command works as the first command on a fresh machine. scripts/fresh-root.sh runs a
 * command in a clean Debian root holding only what a new machine has (Node.js, Go, Python, a JDK), a
 * clone of the committed HEAD and an empty cache. Here it runs the cheapest README command that still
 * needs everything of the entry path (npm packages from nothing, the TypeScript entry, the matrix
 * and templates); `npm run build:rock` runs the same way in the CI workflow's fresh-machine job.
 */
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { join } from 'node:path';
import { projectRoot } from '../src/lib/paths.ts';

describe('a fresh machine', () => {
  it('runs `npm run render -- --check` as its first command, from a clone with an empty cache', async () => {
    const r = await execa('bash', [join(projectRoot, 'scripts/fresh-root.sh'), 'render', '--', '--check'], { all: true, reject: false });
    expect(r.all).toContain('installing npm packages');
    expect(r.all).toContain('committed manifests are current');
    expect(r.all).toMatch(/fresh root: npm run render -- --check exited 0/);
    expect(r.exitCode).toBe(0);
  }, 1_200_000);
});
