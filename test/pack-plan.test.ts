/**
 * The built-in backend's plans from rendered manifests (pure: the fixture matrix rendered with the
 * real templates), and the layer cache's trim (a cache directory of the test's own). Moved out of
 * build.test.ts, whose set-up builds the real rock and snap first. The craft backend's command line
 * is checked where it runs, by the stand-in tools of craft.test.ts (they echo the arguments they got).
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { planRock, applyPart, inheritDirs } from '../src/pack/rock.ts';
import { deriveSnapYaml, checkSnapYaml } from '../src/pack/snap.ts';
import { layerCacheDir, trimLayerCache } from '../src/pack/layer.ts';
import { fixtureManifests } from './support/fixture.ts';

describe('plans from the rendered manifests (pure)', () => {
  const fx = fixtureManifests();
  const m = fx.rockcraft;
  it('turns rockcraft.yaml into packages, parts, user, entrypoint and a pebble layer', () => {
    const p = planRock(m);
    expect(p.packages).toContain('openjdk-17-jre-headless');
    expect(p.parts.map((x) => x.name)).toEqual(['spark', 'extra-jars', 'spark-examples', 'spark8t', 'config']);
    expect(p.parts[0]!.prefix).toBe('opt/spark');
    expect(p.user).toEqual({ uid: 584792, name: '_daemon_' });
    expect(p.entrypoint).toEqual(['/usr/bin/pebble', 'enter', '--verbose', '--args', 'sparkd']);
    expect(parse(p.pebbleLayer).services.sparkd.command).toBe('/bin/bash /opt/pebble/sparkd.sh [ ]');
  });
  it('refuses plugins it cannot run, pointing at the craft backend', () => {
    expect(() => planRock({ ...m, parts: { x: { plugin: 'maven', source: '.' } } })).toThrow(/plugin maven; the built-in backend runs dump and nil parts/);
  });
  it('applies permissions and keeps the ownership of directories it only passes through', () => {
    const part = {
      name: 'config',
      source: 'files',
      prefix: '',
      renames: {},
      permissions: [{ path: 'var/lib/spark', owner: 584792, group: 584792, mode: '770' }],
    };
    const ents = applyPart(
      [
        { path: 'opt/spark', type: 'dir', mode: 0o755, uid: 0, gid: 0 },
        { path: 'opt/spark/entrypoint.sh', type: 'file', mode: 0o755, uid: 0, gid: 0, size: 1 },
        { path: 'var/lib/spark', type: 'dir', mode: 0o755, uid: 0, gid: 0 },
      ],
      part,
    );
    const out = inheritDirs(ents, new Map([['opt/spark', { mode: 0o755, uid: 584792, gid: 584792 }]]));
    expect(out.find((e) => e.path === 'opt/spark')).toMatchObject({ uid: 584792 });
    expect(out.find((e) => e.path === 'var/lib/spark')).toMatchObject({ uid: 584792, mode: 0o770 });
    expect(out.find((e) => e.path === 'opt')).toMatchObject({ uid: 0, mode: 0o755 });
  });
  it('derives meta/snap.yaml as snapcraft does and checks the snap format rules', () => {
    const y = deriveSnapYaml(fx.snapcraft, ['install'], 'amd64');
    expect(y).toMatchObject({
      name: 'spark-client',
      version: fx.resolved.line.spark,
      confinement: 'strict',
      base: 'core22',
      architectures: ['amd64'],
      hooks: { install: {} },
    });
    expect(checkSnapYaml(y)).toEqual([]);
    expect(checkSnapYaml({ ...y, name: 'Bad--Name', apps: { 'x y': {} } })).toEqual([
      'name is not a valid snap name',
      'app name x y is invalid',
      'app x y has no command',
    ]);
  });
});

describe('trimming the layer cache', () => {
  it('keeps named and recently used layers and the blobs they point at; drops the rest and dead temporaries', () => {
    const cache = mkdtempSync(join(tmpdir(), 'trim-'));
    try {
      const dir = layerCacheDir(cache);
      mkdirSync(dir, { recursive: true });
      const old = new Date(Date.now() - 25 * 3_600_000); // past the day of grace
      const put = (name: string, body: string, aged: boolean) => {
        writeFileSync(join(dir, name), body);
        if (aged) utimesSync(join(dir, name), old, old);
      };
      const layer = (key: string, blob: string, aged: boolean) => put(`${key}.json`, JSON.stringify({ key, path: join(dir, blob), dirs: {} }), aged);
      put('a.tar.gz', 'A', true);
      put('b.tar.gz', 'BB', true);
      put('c.tar.gz', 'CCC', true);
      put('orphan.tar.gz', 'DDDD', true);
      layer('named', 'a.tar.gz', true); // old, but an artifact uses it
      layer('recent', 'b.tar.gz', false); // not named, used within the grace period
      layer('stale', 'c.tar.gz', true); // neither: goes with its blob
      layer('stale-shares-a', 'a.tar.gz', true); // goes; a.tar.gz stays for 'named'
      const dead = spawnSync('true').pid;
      put(`x.tar.gz.tmp-${dead}`, 'EEEEE', false);
      put(`y.tar.gz.tmp-${process.pid}`, 'F', false); // a build of this process is writing it
      put(`stale.json.tmp-${dead}-1a2b3c4d`, 'GGGGGG', false); // a record's writeFileAtomic that died
      const r = trimLayerCache(cache, new Set(['named']));
      expect(readdirSync(dir).sort()).toEqual(['a.tar.gz', 'b.tar.gz', 'named.json', 'recent.json', `y.tar.gz.tmp-${process.pid}`]);
      expect(r).toEqual({ layers: 2, bytes: 3 + 4 + 5 + 6 });
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });
});
