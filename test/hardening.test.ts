/**
 * The rock's file-mode rule (src/lib/hardening.ts, issue 23) without a build: the modes it gives,
 * the image view the smoke check reads (layers written by GNU tar, whiteouts and an opaque directory
 * in the second), the smoke check on such images, the built-in backend's layer entries passing it,
 * and the rendered rockcraft.yaml carrying the same rule for rockcraft.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { parse } from 'yaml';
import { findingLine, findings, hardenedMode, hardenScript, rockView } from '../src/lib/hardening.ts';
import { hardenedRock, runCheck } from '../src/smoke/checks.ts';
import { HARDEN_SCRIPTS, hardenEntries, planRock, type RockManifest } from '../src/pack/rock.ts';
import { dirEntries, type LayerBlob } from '../src/pack/layer.ts';
import { assembleImage, writeOciArchive } from '../src/pack/oci.ts';
import { writeTar } from '../src/pack/tar.ts';
import { workspace } from '../src/lib/workspace.ts';
import { ROOT } from './support/k8s.ts';

let dir: string;
const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A tree on disk: `path: mode` (a trailing `/` makes a directory, `-> target` a symlink). */
function tree(root: string, spec: Record<string, number | string>): string {
  for (const [p, m] of Object.entries(spec)) {
    const at = join(root, p);
    mkdirSync(dirname(at), { recursive: true });
    if (typeof m === 'string') symlinkSync(m, at);
    else if (p.endsWith('/')) mkdirSync(at, { recursive: true });
    else writeFileSync(at, '');
  }
  // Modes last, deepest first, so a parent's mode never stops making its children.
  for (const [p, m] of Object.entries(spec).reverse()) if (typeof m === 'number') chmodSync(join(root, p), m);
  return root;
}

/** A layer of `root` as GNU tar writes it (`./usr/bin/su`...), gzip-compressed. */
async function gnuLayer(root: string, name: string): Promise<LayerBlob> {
  const tar = join(dir, `${name}.tar`);
  await execa('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '-C', root, '-cf', tar, '.']);
  return blobOf(readFileSync(tar), name);
}

function blobOf(tar: Buffer, name: string): LayerBlob {
  const gz = gzipSync(tar);
  const path = join(dir, `${name}.tar.gz`);
  writeFileSync(path, gz);
  return { key: name, digest: sha(gz), diffId: sha(tar), size: gz.length, path, comment: name, dirs: {} };
}

async function archiveOf(layers: LayerBlob[], name: string): Promise<string> {
  const ws = workspace(join(dir, 'ws'), { cache: join(dir, 'cache') });
  const img = assembleImage(
    layers,
    { architecture: 'amd64', created: '2023-11-14T22:13:20Z', user: '0:0', env: [], entrypoint: [], cmd: [], workingDir: '/', labels: {} },
    '1',
  );
  const file = join(dir, `${name}.rock`);
  await writeOciArchive(ws, img, file, 1_700_000_000);
  return file;
}

let base: string;
let over: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sparkcraft-hardening-'));
  base = tree(join(dir, 'one'), {
    'tmp/': 0o1777,
    'var/tmp/': 0o1777,
    'var/mail/': 0o2775,
    'usr/bin/su': 0o4755,
    'usr/bin/wall': 0o2755,
    'usr/bin/ok': 0o755,
    'opt/open/': 0o777,
    'opt/open/f': 0o644,
    'srv/data': 0o666,
    'etc/tmp-link': '/tmp',
  });
  // Over it: su whited out, /var made opaque (its tmp and mail gone, a log dir new), wall's mode
  // replaced, the open directory replaced by a file, and a new setuid program.
  over = tree(join(dir, 'two'), {
    'usr/bin/.wh.su': 0o644,
    'usr/bin/wall': 0o755,
    'var/.wh..wh..opq': 0o644,
    'var/log/': 0o755,
    'opt/open': 0o644,
    'usr/sbin/newuid': 0o4755,
  });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the file-mode rule (pure)', () => {
  it('clears setuid, setgid and world-write; /tmp keeps 1777; a symlink keeps its mode', () => {
    expect(hardenedMode('usr/bin/su', 'file', 0o4755)).toBe(0o755);
    expect(hardenedMode('usr/sbin/unix_chkpwd', 'file', 0o2755)).toBe(0o755);
    expect(hardenedMode('var/mail', 'dir', 0o2775)).toBe(0o775);
    expect(hardenedMode('var/tmp', 'dir', 0o1777)).toBe(0o1775);
    expect(hardenedMode('srv/data', 'file', 0o666)).toBe(0o664);
    expect(hardenedMode('tmp', 'dir', 0o1777)).toBe(0o1777);
    expect(hardenedMode('tmp', 'dir', 0o777)).toBe(0o1777);
    expect(hardenedMode('tmp', 'file', 0o666)).toBe(0o664);
    expect(hardenedMode('etc/tmp-link', 'symlink', 0o777)).toBe(0o777);
  });
});

describe('the image view and the smoke check', () => {
  it('lists what breaks the rule in one GNU tar layer', async () => {
    const view = await rockView(await archiveOf([await gnuLayer(base, 'one')], 'one'));
    expect(findings(view).map(findingLine)).toEqual([
      '/opt/open 0777 world-writable',
      '/srv/data 0666 world-writable',
      '/usr/bin/su 4755 setuid',
      '/usr/bin/wall 2755 setgid',
      '/var/mail 2775 setgid',
      '/var/tmp 1777 world-writable (sticky), not a declared directory',
    ]);
    expect(view.get('tmp')).toMatchObject({ kind: 'dir', mode: 0o1777 });
    expect(view.get('etc/tmp-link')).toMatchObject({ kind: 'symlink' });
  });
  it('takes the final view: a later layer’s whiteout, opaque directory and entries win', async () => {
    const rock = await archiveOf([await gnuLayer(base, 'one'), await gnuLayer(over, 'two')], 'two');
    const view = await rockView(rock);
    expect(findings(view).map(findingLine)).toEqual(['/srv/data 0666 world-writable', '/usr/sbin/newuid 4755 setuid']);
    expect([...view.keys()].filter((p) => p.startsWith('var') || p.startsWith('usr/bin') || p.startsWith('opt')).sort()).toEqual([
      'opt',
      'opt/open',
      'usr/bin',
      'usr/bin/ok',
      'usr/bin/wall',
      'var',
      'var/log',
    ]);
    expect(view.get('opt/open')).toMatchObject({ kind: 'file', mode: 0o644 });
    // The smoke check fails, naming every path.
    const r = await runCheck('hardened', () => hardenedRock(rock));
    expect(r.ok).toBe(false);
    expect(r.detail).toBe(`2 of ${view.size} paths break the rule\n/srv/data 0666 world-writable\n/usr/sbin/newuid 4755 setuid`);
  });
  it('passes the layer the built-in backend writes from the same tree (its entries under the rule)', async () => {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    const entries = hardenEntries(await dirEntries(base, ''));
    await writeTar(out, entries, 1_700_000_000);
    const rock = await archiveOf([blobOf(Buffer.concat(chunks), 'built')], 'built');
    const r = await runCheck('hardened', () => hardenedRock(rock));
    expect(r, r.detail).toMatchObject({ ok: true, detail: `${entries.length} paths, none setuid or setgid, none world-writable but /tmp (1777)` });
    const view = await rockView(rock);
    expect(view.get('tmp')?.mode).toBe(0o1777);
    expect(view.get('usr/bin/su')?.mode).toBe(0o755);
  });
});

describe('the rendered rockcraft.yaml', () => {
  const m = parse(readFileSync(join(ROOT, 'rockcraft.yaml'), 'utf8')) as RockManifest;
  it('strips the bits over the base (overlay) and over every primed part, after every part', () => {
    const harden = m.parts.harden!;
    expect(harden['overlay-script']).toBe(HARDEN_SCRIPTS['overlay-script']);
    expect(harden['override-prime']).toBe(HARDEN_SCRIPTS['override-prime']);
    expect(harden['overlay-script']).toBe(`${hardenScript('$CRAFT_OVERLAY').join('\n')}\n`);
    expect(harden['override-prime']!.split('\n')[0]).toBe('craftctl default');
    expect([...(harden.after ?? [])].sort()).toEqual(
      Object.keys(m.parts)
        .filter((n) => n !== 'harden')
        .sort(),
    );
  });
  it('the built-in backend accepts that part and refuses any other overlay or prime script', () => {
    expect(planRock(m).parts.map((p) => p.name)).not.toContain('harden');
    const other = { ...m, parts: { ...m.parts, x: { plugin: 'nil', 'overlay-script': 'rm -rf "$CRAFT_OVERLAY/usr/bin"\n' } } };
    expect(() => planRock(other)).toThrow(/part x has an overlay-script the built-in backend does not run/);
  });
});
