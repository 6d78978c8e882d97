/**
 * The artifact a publish takes from dist/ when none is named: the cell's own file, never the same
 * image built for another architecture (a multi-arch publish would otherwise push one platform's
 * image under the other's name).
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findRockArtifact } from '../src/publish/artifact.ts';
import { findSnapArtifact } from '../src/publish/store.ts';
import { fixtureLine } from './support/registry.ts';

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
