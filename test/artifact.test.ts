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

describe('publishing another architecture than the family first one', () => {
  it('is refused in one line before any registry is read: one tag names one image until the multi-arch index exists', async () => {
    const root = mkdtempSync(join(tmpdir(), 'artifact-'));
    const matrix = join(root, 'matrix.yaml');
    // the fixture matrix with arm64 beside amd64
    writeFileSync(matrix, readFileSync(FIXTURE_MATRIX, 'utf8').replace('architectures: [amd64]', 'architectures: [amd64, arm64]'));
    const err = await publishRock(
      { matrix, arch: 'arm64', registry: '127.0.0.1:9', yes: true, json: false, force: false, attempts: 1, retryDelayMs: 0, sign: false },
      workspace(root),
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).code).toBe('E_ARCH');
    expect((err as UserError).oneLine()).toMatch(/^publishing the arm64 rock would put it under the tags of the amd64 one/);
  });
});
