/**
 * The fixture matrix (test/fixtures/matrix.yaml, made-up versions) for the logic tests, and its
 * manifests rendered with the real templates: what a unit test reads instead of the live matrix and
 * the committed manifests, so a version bump in matrix.yaml changes no unit test. Pure.
 */
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadMatrix, resolveLine } from '../../src/config/matrix.ts';
import type { Matrix, ResolvedLine } from '../../src/config/types.ts';
import { loadTemplates, renderLine } from '../../src/render/render.ts';
import { projectRoot } from '../../src/lib/paths.ts';

export const FIXTURE_MATRIX = join(projectRoot, 'test', 'fixtures', 'matrix.yaml');

let cached: Matrix | undefined;
/** The fixture matrix, validated as the real one is. */
export function fixtureMatrix(): Matrix {
  cached ??= loadMatrix(FIXTURE_MATRIX);
  return cached;
}

/** A line × flavour of the fixture (the default line, spark, for amd64 unless told). */
export function fixtureResolved(sel: { line?: string; flavour?: string; risk?: ResolvedLine['risk']; arch?: string } = {}): ResolvedLine {
  return resolveLine(fixtureMatrix(), { arch: 'amd64', ...sel });
}

/** The fixture line's rendered files, parsed where YAML: `rockcraft.yaml`, `snap/snapcraft.yaml`, and the rest as text. */
export function fixtureManifests(sel: Parameters<typeof fixtureResolved>[0] = {}) {
  const r = fixtureResolved(sel);
  const files = renderLine(r, loadTemplates());
  const text = (p: string) => files.find((f) => f.path === p)?.content;
  const yaml = (p: string) => {
    const t = text(p);
    return t === undefined ? undefined : parse(t);
  };
  return { resolved: r, files, text, rockcraft: yaml('rockcraft.yaml'), snapcraft: yaml('snap/snapcraft.yaml') };
}
