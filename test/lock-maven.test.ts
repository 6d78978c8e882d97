/**
 * `npm run lock`'s Maven resolution for real (Maven Central, Debian's maven, the dependency plugin the
 * toolchain pins): each line's roots resolve to exactly the closure the committed lock pins, and a root
 * Maven Central does not have is refused in one line.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { resolveClosure } from '../src/lib/tools/maven.ts';
import { loadMatrix } from '../src/config/matrix.ts';
import { readLock } from '../src/stage/lock.ts';
import { cacheDir } from '../src/lib/paths.ts';

const repo = join(cacheDir(), 'maven-repo');

describe("Maven resolves each line's jar roots into the lock's closure", () => {
  const m = loadMatrix();
  const lock = readLock();
  for (const line of m.lines) {
    it(`Spark ${line.track}: the same jars, versions and licences as sparkcraft.lock.json`, async () => {
      const got = await resolveClosure(line.jars, line.provided ?? [], repo);
      const pinned = lock.lines[line.track]!.filter((id) => id.startsWith('maven:')).map((id) => lock.inputs[id]!);
      expect(got.map((c) => `maven:${c.group}:${c.artifact}@${c.version} ${c.license}`).sort()).toEqual(pinned.map((i) => `${i.id} ${i.license}`).sort());
      // Nothing the line says its distribution provides, and nothing a root excludes, is in it.
      for (const ga of [...(line.provided ?? []), ...line.jars.flatMap((j) => j.exclude ?? [])])
        expect(got.map((c) => `${c.group}:${c.artifact}`)).not.toContain(ga);
    }, 300_000);
  }

  it('refuses a root Maven Central does not have, in one line naming it', async () => {
    const err = await resolveClosure([{ group: 'org.apache.hadoop', artifact: 'hadoop-aws', version: '0.0.1-none', license: 'Apache-2.0' }], [], repo).catch(
      (e) => e,
    );
    expect(err.code).toBe('E_LOCK_RESOLVE');
    expect(err.message).toMatch(/^Maven could not resolve org\.apache\.hadoop:hadoop-aws:0\.0\.1-none: /);
    expect(err.message).not.toContain('\n');
  }, 300_000);
});
