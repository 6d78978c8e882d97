/** The built-in backends' plans (pure): the snap's like the rock's, from the fixture matrix's rendered manifests; parts shared. */
import { describe, expect, it } from 'vitest';
import { planSnap } from '../src/pack/snap.ts';
import { planRock } from '../src/pack/rock.ts';
import { organize, planParts, primed } from '../src/pack/parts.ts';
import { fixtureManifests } from './support/fixture.ts';

const fx = fixtureManifests();
const snapcraft = fx.snapcraft;
const rockcraft = fx.rockcraft;

describe('the snap plan', () => {
  it('turns snapcraft.yaml and its hooks into packages, parts and meta/snap.yaml before any work', () => {
    const p = planSnap(snapcraft, ['install']);
    expect(p.name).toBe('spark-client');
    expect(p.packages).toEqual(['openjdk-17-jre-headless', 'python3']);
    expect(p.parts.map((x) => x.name)).toEqual(
      Object.entries(snapcraft.parts as Record<string, { plugin: string }>)
        .filter(([, v]) => v.plugin === 'dump')
        .map(([k]) => k),
    );
    expect(p.snapYaml).toMatchObject({ name: 'spark-client', version: fx.resolved.line.spark, hooks: { install: {} } });
    expect(JSON.parse(JSON.stringify(p))).toEqual(p);
  });
  it('places and primes files as snapcraft does (the spark8t part keeps only bin/spark8t)', () => {
    const spark8t = planSnap(snapcraft, []).parts.find((x) => x.name === 'spark8t')!;
    expect(organize(spark8t, 'opt/spark-client/bin/spark8t')).toBe('bin/spark8t');
    expect(primed(spark8t, 'bin/spark8t')).toBe(true);
    expect(primed(spark8t, organize(spark8t, 'opt/spark-client/bin/spark-client.spark-submit'))).toBe(false);
    const spark = planSnap(snapcraft, []).parts.find((x) => x.name === 'spark')!;
    expect(organize(spark, 'bin/spark-submit')).toBe('opt/spark/bin/spark-submit');
  });
  it("is for the architecture it is given (the host's by default)", () => {
    expect(planSnap(snapcraft, [], 'x', 'arm64').snapYaml.architectures).toEqual(['arm64']);
  });
  it('refuses plugins it cannot run and snap.yaml snapd would refuse, by name', () => {
    expect(() => planSnap({ ...snapcraft, parts: { x: { plugin: 'python', source: '.' } } }, [])).toThrow(
      /part x uses plugin python; the built-in backend runs dump and nil parts/,
    );
    expect(() => planSnap({ ...snapcraft, name: 'Bad--Name' }, [])).toThrow(/meta\/snap.yaml would be refused: name is not a valid snap name/);
  });
});

describe('parts (shared by the rock and the snap)', () => {
  it('the rock and the snap plan the same dump parts the same way', () => {
    const rock = planRock(rockcraft).parts.find((x) => x.name === 'spark')!;
    const snap = planSnap(snapcraft, []).parts.find((x) => x.name === 'spark')!;
    expect({ ...rock, permissions: [] }).toEqual({ ...snap, permissions: [] });
  });
  it('organize renames paths of the source, then places them under the "*" folder', () => {
    const { parts, packages } = planParts(
      {
        a: { plugin: 'dump', source: 's', organize: { '*': 'opt/x/', 'bin/tool': 'bin/renamed' }, 'stage-packages': ['b', 'a'] },
        n: { plugin: 'nil', 'stage-packages': ['a'] },
      },
      'm',
    );
    expect(packages).toEqual(['a', 'b']);
    expect(organize(parts[0]!, '')).toBe('opt/x');
    expect(organize(parts[0]!, 'bin/tool')).toBe('opt/x/bin/renamed');
    expect(organize(parts[0]!, 'lib/y')).toBe('opt/x/lib/y');
  });
});
