/**
 * The pure middle of publishing: tag schemes and their kinds, the per-tag decision, the retry schedule,
 * the translation of skopeo failures, credentials selection, and snap/promote argument building.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../src/lib/errors.ts';
import { clearSecrets, mask } from '../src/lib/secrets.ts';
import { classifyFailure, copyArchiveCommand, inspectRawCommand, lastErrorLine } from '../src/lib/tools/skopeo-registry.ts';
import { promoteCommand, releaseCommand, uploadCommand, parseUploadRevision } from '../src/lib/tools/snapcraft-store.ts';
import { authFileContent, credentialsFromEnv } from '../src/publish/credentials.ts';
import { RetriesExhausted, backoffDelays, withRetry } from '../src/lib/retry.ts';
import { applyRockPlan, classifyTag, decideRockPlan, formatRockPlan, repositoryOf, tagsForLine } from '../src/publish/registry.ts';
import { RegistrySession } from '../src/publish/session.ts';
import { planPromote, planSnapUpload, snapRefusal } from '../src/publish/store.ts';
import { fixtureLine } from './support/registry.ts';
import { imageIndex, matchPlatforms } from '../src/publish/platforms.ts';
import { indexPlatforms } from '../src/publish/verify.ts';
import { perArch } from '../src/publish/cli.ts';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;

describe('rock tags', () => {
  it('publishes every tag the resolver gives, each with its kind, immutable first (edge, stable, a flavour with a tagVersion)', () => {
    expect(tagsForLine(fixtureLine({ risk: 'edge' }))).toEqual([
      { tag: '3.5.9-22.04_edge', kind: 'immutable' },
      { tag: '3.5-22.04_edge', kind: 'moving' },
    ]);
    expect(tagsForLine(fixtureLine({ risk: 'stable' }))).toEqual([
      { tag: '3.5.9-22.04_stable', kind: 'immutable' },
      { tag: '3.5-22.04_stable', kind: 'moving' },
      { tag: '3.5-22.04', kind: 'moving' },
    ]);
    // A flavour's own version enters the immutable tag only; the moving tags name the track.
    const jupyter = fixtureLine({ name: 'charmed-spark-jupyterlab', tagVersion: '4.0.11', risk: 'stable' });
    expect(tagsForLine(jupyter)).toEqual([
      { tag: '3.5.9-4.0.11-22.04_stable', kind: 'immutable' },
      { tag: '3.5-22.04_stable', kind: 'moving' },
      { tag: '3.5-22.04', kind: 'moving' },
    ]);
    expect(jupyter.image.ref).toBe('ghcr.io/canonical/charmed-spark-jupyterlab:3.5-22.04_stable');
    // The plan publishes exactly those.
    const plan = decideRockPlan({
      resolved: jupyter,
      registry: 'ghcr.io/canonical',
      artifact: { file: jupyter.paths.rock, digest: D1 },
      existing: {},
      force: false,
      credentials: 'GITHUB_TOKEN',
    });
    expect(plan.tags.map((t) => t.ref)).toEqual(jupyter.image.tags.map((t) => `ghcr.io/canonical/charmed-spark-jupyterlab:${t}`));
    expect(plan.artifact.file).toBe('dist/charmed-spark-jupyterlab_3.5.9-4.0.11_amd64.rock');
  });
  it('uses the matrix tags when given, immutable ones first, without duplicates', () => {
    const r = fixtureLine({ tags: ['3.5-22.04_edge', '3.5.9-22.04_edge', '3.5-22.04_edge'] });
    expect(tagsForLine(r)).toEqual([
      { tag: '3.5.9-22.04_edge', kind: 'immutable' },
      { tag: '3.5-22.04_edge', kind: 'moving' },
    ]);
  });
  it('classifies a tag as immutable only when it names the full version', () => {
    expect(classifyTag('3.5.9-22.04_edge', '3.5.9')).toBe('immutable');
    expect(classifyTag('3.5.9', '3.5.9')).toBe('immutable');
    expect(classifyTag('3.5.10-22.04_edge', '3.5.1')).toBe('moving');
    expect(classifyTag('3.5-22.04_edge', '3.5.9')).toBe('moving');
    expect(classifyTag('3.5-22.04', '3.5.9')).toBe('moving');
  });
  it('rejects tags that are not valid OCI tags', () => {
    expect(() => tagsForLine(fixtureLine({ tags: ['3.5/edge'] }))).toThrow(UserError);
  });
  it('splits registry host and repository', () => {
    expect(repositoryOf('ghcr.io/canonical', 'charmed-spark')).toEqual({ host: 'ghcr.io', repository: 'ghcr.io/canonical/charmed-spark' });
    expect(repositoryOf('https://127.0.0.1:5000/ns/', 'x')).toEqual({ host: '127.0.0.1:5000', repository: '127.0.0.1:5000/ns/x' });
  });
});

describe('rock plan', () => {
  const base = { registry: 'ghcr.io/canonical', artifact: { file: 'dist/charmed-spark_3.5.9_amd64.rock', digest: D1 }, credentials: 'GITHUB_TOKEN' };
  it('pushes absent tags, keeps identical ones, moves moving ones', () => {
    const p = decideRockPlan({
      ...base,
      resolved: fixtureLine({ risk: 'stable' }),
      existing: { '3.5.9-22.04_stable': null, '3.5-22.04_stable': D1, '3.5-22.04': D2 },
      force: false,
    });
    expect(p.tags.map((t) => [t.tag, t.action])).toEqual([
      ['3.5.9-22.04_stable', 'push'],
      ['3.5-22.04_stable', 'unchanged'],
      ['3.5-22.04', 'move'],
    ]);
    expect(p.problems).toEqual([]);
    expect(p.repository).toBe('ghcr.io/canonical/charmed-spark');
    expect(p.commands).toEqual([
      "skopeo copy --preserve-digests --dest-authfile '<authfile>' --digestfile '<digestfile>' oci-archive:dist/charmed-spark_3.5.9_amd64.rock docker://ghcr.io/canonical/charmed-spark:3.5.9-22.04_stable",
      "skopeo copy --preserve-digests --dest-authfile '<authfile>' --digestfile '<digestfile>' oci-archive:dist/charmed-spark_3.5.9_amd64.rock docker://ghcr.io/canonical/charmed-spark:3.5-22.04",
    ]);
    expect(JSON.parse(JSON.stringify(p))).toEqual(p); // serialisable: the --json plan
  });
  it('refuses an immutable tag holding another digest unless forced', () => {
    const existing = { '3.5.9-22.04_edge': D2, '3.5-22.04_edge': D2 };
    const refused = decideRockPlan({ ...base, resolved: fixtureLine(), existing, force: false });
    expect(refused.tags.map((t) => t.action)).toEqual(['refuse', 'move']);
    expect(refused.problems).toEqual([`immutable tag ghcr.io/canonical/charmed-spark:3.5.9-22.04_edge already holds ${D2}, not ${D1}`]);
    expect(formatRockPlan(refused)).toContain('refused: immutable tag');
    const forced = decideRockPlan({ ...base, resolved: fixtureLine(), existing, force: true });
    expect(forced.tags.map((t) => t.action)).toEqual(['overwrite', 'move']);
    expect(forced.problems).toEqual([]);
  });
  it('marks tags it could not read (dry run) as not checked', () => {
    const p = decideRockPlan({ ...base, resolved: fixtureLine(), existing: { '3.5.9-22.04_edge': 'unknown' }, force: false });
    expect(p.tags[0]).toMatchObject({ existing: 'unknown', action: 'push' });
    expect(formatRockPlan(p)).toMatch(/3\.5\.9-22\.04_edge\s+immutable\s+push\s+\(now: not checked\)/);
  });
});

describe('rock apply pre-checks (before any registry call)', () => {
  const base = { registry: 'ghcr.io/canonical', artifact: { file: '/nonexistent.rock', digest: D1 }, credentials: 'anonymous' };
  it('reports every problem at once: immutable refusal, unread tags, missing credentials', async () => {
    const plan = decideRockPlan({ ...base, resolved: fixtureLine(), existing: { '3.5.9-22.04_edge': D2, '3.5-22.04_edge': 'unknown' }, force: false });
    const session = new RegistrySession('ghcr.io', {}, undefined, { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 });
    const e = await applyRockPlan(plan, session).catch((x: unknown) => x);
    expect((e as UserError).code).toBe('E_MANY');
    expect((e as import('../src/lib/errors.ts').AggregateUserError).problems.map((p) => p.code)).toEqual([
      'E_IMMUTABLE_TAG',
      'E_PLAN_INCOMPLETE',
      'E_NO_CREDENTIALS',
    ]);
  });
  it('refuses without credentials even when the plan is clean', async () => {
    const plan = decideRockPlan({ ...base, resolved: fixtureLine(), existing: {}, force: false });
    const session = new RegistrySession('ghcr.io', { REGISTRY_USER: 'u' }, undefined, { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 });
    const e = (await applyRockPlan(plan, session).catch((x: unknown) => x)) as UserError;
    expect(e.oneLine()).toBe('no credentials for ghcr.io (set REGISTRY_USER and REGISTRY_PASSWORD (or GITHUB_TOKEN for ghcr.io))');
  });
});

describe('retries', () => {
  it('backs off exponentially, bounded', () => {
    expect(backoffDelays({ attempts: 5, baseDelayMs: 1000, maxDelayMs: 5000 })).toEqual([1000, 2000, 4000, 5000]);
    expect(backoffDelays({ attempts: 1, baseDelayMs: 1000, maxDelayMs: 5000 })).toEqual([]);
  });
  it('retries only retryable errors, then gives up with the last error', async () => {
    const slept: number[] = [];
    const sleep = async (ms: number) => void slept.push(ms);
    const policy = { attempts: 3, baseDelayMs: 10, maxDelayMs: 100 };
    let n = 0;
    const ok = await withRetry(
      async () => (++n < 3 ? Promise.reject(new Error('net')) : 'done'),
      policy,
      () => true,
      undefined,
      sleep,
    );
    expect(ok).toEqual({ value: 'done', attempts: 3 });
    expect(slept).toEqual([10, 20]);
    const gaveUp = await withRetry(
      async () => Promise.reject(new Error('net')),
      policy,
      () => true,
      undefined,
      sleep,
    ).catch((e: unknown) => e);
    expect(gaveUp).toBeInstanceOf(RetriesExhausted);
    expect((gaveUp as RetriesExhausted).attempts).toBe(3);
    let calls = 0;
    const fatal = await withRetry(
      async () => (calls++, Promise.reject(new Error('401'))),
      policy,
      () => false,
      undefined,
      sleep,
    ).catch((e: unknown) => e);
    expect((fatal as Error).message).toBe('401');
    expect(calls).toBe(1);
  });
});

describe('skopeo failure translation', () => {
  // Messages as skopeo 1.9 prints them (seen against the local registry and GHCR-style answers).
  const fatal = (m: string) => `time="2026-11-24T23:09:24Z" level=fatal msg="${m.replace(/"/g, '\\"')}"`;
  it.each([
    ['Error parsing image name "docker://h/x:1": reading manifest 1 in h/x: unauthorized: authentication required', 'auth', 401],
    [
      'trying to reuse blob sha256:aa at destination: checking whether a blob sha256:aa exists in ghcr.io/c/x: denied: permission_denied: write_package',
      'auth',
      403,
    ],
    ['Error parsing image name "docker://h/x:nope": reading manifest nope in h/x: manifest unknown: manifest unknown', 'notfound', 404],
    ['pinging container registry h: Get "https://h/v2/": x509: certificate signed by unknown authority', 'tls', undefined],
    ['writing blob: uploading layer chunked: received unexpected HTTP status: 502 Bad Gateway', 'server', 502],
    ['writing blob: Patch "https://h/v2/x/blobs/uploads/u": write tcp 127.0.0.1:1->127.0.0.1:2: write: connection reset by peer', 'network', undefined],
    ['writing blob: Put "https://h/v2/x": EOF', 'network', undefined],
  ])('%s', (msg, kind, status) => {
    const c = classifyFailure(fatal(msg));
    expect(c.kind).toBe(kind);
    expect(c.status).toBe(status);
  });
  it('keeps the message, masked, on one line', () => {
    expect(lastErrorLine(`noise\n${fatal('reading manifest "a": boom')}\n`)).toBe('reading manifest "a": boom');
  });
  it('builds commands with an auth file, never credentials', () => {
    const c = copyArchiveCommand('a.rock', 'h/x:1', { authfile: '/tmp/a/auth.json', certDir: '/c', digestFile: '/tmp/d' });
    expect(c).toEqual([
      'skopeo',
      [
        'copy',
        '--preserve-digests',
        '--dest-authfile',
        '/tmp/a/auth.json',
        '--dest-cert-dir',
        '/c',
        '--digestfile',
        '/tmp/d',
        'oci-archive:a.rock',
        'docker://h/x:1',
      ],
    ]);
    expect(inspectRawCommand('h/x:1', {})).toEqual(['skopeo', ['inspect', '--raw', 'docker://h/x:1']]);
  });
});

describe('credentials', () => {
  afterEach(() => clearSecrets());
  it('prefers REGISTRY_USER/REGISTRY_PASSWORD, then GITHUB_TOKEN for ghcr.io only', () => {
    expect(credentialsFromEnv('ghcr.io', { REGISTRY_USER: 'u', REGISTRY_PASSWORD: 'p4ss', GITHUB_TOKEN: 'ghs_x' })).toMatchObject({
      username: 'u',
      source: 'REGISTRY_USER/REGISTRY_PASSWORD',
    });
    expect(credentialsFromEnv('ghcr.io', { GITHUB_TOKEN: 'ghs_abc', GITHUB_ACTOR: 'bot' })).toEqual({
      username: 'bot',
      password: 'ghs_abc',
      source: 'GITHUB_TOKEN',
    });
    expect(credentialsFromEnv('quay.io', { GITHUB_TOKEN: 'ghs_abc' })).toBeNull();
    expect(credentialsFromEnv('ghcr.io', {})).toBeNull();
  });
  it('registers every form of the secret with the masker', () => {
    const c = credentialsFromEnv('ghcr.io', { GITHUB_TOKEN: 'ghs_secretvalue' })!;
    const doc = authFileContent('ghcr.io', c);
    const auth = (JSON.parse(doc) as { auths: Record<string, { auth: string }> }).auths['ghcr.io']!.auth;
    expect(Buffer.from(auth, 'base64').toString()).toBe('x-access-token:ghs_secretvalue');
    expect(mask(`a ghs_secretvalue b ${auth} c`, {})).toBe('a *** b *** c');
  });
});

describe('snap upload plan', () => {
  const meta = { name: 'spark-client', version: '3.5.9', grade: 'stable', confinement: 'strict' };
  it('builds the exact snapcraft upload command for the line channel', () => {
    const p = planSnapUpload({ resolved: fixtureLine(), snapName: 'spark-client', file: 'dist/spark-client_3.5.9_amd64.snap', meta, missing: [] });
    expect(p.argv).toEqual(['snapcraft', 'upload', '--release=3.5/edge', 'dist/spark-client_3.5.9_amd64.snap']);
    expect(p.command).toBe('snapcraft upload --release=3.5/edge dist/spark-client_3.5.9_amd64.snap');
    expect(p.problems).toEqual([]);
    expect(snapRefusal(p)).toBeNull();
    expect(
      planSnapUpload({
        resolved: fixtureLine({ risk: 'candidate', track: '3.4', spark: '3.4.4' }),
        snapName: 'spark-client',
        file: 'f.snap',
        meta: { ...meta, version: '3.4.4' },
        missing: [],
      }).channel,
    ).toBe('3.4/candidate');
  });
  it('finds mismatches between the file and the matrix, and reports all problems together', () => {
    const p = planSnapUpload({
      resolved: fixtureLine({ risk: 'stable' }),
      snapName: 'spark-client',
      file: 'f.snap',
      meta: { name: 'other', version: '3.5.8', grade: 'devel' },
      missing: ['snapcraft is not installed', 'SNAPCRAFT_STORE_CREDENTIALS is not set'],
    });
    expect(p.problems).toHaveLength(3);
    const e = snapRefusal(p)!;
    expect(e.code).toBe('E_MANY');
    expect((e as import('../src/lib/errors.ts').AggregateUserError).problems.map((x) => x.code)).toEqual([
      'E_SNAP_MISMATCH',
      'E_SNAP_MISMATCH',
      'E_SNAP_MISMATCH',
      'E_STORE_UNAVAILABLE',
      'E_STORE_UNAVAILABLE',
    ]);
  });
  it('validates channels and revisions', () => {
    expect(() => uploadCommand('f.snap', '3.5')).toThrow(/invalid release channel/);
    expect(uploadCommand('f.snap', '3.5/edge/hotfix-1')[1]).toEqual(['upload', '--release=3.5/edge/hotfix-1', 'f.snap']);
    expect(() => releaseCommand('spark-client', 0, '3.5/beta')).toThrow(/revision/);
    expect(() => promoteCommand('spark-client', '3.5/edge', '3.5/edge')).toThrow(/itself/);
    expect(parseUploadRevision("Revision 42 created for 'spark-client'")).toBe(42);
    expect(parseUploadRevision('nothing')).toBeNull();
  });
});

describe('promote plan', () => {
  it('releases an exact revision with snapcraft release', () => {
    const p = planPromote({ snapName: 'spark-client', track: '3.5', to: 'beta', revision: 17, missing: [] });
    expect(p.argv).toEqual(['snapcraft', 'release', 'spark-client', '17', '3.5/beta']);
    expect(p.from).toBeNull();
  });
  it('promotes what a lower risk holds with snapcraft promote', () => {
    const p = planPromote({ snapName: 'spark-client', track: '3.4', from: 'candidate', to: 'stable', missing: [] });
    expect(p.argv).toEqual(['snapcraft', 'promote', 'spark-client', '--from-channel', '3.4/candidate', '--to-channel', '3.4/stable', '--yes']);
  });
  it('refuses promotion downwards, sideways, or without a source', () => {
    expect(() => planPromote({ snapName: 'spark-client', track: '3.5', from: 'stable', to: 'edge', missing: [] })).toThrow(/less stable risk/);
    expect(() => planPromote({ snapName: 'spark-client', track: '3.5', from: 'beta', to: 'beta', missing: [] })).toThrow(UserError);
    expect(() => planPromote({ snapName: 'spark-client', track: '3.5', to: 'beta', missing: [] })).toThrow(/--revision N or --from RISK/);
  });
});

describe('a multi-architecture publish (pure)', () => {
  const img = (architecture: string, d: string, file = `/d/${architecture}.rock`) => ({
    file,
    digest: d,
    size: 400,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    architecture,
    os: 'linux',
  });
  const cells = ['amd64', 'arm64'].map((arch) => {
    const r = fixtureLine();
    return { ...r, arch, key: `3.5/spark/${arch}-java17`, platform: { ...r.platform, oci: arch }, paths: { ...r.paths, rock: `dist/x_${arch}.rock` } };
  });

  it("matches each file to its cell by its config's platform, in the matrix's order; the index is canonical and names each platform", () => {
    const { platforms, problems } = matchPlatforms(cells, [img('arm64', D2), img('amd64', D1)]);
    expect(problems).toEqual([]);
    expect(platforms.map((p) => [p.arch, p.name, p.digest])).toEqual([
      ['amd64', 'linux/amd64', D1],
      ['arm64', 'linux/arm64', D2],
    ]);
    const index = imageIndex(platforms);
    expect(JSON.parse(index.json)).toEqual({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D1, size: 400, platform: { architecture: 'amd64', os: 'linux' } },
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D2, size: 400, platform: { architecture: 'arm64', os: 'linux' } },
      ],
    });
    expect(index.digest).toBe(imageIndex([...platforms]).digest);
    expect(index.digest).not.toBe(imageIndex([platforms[0]!]).digest);
    expect(indexPlatforms(index.json)).toEqual([
      { platform: 'linux/amd64', digest: D1 },
      { platform: 'linux/arm64', digest: D2 },
    ]);
    expect(indexPlatforms(JSON.stringify({ schemaVersion: 2, config: {}, layers: [] }))).toBeNull();
  });

  it('reports every problem at once: a missing platform (with its build command), two files for one, one the matrix does not build', () => {
    const { platforms, problems } = matchPlatforms(cells, [img('amd64', D1, '/a'), img('amd64', D2, '/b'), img('s390x', D2, '/c')]);
    expect(platforms).toEqual([]);
    expect(problems).toEqual([
      '/c is an image for s390x, which the matrix does not build (architectures: amd64, arm64)',
      '2 files are images for amd64: /a, /b',
      'no arm64 rock of 3.5/spark/arm64-java17 (dist/x_arm64.rock): build it with npm run build:rock -- --arch arm64',
    ]);
  });

  it('the plan of an index: its digest is what the tags name, each platform is listed, the commands push the layout with --all', () => {
    const { platforms } = matchPlatforms(cells, [img('amd64', D1), img('arm64', D2)]);
    const index = imageIndex(platforms);
    const plan = decideRockPlan({
      resolved: fixtureLine(),
      registry: 'ghcr.io/canonical',
      index: { digest: index.digest, platforms },
      existing: { '3.5.9-22.04_edge': index.digest },
      force: false,
      credentials: 'anonymous',
    });
    expect(plan.artifact).toEqual({ file: 'index of linux/amd64, linux/arm64', digest: index.digest });
    expect(plan.tags.map((t) => t.action)).toEqual(['unchanged', 'push']);
    expect(plan.commands).toEqual([
      `skopeo copy --all --preserve-digests --dest-authfile '<authfile>' --digestfile '<digestfile>' 'oci:<index layout>:index' docker://ghcr.io/canonical/charmed-spark:3.5-22.04_edge`,
    ]);
    expect(formatRockPlan(plan)).toContain(`  linux/arm64 ${D2}  /d/arm64.rock`);
  });

  it('--sbom / --base-sbom: ARCH=FILE for one architecture, a bare FILE for all; twice for one is a usage error', () => {
    expect(perArch(['a.json', 'arm64=b.json'], '--sbom')).toEqual({ all: 'a.json', byArch: { arm64: 'b.json' } });
    expect(perArch(undefined, '--sbom')).toEqual({ byArch: {} });
    // Not an architecture: a file name with "=" in it.
    expect(perArch(['x=y.json'], '--sbom')).toEqual({ all: 'x=y.json', byArch: {} });
    expect(() => perArch(['arm64=a', 'arm64=b'], '--sbom')).toThrow('--sbom names two files for arm64');
    expect(() => perArch(['a', 'b'], '--sbom')).toThrow('--sbom is given twice without an architecture');
  });
});
