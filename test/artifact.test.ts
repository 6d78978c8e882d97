/**
 * The artifact a publish takes from dist/ when none is named: the cell's own file, never the same
 * image built for another architecture (a multi-arch publish would otherwise push one platform's
 * image under the other's name).
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findRockArtifact } from '../src/publish/artifact.ts';
import { findSnapArtifact } from '../src/publish/store.ts';
import { fixtureLine } from './support/registry.ts';
import { FIXTURE_MATRIX } from './support/fixture.ts';
import { publishRock } from '../src/publish/cli.ts';
import { workspace } from '../src/lib/workspace.ts';
import { UserError } from '../src/lib/errors.ts';

describe('the default artifact of a publish', () => {
  it("is the cell's file in dist/; another architecture's is refused, not taken", async () => {
    const root = mkdtempSync(join(tmpdir(), 'artifact-'));
    mkdirSync(join(root, 'dist'));
    const r = fixtureLine();
    const other = r.paths.rock.replace(`_${r.arch}.rock`, '_arm64.rock');
    writeFileSync(join(root, other), 'arm64 image');
    await expect(findRockArtifact(root, r)).rejects.toThrow(`no rock ${r.paths.rock} to publish`);
    writeFileSync(join(root, r.paths.snap.replace(`_${r.arch}.snap`, '_arm64.snap')), 'arm64 snap');
    await expect(findSnapArtifact(root, r)).rejects.toThrow(`no snap ${r.paths.snap} to publish`);
    writeFileSync(join(root, r.paths.rock), 'the image');
    expect(await findRockArtifact(root, r)).toBe(join(root, r.paths.rock));
  });
});

describe('a multi-architecture publish (the matrix builds amd64 and arm64)', () => {
  const twoArch = (root: string) => {
    const matrix = join(root, 'matrix.yaml');
    writeFileSync(matrix, readFileSync(FIXTURE_MATRIX, 'utf8').replace('architectures: [amd64]', 'architectures: [amd64, arm64]'));
    return matrix;
  };
  const publish = (root: string, o: { arch?: string }) =>
    publishRock(
      { matrix: twoArch(root), ...o, registry: '127.0.0.1:9', yes: true, json: false, force: false, attempts: 1, retryDelayMs: 0, sign: false },
      workspace(root),
    ).then(
      () => undefined,
      (e: unknown) => e,
    );

  it('refuses --arch: one architecture alone under the tags would replace the others', async () => {
    const err = await publish(mkdtempSync(join(tmpdir(), 'artifact-')), { arch: 'arm64' });
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).code).toBe('E_ARCH');
    expect((err as UserError).oneLine()).toMatch(/^publish names every architecture of the matrix \(amd64, arm64\) at once; it does not take --arch arm64/);
  });

  it("refuses the plan whole, before the registry is read, when a platform's rock is missing, naming each with its build command", async () => {
    const root = mkdtempSync(join(tmpdir(), 'artifact-'));
    mkdirSync(join(root, 'dist'));
    // The registry (127.0.0.1:9) cannot be reached: a plan that read it would fail with E_REGISTRY_UNAVAILABLE.
    const err = await publish(root, {});
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).code).toBe('E_ARTIFACT');
    const line = (err as UserError).oneLine();
    expect(line).toMatch(/^the amd64 \+ arm64 publish of charmed-spark \S+ is refused whole: /);
    expect(line).toContain('no amd64 rock of ');
    expect(line).toMatch(/no arm64 rock of \S+ \(dist\/charmed-spark_\S+_arm64\.rock\): build it with npm run build:rock -- --arch arm64/);
  });
});
