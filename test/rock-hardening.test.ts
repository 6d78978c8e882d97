/**
 * Issue 23, a hardened rock: the built-in backend's rock of the default line has no setuid or setgid
 * file or directory, and nothing world-writable but /tmp (sticky 1777), in the image's final view
 * (every layer of the oci-archive read in order, a later layer's entry or whiteout winning), the
 * view the smoke check `rock: no setuid or setgid file…` reads too. The list is printed, so a
 * failure names every path.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { build } from '../src/pipeline.ts';
import { findingLine, rockView, findings } from '../src/lib/hardening.ts';
import type { ViewEntry } from '../src/lib/hardening.ts';

let view: Map<string, ViewEntry>;

beforeAll(async () => {
  const rock = (await build('rock', { backend: 'builtin' })).artifact;
  const t = Date.now();
  view = await rockView(rock);
  console.log(`${rock}: ${view.size} paths read in ${((Date.now() - t) / 1000).toFixed(1)} s`);
}, 1_800_000);

describe('the rock is hardened', () => {
  it('has no setuid or setgid path and nothing world-writable but /tmp', () => {
    const found = findings(view).map(findingLine);
    console.log(found.length ? `${found.length} paths break the rule:\n${found.join('\n')}` : 'no path breaks the rule');
    expect(found).toEqual([]);
  });
  it('keeps /tmp as the sticky 1777 directory, and what Spark writes to as the run user', () => {
    expect(view.get('tmp')).toMatchObject({ kind: 'dir', mode: 0o1777, uid: 0, gid: 0 });
    // Not an empty view: the base's programs and the parts' files are there.
    expect(view.get('usr/bin/bash')?.kind).toBe('file');
    expect(view.get('opt/spark/bin/spark-submit')?.kind).toBe('file');
    expect(view.get('var/lib/spark')).toMatchObject({ kind: 'dir', mode: 0o770, uid: 584792 });
  });
});
