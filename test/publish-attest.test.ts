/**
 * The attestations of a layered flavour image describe the whole image (issue 21 item 5): the SBOM that is
 * attached holds the base's packages and files and the flavour's, and names the base image by its manifest
 * digest; the provenance lists the inputs that SBOM records (the flavour's jar, the base's inputs, the base
 * image by digest), not the base line's lock entries. First the merge, pure; then a gpu rock built over a
 * small base of its own (test/support/fake-base.ts, `--base-archive`), and both documents checked against
 * the files in the image's layers (skopeo reads the archive; tar unpacks each layer).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMatrix, resolveLine } from '../src/config/matrix.ts';
import { workspace, type Workspace } from '../src/lib/workspace.ts';
import { readArchiveImage } from '../src/lib/oci-archive.ts';
import type { Packed } from '../src/pack/pack.ts';
import { build } from '../src/pipeline.ts';
import { BASE_IMAGE_SPDXID, inputsOfSbom, layeredImageSbom, sbomDigest, type SpdxDocument } from '../src/publish/attestation.ts';
import { inspectSigning, readSbom, type SignPlan } from '../src/publish/sign.ts';
import { lockedFlavourInputs, readLock } from '../src/stage/lock.ts';
import { spdxDocument, type Origin } from '../src/stage/sbom.ts';
import { writeFakeBase } from './support/fake-base.ts';
import { ROOT } from './support/k8s.ts';

const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');
const origin = (name: string, sha256: string): Origin => ({ name, version: '1', url: `https://x.invalid/${name}`, sha256, license: 'Apache-2.0' });
const staged = (name: string, files: Array<[string, string]>, origins: Origin[]): SpdxDocument =>
  spdxDocument(
    name,
    '2026-01-01T00:00:00Z',
    files.map(([path, text], i) => ({ path, sha1: '0'.repeat(40), sha256: sha(text), origin: origins[i % origins.length]! })),
    origins,
  ) as unknown as SpdxDocument;

describe('the SBOM of a layered image (pure)', () => {
  const base = staged(
    'base',
    [
      ['spark/a', 'a'],
      ['jars/x.jar', 'x'],
    ],
    [origin('spark', 'c'.repeat(64)), { ...origin('examples', ''), sha256: '' }],
  );
  const own = staged('gpu', [['jars/x.jar', 'y']], [origin('rapids', 'd'.repeat(64))]);
  const merged = layeredImageSbom(own, { name: 'charmed-spark', version: '3.5.9', manifestDigest: `sha256:${'e'.repeat(64)}`, sbom: base });

  it("holds the base image by digest, the base's packages and files, then the flavour's, every SPDX id once", () => {
    expect(merged.packages[0]).toMatchObject({
      SPDXID: BASE_IMAGE_SPDXID,
      name: 'charmed-spark',
      checksums: [{ algorithm: 'SHA256', checksumValue: 'e'.repeat(64) }],
    });
    expect(merged.packages.map((p) => p.name)).toEqual(['charmed-spark', 'spark', 'examples', 'rapids']);
    expect(merged.files.map((f) => f.fileName)).toEqual(['./spark/a', './jars/x.jar', './jars/x.jar']);
    const ids = [...merged.packages, ...merged.files].map((x) => x.SPDXID);
    expect(new Set(ids).size).toBe(ids.length);
    // Every relationship names elements the document holds (the base's renamed with it).
    for (const r of merged.relationships ?? []) expect(ids).toEqual(expect.arrayContaining([r.spdxElementId, r.relatedSpdxElement]));
    expect(merged.documentNamespace).not.toBe(own.documentNamespace);
    expect(sbomDigest(merged)).not.toBe(sbomDigest(own));
  });
  it("the provenance's inputs are the packages with a sha256: the base image, the base's and the flavour's", () => {
    expect(inputsOfSbom(merged).map((i) => [i.id, i.sha256])).toEqual([
      ['base image charmed-spark@3.5.9', 'e'.repeat(64)],
      ['spark@1', 'c'.repeat(64)],
      ['rapids@1', 'd'.repeat(64)],
    ]);
    expect(inputsOfSbom(merged)[0]!.url).toBe(`pkg:oci/charmed-spark@sha256%3A${'e'.repeat(64)}`);
  });
});

/** A checkout of its own (git init, the checkout's matrix, lock and templates linked) as a workspace. */
async function checkout(dir: string): Promise<Workspace> {
  const root = join(dir, 'root');
  mkdirSync(root);
  for (const n of ['matrix.yaml', 'sparkcraft.lock.json', 'templates']) symlinkSync(join(ROOT, n), join(root, n));
  // A checkout: the provenance names its commit.
  const git = (...a: string[]) => execa('git', ['-C', root, '-c', 'user.name=t', '-c', 'user.email=t@t.invalid', ...a]);
  await git('init', '-q');
  await git('add', '-A');
  await git('commit', '-qm', 'fixture');
  return workspace(root);
}

describe('the signing plan of a layered image, from small archives (no build)', () => {
  const r = resolveLine(loadMatrix(), { line: '3.5', flavour: 'gpu' });
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sparkcraft-attest-plan-'));
  });
  afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

  it("reads the base's digest from the image's label and merges the base's SBOM; refuses an image that names no base", async () => {
    const ws = await checkout(dir);
    const salt = randomBytes(8).toString('hex');
    const ident = { 'org.opencontainers.image.ref.name': r.base!.image.name, 'org.opencontainers.image.version': r.base!.version };
    const baseFile = join(dir, 'base.rock');
    await writeFakeBase(ws, baseFile, ident, salt);
    const baseDigest = readArchiveImage(baseFile).manifestDigest;
    // Stands in for the flavour image: what matters here is its label naming the base.
    const image = join(dir, 'image.rock');
    await writeFakeBase(ws, image, { ...ident, 'org.opencontainers.image.base.digest': baseDigest }, `${salt}-image`);
    mkdirSync(join(ws.root, r.base!.paths.inputs), { recursive: true });
    mkdirSync(join(ws.root, r.paths.inputs), { recursive: true });
    writeFileSync(join(ws.root, r.base!.paths.inputs, 'sbom.spdx.json'), JSON.stringify(staged('base', [['spark/a', 'a']], [origin('spark', 'c'.repeat(64))])));
    writeFileSync(join(ws.root, r.paths.inputs, 'sbom.spdx.json'), JSON.stringify(staged('gpu', [['jars/r.jar', 'r']], [origin('rapids', 'd'.repeat(64))])));
    const opts = {
      resolved: r,
      repository: 'registry.invalid/c/charmed-spark-gpu',
      digest: `sha256:${'f'.repeat(64)}`,
      root: ws.root,
      lockFile: ws.lockFile,
      keyless: true,
      env: {},
    };
    const plan = await inspectSigning({ ...opts, artifact: image });
    expect(plan.problems).toEqual([]);
    expect(plan.sbom!.base).toMatchObject({ manifestDigest: baseDigest, image: r.base!.image.name });
    expect([plan.sbom!.packages, plan.sbom!.files]).toEqual([3, 2]);
    const deps = plan.provenance!.predicate.buildDefinition.resolvedDependencies.map((d) => d.name);
    expect(deps).toEqual(expect.arrayContaining([`base image ${r.base!.image.name}@${r.base!.version}`, 'spark@1', 'rapids@1']));
    // The same plan from the digest pack recorded, without reading the label.
    expect((await inspectSigning({ ...opts, artifact: baseFile, baseDigest })).sbom!.sha256).toBe(plan.sbom!.sha256);
    const refused = await inspectSigning({ ...opts, artifact: baseFile });
    expect(refused.problems[0]).toMatch(/base\.rock names no base image \(label org\.opencontainers\.image\.base\.digest\)/);
    expect(refused.sbom).toBeNull();
  }, 300_000);
});

describe('a gpu rock over a base archive: its attestations against its layers', () => {
  const r = resolveLine(loadMatrix(), { line: '3.5', flavour: 'gpu' });
  const salt = randomBytes(8).toString('hex');
  let dir: string;
  let ws: Workspace;
  let baseFile: string;
  let packed: Packed;
  let plan: SignPlan;
  let doc: SpdxDocument;
  /** sha256 of every regular file in the image's base layers and in the flavour's own. */
  const inBase = new Set<string>();
  const inFlavour = new Set<string>();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sparkcraft-attest-'));
    ws = await checkout(dir);
    const root = ws.root;
    baseFile = join(dir, 'base.rock');
    await writeFakeBase(ws, baseFile, { 'org.opencontainers.image.ref.name': r.base!.image.name, 'org.opencontainers.image.version': r.base!.version }, salt);
    // The base's stage SBOM, where the base line's stage writes it: the fake base's two files.
    const baseSbom = staged(
      'fake-base',
      [
        ['etc/os-release', `ID=fake\nSALT=${salt}\n`],
        ['opt/spark/RELEASE', `fake ${salt}\n`],
      ],
      [origin(`fake-base-${salt}`, sha(salt))],
    );
    mkdirSync(join(root, r.base!.paths.inputs), { recursive: true });
    writeFileSync(join(root, r.base!.paths.inputs, 'sbom.spdx.json'), JSON.stringify(baseSbom));

    packed = await build('rock', { line: '3.5', flavour: 'gpu', backend: 'builtin', baseArchive: baseFile }, ws);
    plan = await inspectSigning({
      resolved: r,
      repository: 'registry.invalid/canonical/charmed-spark-gpu',
      digest: packed.digest,
      root,
      artifact: packed.artifact,
      lockFile: ws.lockFile,
      keyless: true,
      env: {},
    });
    const read = readSbom(plan.sbom!.file, plan.sbom!.base);
    if ('problem' in read) throw new Error(read.problem);
    doc = read.doc;

    // Every layer unpacked, its regular files hashed.
    const manifest = JSON.parse((await execa('skopeo', ['inspect', '--raw', `oci-archive:${packed.artifact}`])).stdout) as {
      layers: Array<{ digest: string }>;
    };
    const blobs = join(dir, 'blobs');
    mkdirSync(blobs);
    await execa('tar', ['-xf', packed.artifact, '-C', blobs, ...manifest.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`)]);
    for (const [i, l] of manifest.layers.entries()) {
      const out = join(dir, `layer-${i}`);
      mkdirSync(out);
      await execa('tar', ['-xzf', join(blobs, 'blobs/sha256', l.digest.slice(7)), '-C', out, '--no-same-owner', '--no-same-permissions']);
      const walk = (d: string) => {
        for (const e of readdirSync(d, { withFileTypes: true })) {
          if (e.isDirectory()) walk(join(d, e.name));
          else if (e.isFile()) (i < packed.base!.layers ? inBase : inFlavour).add(sha(readFileSync(join(d, e.name))));
        }
      };
      walk(out);
      rmSync(out, { recursive: true, force: true });
    }
    rmSync(blobs, { recursive: true, force: true });
  }, 1_800_000);
  afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

  it('pack recorded the base (its manifest digest, its layer count); the plan names the same base, with no problem', async () => {
    const baseDigest = readArchiveImage(baseFile).manifestDigest;
    expect(packed.base).toEqual({ manifestDigest: baseDigest, layers: 2 });
    expect(plan.problems).toEqual([]);
    expect(plan.sbom!.base).toMatchObject({ image: r.base!.image.name, version: r.base!.version, manifestDigest: baseDigest });
    const config = JSON.parse((await execa('skopeo', ['inspect', '--config', `oci-archive:${packed.artifact}`])).stdout) as {
      config: { Labels: Record<string, string> };
    };
    expect(config.config.Labels['org.opencontainers.image.base.digest']).toBe(baseDigest);
  });

  it("the SBOM: every file it lists is in the image's layers, the base's in the base layers, the flavour's in its own", () => {
    const baseFiles = doc.files.filter((f) => f.SPDXID.startsWith('SPDXRef-Base-'));
    const ownFiles = doc.files.filter((f) => !f.SPDXID.startsWith('SPDXRef-Base-'));
    expect(baseFiles.map((f) => f.fileName)).toEqual(['./etc/os-release', './opt/spark/RELEASE']);
    expect(ownFiles.length).toBeGreaterThan(0);
    const sum = (f: SpdxDocument['files'][number]) => f.checksums!.find((c) => c.algorithm === 'SHA256')!.checksumValue;
    for (const f of baseFiles) expect(inBase.has(sum(f)), f.fileName).toBe(true);
    for (const f of ownFiles) expect(inFlavour.has(sum(f)), f.fileName).toBe(true);
    const hex = packed.base!.manifestDigest.slice(7);
    expect(doc.packages.find((p) => p.SPDXID === BASE_IMAGE_SPDXID)?.checksums).toEqual([{ algorithm: 'SHA256', checksumValue: hex }]);
    expect(sbomDigest(doc)).toBe(plan.sbom!.sha256);
  });

  it("the provenance: the SBOM's inputs (the flavour's jar, the base's input, the base image by digest) and that SBOM as its byproduct", () => {
    const predicate = plan.provenance!.predicate;
    const deps = predicate.buildDefinition.resolvedDependencies.flatMap((d) => ('sha256' in d.digest ? [d.digest.sha256] : []));
    const lockSha = sha(readFileSync(ws.lockFile));
    const packages = doc.packages.flatMap((p) => p.checksums?.filter((c) => c.algorithm === 'SHA256').map((c) => c.checksumValue) ?? []);
    expect(deps.filter((d) => d !== lockSha).sort()).toEqual([...new Set(packages)].sort());
    // What was missing before: the flavour's own input (the RAPIDS jar, in the flavour's layer) and the base's.
    const rapids = lockedFlavourInputs(r.line, r.flavour, readLock(ws.lockFile), r.arch);
    expect(rapids.length).toBeGreaterThan(0);
    for (const i of rapids) {
      expect(deps).toContain(i.sha256);
      expect(inFlavour.has(i.sha256), i.id).toBe(true);
    }
    expect(deps).toContain(sha(salt));
    expect(deps).toContain(packed.base!.manifestDigest.slice(7));
    expect(predicate.runDetails.byproducts).toEqual([{ name: 'sbom.spdx.json', mediaType: 'application/spdx+json', digest: { sha256: plan.sbom!.sha256 } }]);
  });
});
