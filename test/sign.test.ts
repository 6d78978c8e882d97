/**
 * Signing, SBOM and provenance on the registry (issue 16): the pure plan and provenance, then the real
 * thing — cosign (built from its Go module by scripts/setup.d/65-cosign.sh) against the real loopback
 * TLS registry: publish:rock pushes, signs by digest, attaches the SPDX SBOM and a SLSA v1 provenance;
 * `sparkcraft verify` accepts it and rejects a wrong key, a re-tagged foreign digest, a signature copied
 * to another digest and a changed SBOM, each with its reason; a dry run signs nothing; the key and its
 * password never appear in output. Any attempt of cosign to reach a public Sigstore service would go to
 * a closed loopback proxy (and fail the test) instead of leaving the machine.
 */
import { watchCmdlines } from './support/cmdlines.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { execa } from 'execa';
import { projectRoot } from '../src/lib/paths.ts';
import {
  classifyCosignFailure,
  cosignErrorLine,
  ensureCosign,
  signCommand,
  attestCommand,
  verifyAttestationCommand,
  verifyCommand,
} from '../src/lib/tools/cosign.ts';
import { verifierFrom } from '../src/publish/cli.ts';
import { describeTree, spdxDocument } from '../src/stage/sbom.ts';
import { assembleIndexLayout, imageIndex, readPlatformArchive } from '../src/publish/platforms.ts';
import { builderFromEnv, canonicalJson, provenancePredicate, sbomDigest, type ProvenanceInput } from '../src/publish/attestation.ts';
import { decideSigning, signingKeyFrom, type SbomInfo } from '../src/publish/sign.ts';
import { checkProvenance, checkSbom, parseImageRef, summarise, type InTotoStatement } from '../src/publish/verify.ts';
import { credentialsFromEnv, writeAuthFile } from '../src/publish/credentials.ts';
import { remoteDigest } from '../src/lib/tools/skopeo-registry.ts';
import { ensureRegistry, makeTestRock, tmpDir, type LocalRegistry } from './support/registry.ts';

const D = `sha256:${'a'.repeat(64)}`;
const provInput = (over: Partial<ProvenanceInput> = {}): ProvenanceInput => ({
  source: 'https://example.invalid/sparkcraft',
  commit: '0123456789abcdef0123456789abcdef01234567',
  dirty: false,
  line: '3.5',
  flavour: 'spark',
  risk: 'edge',
  spark: '3.5.9',
  image: 'charmed-spark',
  lockFile: 'sparkcraft.lock.json',
  lockSha256: 'b'.repeat(64),
  inputs: [
    { id: 'pypi:pyspark@3.5.9', url: 'https://files.example.invalid/pyspark-3.5.9.tar.gz', sha256: 'c'.repeat(64) },
    { id: 'go:github.com/canonical/pebble@v1.26.0', url: 'https://proxy.example.invalid/pebble.zip', sha256: 'd'.repeat(64) },
  ],
  sbomSha256: 'e'.repeat(64),
  builderId: 'https://sparkcraft.invalid/builders/local',
  startedOn: '2026-11-26T00:00:00Z',
  ...over,
});
const sbomInfo: SbomInfo = { file: '/x/sbom.spdx.json', sha256: 'e'.repeat(64), name: 'n', spdxVersion: 'SPDX-2.3', packages: 2, files: 3 };

describe('signing plan (pure)', () => {
  it('picks the key: --no-sign, --keyless, --sign-key, COSIGN_KEY, else a problem naming every way', () => {
    expect(signingKeyFrom({ noSign: true }, { COSIGN_KEY: 'x' })).toEqual({ key: null, source: 'not signed (--no-sign)' });
    expect(signingKeyFrom({ keyless: true }, {}).key).toEqual({ kind: 'keyless' });
    expect(signingKeyFrom({ signKey: '/k/cosign.key' }, { COSIGN_PASSWORD: 'pw-secret' })).toEqual({
      key: { kind: 'file', path: '/k/cosign.key' },
      source: 'key file /k/cosign.key, password from COSIGN_PASSWORD',
    });
    expect(signingKeyFrom({}, { COSIGN_KEY: '-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----' }).key).toEqual({ kind: 'env', variable: 'COSIGN_KEY' });
    const none = signingKeyFrom({}, {});
    expect(none.key).toBeNull();
    expect(none.problem).toMatch(/no signing key: set COSIGN_KEY .*--sign-key FILE.*--keyless.*--no-sign/);
  });

  it('signs and attests by digest; the commands name the key by path or env://, never its content', () => {
    const pem = '-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAAAABBBBCCCCDDDDEEEEFFFF\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----';
    const p = decideSigning({
      repository: 'ghcr.io/canonical/charmed-spark',
      digest: D,
      choice: signingKeyFrom({}, { COSIGN_KEY: pem, COSIGN_PASSWORD: 'pw-secret' }),
      sbom: sbomInfo,
      provenance: provInput(),
    });
    expect(p.problems).toEqual([]);
    expect(p.subject).toBe(`ghcr.io/canonical/charmed-spark@${D}`);
    expect(p.commands).toEqual([
      `cosign sign --key env://COSIGN_KEY --tlog-upload=false --yes ghcr.io/canonical/charmed-spark@${D}`,
      `cosign attest --key env://COSIGN_KEY --tlog-upload=false --type spdxjson --predicate '<sbom.spdx.json>' --replace --yes ghcr.io/canonical/charmed-spark@${D}`,
      `cosign attest --key env://COSIGN_KEY --tlog-upload=false --type slsaprovenance1 --predicate '<provenance.json>' --replace --yes ghcr.io/canonical/charmed-spark@${D}`,
    ]);
    const json = JSON.stringify(p);
    expect(JSON.parse(json)).toEqual(p);
    expect(json).not.toContain('AAAABBBB');
    expect(json).not.toContain('pw-secret');
    // Keyless: nothing about the transparency log is switched off.
    expect(signCommand('r@' + D, { kind: 'keyless' })).toEqual(['cosign', ['sign', '--yes', 'r@' + D]]);
    expect(attestCommand('r@' + D, { kind: 'file', path: '/k' }, 'spdxjson', '/p')[1]).toContain('--tlog-upload=false');
  });

  it('reports every problem together: no SBOM and no commit', () => {
    const p = decideSigning({
      repository: 'r/x/y',
      digest: D,
      choice: { key: { kind: 'file', path: '/k' }, source: 'key file /k' },
      sbom: { file: '/nope', problem: 'the SBOM /nope is missing (run npm run stage for the line, or pass --sbom FILE)' },
      provenance: { problem: '/tmp is not a git checkout: the provenance needs the commit' },
    });
    expect(p.problems).toEqual([
      'the SBOM /nope is missing (run npm run stage for the line, or pass --sbom FILE)',
      '/tmp is not a git checkout: the provenance needs the commit',
    ]);
  });

  it('the provenance is SLSA v1: the commit, the lock and every input with its sha256, the builder, the SBOM as a byproduct', () => {
    const pr = provenancePredicate(provInput());
    expect(pr.buildDefinition.externalParameters.source).toEqual({
      uri: 'git+https://example.invalid/sparkcraft',
      digest: { gitCommit: '0123456789abcdef0123456789abcdef01234567' },
    });
    expect(pr.buildDefinition.resolvedDependencies).toEqual([
      {
        uri: 'git+https://example.invalid/sparkcraft@0123456789abcdef0123456789abcdef01234567',
        digest: { gitCommit: '0123456789abcdef0123456789abcdef01234567' },
      },
      {
        name: 'sparkcraft.lock.json',
        uri: 'git+https://example.invalid/sparkcraft@0123456789abcdef0123456789abcdef01234567#sparkcraft.lock.json',
        digest: { sha256: 'b'.repeat(64) },
      },
      { name: 'pypi:pyspark@3.5.9', uri: 'https://files.example.invalid/pyspark-3.5.9.tar.gz', digest: { sha256: 'c'.repeat(64) } },
      { name: 'go:github.com/canonical/pebble@v1.26.0', uri: 'https://proxy.example.invalid/pebble.zip', digest: { sha256: 'd'.repeat(64) } },
    ]);
    expect(pr.runDetails.byproducts).toEqual([{ name: 'sbom.spdx.json', mediaType: 'application/spdx+json', digest: { sha256: 'e'.repeat(64) } }]);
    expect(builderFromEnv({})).toEqual({ id: 'https://sparkcraft.invalid/builders/local' });
    expect(
      builderFromEnv({
        GITHUB_ACTIONS: 'true',
        GITHUB_SERVER_URL: 'https://github.com',
        GITHUB_REPOSITORY: 'o/r',
        GITHUB_WORKFLOW_REF: 'o/r/.github/workflows/release.yaml@refs/tags/release/3.5/edge',
        GITHUB_RUN_ID: '42',
        GITHUB_RUN_ATTEMPT: '2',
      }),
    ).toEqual({
      id: 'https://github.com/o/r/.github/workflows/release.yaml@refs/tags/release/3.5/edge',
      invocationId: 'https://github.com/o/r/actions/runs/42/attempts/2',
    });
  });

  it('canonical JSON: the SBOM digest does not depend on key order or spacing', () => {
    expect(canonicalJson({ b: [1, { d: 'x', c: null }], a: 'é<' })).toBe('{"a":"é<","b":[1,{"c":null,"d":"x"}]}');
    expect(sbomDigest(JSON.parse('{"x": 1, "y": [2]}'))).toBe(sbomDigest({ y: [2], x: 1 }));
    expect(sbomDigest({ x: 1 })).not.toBe(sbomDigest({ x: 2 }));
  });
});

describe('verify (pure)', () => {
  it('parses image references', () => {
    expect(parseImageRef('ghcr.io/canonical/charmed-spark:3.5-22.04_edge')).toEqual({ repository: 'ghcr.io/canonical/charmed-spark', tag: '3.5-22.04_edge' });
    expect(parseImageRef(`127.0.0.1:5000/ns/img@${D}`)).toEqual({ repository: '127.0.0.1:5000/ns/img', digest: D });
    expect(parseImageRef(`127.0.0.1:5000/ns/img:t@${D}`)).toEqual({ repository: '127.0.0.1:5000/ns/img', tag: 't', digest: D });
    expect(() => parseImageRef('127.0.0.1:5000/ns/img')).toThrow(/names neither a tag nor a digest/);
    expect(() => parseImageRef('img@sha256:12')).toThrow(/not sha256:<64 hex digits>/);
  });

  it('verifies against a key (no transparency log) or a keyless identity with its issuer; anything else is a usage error', () => {
    const iss = 'https://token.actions.githubusercontent.com';
    const id = 'https://github.com/o/r/.github/workflows/release.yaml@refs/tags/release/3.5/edge';
    expect(verifyCommand(`r/x/y@${D}`, verifierFrom({ key: 'cosign.pub' }))).toEqual([
      'cosign',
      ['verify', '--key', 'cosign.pub', '--insecure-ignore-tlog=true', '--output', 'json', `r/x/y@${D}`],
    ]);
    expect(verifyAttestationCommand(`r/x/y@${D}`, verifierFrom({ certificateIdentity: id, certificateOidcIssuer: iss }), 'spdxjson')).toEqual([
      'cosign',
      ['verify-attestation', '--certificate-identity', id, '--certificate-oidc-issuer', iss, '--type', 'spdxjson', `r/x/y@${D}`],
    ]);
    expect(verifierFrom({ certificateIdentityRegexp: '^https://github.com/o/r/', certificateOidcIssuer: iss })).toEqual({
      kind: 'identity',
      identityRegexp: '^https://github.com/o/r/',
      issuer: iss,
    });
    expect(() => verifierFrom({})).toThrow(/nothing to verify against/);
    expect(() => verifierFrom({ key: 'k', certificateIdentity: id, certificateOidcIssuer: iss })).toThrow(/either --key or a keyless identity/);
    expect(() => verifierFrom({ certificateIdentity: id })).toThrow(/needs --certificate-oidc-issuer/);
    expect(() => verifierFrom({ certificateIdentity: id, certificateIdentityRegexp: 'x', certificateOidcIssuer: iss })).toThrow(
      /one of --certificate-identity and --certificate-identity-regexp/,
    );
  });

  it('the SBOM must be about the digest and be the one the provenance records', () => {
    const sbom = { spdxVersion: 'SPDX-2.3', name: 's', packages: [{}], files: [{}, {}] };
    const st = (predicateType: string, predicate: unknown, digest = D): InTotoStatement => ({
      predicateType,
      subject: [{ name: 'x', digest: { sha256: digest.slice(7) } }],
      predicate,
    });
    const s = checkSbom([st('https://spdx.dev/Document', sbom)], D);
    expect(s.check).toEqual({ name: 'sbom', ok: true, detail: 'SPDX-2.3, 1 packages, 2 files' });
    expect(checkSbom([st('https://spdx.dev/Document', sbom, `sha256:${'f'.repeat(64)}`)], D).check.ok).toBe(false);
    const prov = provenancePredicate(provInput({ sbomSha256: sbomDigest(sbom) }));
    expect(checkProvenance([st('https://slsa.dev/provenance/v1', prov)], D, s.sbom).check).toEqual({
      name: 'provenance',
      ok: true,
      detail: 'SLSA v1, commit 0123456789ab, 3 inputs with sha256, builder https://sparkcraft.invalid/builders/local',
    });
    const other = checkSbom([st('https://spdx.dev/Document', { ...sbom, name: 'changed' })], D).sbom;
    const bad = checkProvenance([st('https://slsa.dev/provenance/v1', prov)], D, other).check;
    expect(bad.ok).toBe(false);
    expect(bad.detail).toMatch(/^the attached SBOM \(sha256:[0-9a-f]{12}…\) is not the one the provenance records/);
    expect(summarise('r@' + D, 'k.pub', [s.check, bad]).line).toMatch(
      /^NOT verified r@sha256:a+ with k\.pub: SBOM ok \(.*\); provenance FAILED \(the attached SBOM/,
    );
  });
});

// ---- the real thing: cosign and the loopback TLS registry ----

let reg: LocalRegistry;
let dir: string;
let keys: { key: string; pub: string; password: string; otherPub: string; otherKey: string };
let sbomFile: string;
/** matrix.yaml with its first architecture alone: the publish of one image (no index), as a one-architecture family has. */
let oneArch: string;
/** Any request to a non-loopback address goes to this closed port instead of leaving the machine. */
const NO_EGRESS = {
  HTTPS_PROXY: 'http://127.0.0.1:9',
  HTTP_PROXY: 'http://127.0.0.1:9',
  NO_PROXY: '',
  https_proxy: 'http://127.0.0.1:9',
  http_proxy: 'http://127.0.0.1:9',
  no_proxy: '',
};

function cli(args: string[], env: Record<string, string | undefined> = {}) {
  return execa('node', ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: projectRoot,
    reject: false,
    env: {
      ...NO_EGRESS,
      REGISTRY_USER: reg.user,
      REGISTRY_PASSWORD: reg.password,
      GITHUB_TOKEN: undefined,
      COSIGN_KEY: undefined,
      COSIGN_PASSWORD: undefined,
      ...env,
    },
  });
}

/** `publish rock` of the 3.5 line: FILES (one per platform) to REGISTRY, then EXTRA. */
const publishArgs = (registry: string, files: string[], ...extra: string[]) => [
  'publish',
  'rock',
  '--line',
  '3.5',
  ...files.flatMap((f) => ['--artifact', f]),
  '--registry',
  registry,
  '--registry-cert-dir',
  reg.certDir,
  ...extra,
];

async function cosign(args: string[], env: Record<string, string> = {}, cwd = dir) {
  const auth = await writeAuthFile(reg.address, credentialsFromEnv(reg.address, { REGISTRY_USER: reg.user, REGISTRY_PASSWORD: reg.password }));
  try {
    return await execa(await ensureCosign(), args, { cwd, reject: false, env: { ...auth.env, ...NO_EGRESS, SSL_CERT_DIR: reg.certDir, ...env } });
  } finally {
    await auth.dispose();
  }
}

async function skopeo(args: string[]) {
  const auth = await writeAuthFile(reg.address, credentialsFromEnv(reg.address, { REGISTRY_USER: reg.user, REGISTRY_PASSWORD: reg.password }));
  try {
    return await execa('skopeo', [...args.slice(0, 1), '--authfile', auth.path!, ...args.slice(1)], { env: auth.env });
  } finally {
    await auth.dispose();
  }
}

async function digestAt(ref: string): Promise<string | null> {
  const auth = await writeAuthFile(reg.address, credentialsFromEnv(reg.address, { REGISTRY_USER: reg.user, REGISTRY_PASSWORD: reg.password }));
  try {
    return await remoteDigest(ref, { authfile: auth.path!, certDir: reg.certDir, env: auth.env });
  } finally {
    await auth.dispose();
  }
}

async function keyPair(sub: string, password: string): Promise<{ key: string; pub: string }> {
  const d = path.join(dir, sub);
  await fs.mkdir(d);
  const r = await cosign(['generate-key-pair'], { COSIGN_PASSWORD: password }, d);
  expect(r.exitCode, r.stderr).toBe(0);
  return { key: path.join(d, 'cosign.key'), pub: path.join(d, 'cosign.pub') };
}

function pemLines(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length >= 16 && !l.startsWith('-----'));
}

function expectNoSecret(texts: string[]): void {
  const secrets = [keys.password, reg.password, ...pemLines(keys.key)];
  for (const t of texts) for (const s of secrets) expect(t.includes(s), `a secret appeared in output`).toBe(false);
}

describe('publish:rock signs, attaches, and sparkcraft verify checks (real cosign, real registry)', () => {
  beforeAll(async () => {
    reg = ensureRegistry();
    dir = await tmpDir('sparkcraft-sign-');
    await ensureCosign();
    const password = `pw-${randomBytes(8).toString('hex')}`;
    const mine = await keyPair('mine', password);
    const other = await keyPair('other', 'other-password');
    keys = { ...mine, password, otherPub: other.pub, otherKey: other.key };
    // A small SPDX SBOM made by the stage step's own functions.
    const tree = path.join(dir, 'tree');
    await fs.mkdir(tree);
    await fs.writeFile(path.join(tree, 'a.txt'), 'a');
    const origin = { name: 'test', version: '1', url: 'https://example.invalid/t', sha256: '0'.repeat(64), license: 'Apache-2.0' };
    const files = await describeTree(tree, () => origin);
    sbomFile = path.join(dir, 'sbom.spdx.json');
    await fs.writeFile(sbomFile, JSON.stringify(spdxDocument('test-sbom', '2026-11-26T00:00:00Z', files, [origin]), null, 1));
    oneArch = path.join(dir, 'matrix-one-arch.yaml');
    const text = readFileSync(path.join(projectRoot, 'matrix.yaml'), 'utf8');
    const archs = /^architectures: \[([a-z0-9]+)(, [a-z0-9]+)*\]$/m;
    expect(text).toMatch(archs);
    await fs.writeFile(oneArch, text.replace(archs, 'architectures: [$1]'));
  }, 1800_000);
  afterAll(async () => {
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('dry run: the plan shows signing, SBOM and provenance of each platform and the index, and nothing is pushed or signed', async () => {
    const rock = await makeTestRock(dir, { arch: 'amd64' });
    const arm = await makeTestRock(dir, { arch: 'arm64' });
    const registry = `${reg.address}/sign-dry`;
    const r = await cli(publishArgs(registry, [rock, arm], '--sbom', sbomFile), {
      COSIGN_KEY: readFileSync(keys.key, 'utf8'),
      COSIGN_PASSWORD: keys.password,
    });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /signing {5}127\.0\.0\.1:\d+\/sign-dry\/charmed-spark@sha256:[0-9a-f]{64}\n {14}key from COSIGN_KEY, password from COSIGN_PASSWORD/,
    );
    expect(r.stdout).toMatch(/sbom {8}.*sbom\.spdx\.json \(SPDX-2\.3, 1 packages, 1 files, sha256:[0-9a-f]{12}…\) → attestation spdxjson/);
    expect(r.stdout).toMatch(
      /provenance {2}SLSA v1: commit [0-9a-f]{12}.*, \d+ inputs with sha256 \(those the SBOM records\), builder https:\/\/sparkcraft\.invalid\/builders\/local → attestation slsaprovenance1/,
    );
    expect(r.stdout).toContain('dry run: nothing pushed, nothing signed; add --yes to publish');
    // Each platform is signed with its SBOM and provenance, then the index (its signature alone).
    const subjects = [...r.stdout.matchAll(/^ {2}signing {5}\S+@(sha256:[0-9a-f]{64})( \(the index: its signature only\))?$/gm)];
    expect(subjects.map((m) => !!m[2])).toEqual([false, false, true]);
    expect(r.stdout.match(/→ attestation spdxjson/g)).toHaveLength(2);
    expect(subjects[2]![1]).toBe(/digest +(sha256:[0-9a-f]{64}) \(image index\)/.exec(r.stdout)![1]);
    for (const [, digest] of subjects) {
      expect(await digestAt(`${registry}/charmed-spark@${digest}`)).toBeNull();
      expect(await digestAt(`${registry}/charmed-spark:${digest!.replace(':', '-')}.sig`)).toBeNull();
    }
    expectNoSecret([r.stdout, r.stderr]);
  });

  it('without a key --yes refuses before pushing, naming every way to give one', async () => {
    const rock = await makeTestRock(dir, { arch: 'amd64' });
    const arm = await makeTestRock(dir, { arch: 'arm64' });
    const registry = `${reg.address}/sign-nokey`;
    const r = await cli(publishArgs(registry, [rock, arm], '--sbom', sbomFile, '--yes'));
    expect(r.exitCode).toBe(1);
    expect(r.stderr.trim()).toMatch(
      /^error: no signing key: set COSIGN_KEY \(and COSIGN_PASSWORD\), pass --sign-key FILE, or --keyless in CI; --no-sign publishes unsigned$/,
    );
    expect(r.stdout).toContain('  signing     none');
    const digest = /digest +(sha256:[0-9a-f]{64})/.exec(r.stdout)![1]!;
    expect(await digestAt(`${registry}/charmed-spark@${digest}`)).toBeNull();
  });

  it('push + sign + attach, verify holds; a wrong key, a re-tagged foreign digest, a copied signature and a changed SBOM fail with their reasons', async () => {
    const rock = await makeTestRock(dir);
    const registry = `${reg.address}/sign-${randomBytes(3).toString('hex')}`;
    const repo = `${registry}/charmed-spark`;
    const t0 = Date.now();
    const watched = await watchCmdlines([keys.password, ...pemLines(keys.key)], /cosign-v[\d.]+ (sign|attest|verify)/, () =>
      cli(publishArgs(registry, [rock], '--matrix', oneArch, '--sbom', sbomFile, '--yes'), {
        COSIGN_KEY: readFileSync(keys.key, 'utf8'),
        COSIGN_PASSWORD: keys.password,
      }),
    );
    const pub = watched.value;
    // cosign ran (sign, attest ×2, verify ×3) and no command line ever held the key or its password.
    expect(watched.seen).toBeGreaterThan(0);
    expect(watched.leaks).toEqual([]);
    console.log(`publish with signing + 2 attestations + read-back verify: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    expect(pub.exitCode, pub.stderr).toBe(0);
    expectNoSecret([pub.stdout, pub.stderr]);
    const digest = /published \S+@(sha256:[0-9a-f]{64})/.exec(pub.stdout)![1]!;
    expect(pub.stdout).toMatch(
      /^verified .*@sha256:[0-9a-f]{64} with .*cosign\.pub: signature ok \(1 signature\); SBOM ok \(SPDX-2\.3, 1 packages, 1 files\); provenance ok \(SLSA v1, commit [0-9a-f]{12}, \d+ inputs with sha256, builder https:\/\/sparkcraft\.invalid\/builders\/local\)$/m,
    );
    const tag = (await cli(['publish', 'resolve', '--line', '3.5', '--json'])).stdout;
    const movingTag = (JSON.parse(tag) as { tags: string }).tags.split(' ').at(-1)!;

    // sparkcraft verify, by tag and by digest: one line, exit 0.
    for (const ref of [`${repo}:${movingTag}`, `${repo}@${digest}`]) {
      const v = await cli(['verify', ref, '--key', keys.pub, '--registry-cert-dir', reg.certDir]);
      expect(v.exitCode, v.stderr).toBe(0);
      expect(v.stdout.trim().split('\n')).toHaveLength(1);
      expect(v.stdout).toMatch(new RegExp(`^verified ${repo.replace(/\./g, '\\.')}@${digest} with ${keys.pub}: signature ok .*; SBOM ok .*; provenance ok `));
    }
    // cosign itself agrees (the formats are cosign's own).
    const cv = await cosign(['verify', '--key', keys.pub, '--insecure-ignore-tlog=true', `${repo}@${digest}`]);
    expect(cv.exitCode, cv.stderr).toBe(0);
    const ca = await cosign(['verify-attestation', '--key', keys.pub, '--insecure-ignore-tlog=true', '--type', 'slsaprovenance1', `${repo}@${digest}`]);
    expect(ca.exitCode, ca.stderr).toBe(0);
    const statement = JSON.parse(Buffer.from((JSON.parse(ca.stdout.trim().split('\n')[0]!) as { payload: string }).payload, 'base64').toString()) as {
      predicateType: string;
      subject: Array<{ digest: { sha256: string } }>;
      predicate: { buildDefinition: { resolvedDependencies: Array<{ name?: string; digest: Record<string, string> }> } };
    };
    expect(statement.predicateType).toBe('https://slsa.dev/provenance/v1');
    expect(statement.subject[0]!.digest.sha256).toBe(digest.slice(7));
    const lock = JSON.parse(readFileSync(path.join(projectRoot, 'sparkcraft.lock.json'), 'utf8')) as { inputs: Record<string, { sha256: string }> };
    for (const d of statement.predicate.buildDefinition.resolvedDependencies.filter((x) => x.name?.includes(':')))
      expect(d.digest.sha256).toBe(lock.inputs[d.name!]!.sha256);

    // A wrong key.
    const wrong = await cli(['verify', `${repo}@${digest}`, '--key', keys.otherPub, '--registry-cert-dir', reg.certDir]);
    expect(wrong.exitCode).toBe(1);
    expect(wrong.stderr.trim()).toMatch(
      /^error: NOT verified .* with .*other\/cosign\.pub: signature FAILED \(the signature does not verify with .*other\/cosign\.pub: signed with another key, or changed/,
    );
    expect(wrong.stderr).toMatch(/SBOM FAILED \(no SBOM attestation verifies with/);

    // A foreign image re-tagged under the moving tag: the tag now names a digest nobody signed.
    const foreign = await makeTestRock(dir);
    await skopeo(['copy', '--dest-cert-dir', reg.certDir, `oci-archive:${foreign}`, `docker://${repo}:${movingTag}`]);
    const fd = (await digestAt(`${repo}:${movingTag}`))!;
    expect(fd).not.toBe(digest);
    const moved = await cli(['verify', `${repo}:${movingTag}`, '--key', keys.pub, '--registry-cert-dir', reg.certDir]);
    expect(moved.exitCode).toBe(1);
    expect(moved.stderr).toContain(`signature FAILED (no signature for ${fd} (the tag ${movingTag} points at it`);

    // Our signature copied onto the foreign digest: it names another image.
    const sigTag = (d: string) => `${repo}:${d.replace(':', '-')}.sig`;
    await skopeo(['copy', '--src-cert-dir', reg.certDir, '--dest-cert-dir', reg.certDir, `docker://${sigTag(digest)}`, `docker://${sigTag(fd)}`]);
    const copied = await cli(['verify', `${repo}:${movingTag}`, '--key', keys.pub, '--registry-cert-dir', reg.certDir]);
    expect(copied.exitCode).toBe(1);
    expect(copied.stderr).toMatch(/signature FAILED \(the signature found for sha256:[0-9a-f]{64} was made for another image/);

    // A changed SBOM, attested with the right key: it is not the SBOM the provenance records.
    const changed = path.join(dir, 'changed.spdx.json');
    const doc = JSON.parse(readFileSync(sbomFile, 'utf8')) as { name: string };
    await fs.writeFile(changed, JSON.stringify({ ...doc, name: 'changed' }));
    const re = await cosign(
      ['attest', '--key', keys.key, '--tlog-upload=false', '--type', 'spdxjson', '--predicate', changed, '--replace', '--yes', `${repo}@${digest}`],
      { COSIGN_PASSWORD: keys.password },
    );
    expect(re.exitCode, re.stderr).toBe(0);
    const ch = await cli(['verify', `${repo}@${digest}`, '--key', keys.pub, '--registry-cert-dir', reg.certDir]);
    expect(ch.exitCode).toBe(1);
    for (const [what, x] of [
      ['wrong key', wrong],
      ['moved tag', moved],
      ['copied signature', copied],
      ['changed SBOM', ch],
    ] as const)
      console.log(`${what}: ${x.stderr.trim()}`);
    expect(ch.stderr).toMatch(
      /signature ok \(1 signature\); SBOM ok .*; provenance FAILED \(the attached SBOM \(sha256:[0-9a-f]{12}…\) is not the one the provenance records/,
    );

    // A changed SBOM attached by someone without our key replaces ours: no SBOM verifies with our key.
    const forged = await cosign(
      ['attest', '--key', keys.otherKey, '--tlog-upload=false', '--type', 'spdxjson', '--predicate', changed, '--replace', '--yes', `${repo}@${digest}`],
      { COSIGN_PASSWORD: 'other-password' },
    );
    expect(forged.exitCode, forged.stderr).toBe(0);
    const fo = await cli(['verify', `${repo}@${digest}`, '--key', keys.pub, '--registry-cert-dir', reg.certDir, '--json']);
    expect(fo.exitCode).toBe(1);
    const res = JSON.parse(fo.stdout) as { ok: boolean; checks: Array<{ name: string; ok: boolean; detail: string }> };
    expect(res.ok).toBe(false);
    expect(res.checks.map((c) => [c.name, c.ok])).toEqual([
      ['signature', true],
      ['sbom', false],
      ['provenance', true],
    ]);
    expect(res.checks[1]!.detail).toMatch(/^no SBOM attestation verifies with /);
  }, 900_000);

  it('an index of both platforms: each platform signed with its own SBOM and provenance, the index signed; verify checks all in one line; an unsigned index of signed images and a forged platform SBOM fail', async () => {
    const amd = await makeTestRock(dir, { arch: 'amd64' });
    const arm = await makeTestRock(dir, { arch: 'arm64' });
    // A different SBOM per platform: each must be attached to its own image.
    const sboms: Record<string, string> = {};
    for (const arch of ['amd64', 'arm64']) {
      sboms[arch] = path.join(dir, `sbom-${arch}.spdx.json`);
      await fs.writeFile(sboms[arch]!, JSON.stringify({ ...(JSON.parse(readFileSync(sbomFile, 'utf8')) as object), name: `sbom-of-${arch}` }));
    }
    const registry = `${reg.address}/sign-idx-${randomBytes(3).toString('hex')}`;
    const repo = `${registry}/charmed-spark`;
    const t0 = Date.now();
    const pub = await cli(publishArgs(registry, [amd, arm], '--sbom', `arm64=${sboms.arm64}`, '--sbom', `amd64=${sboms.amd64}`, '--yes', '--json'), {
      COSIGN_KEY: readFileSync(keys.key, 'utf8'),
      COSIGN_PASSWORD: keys.password,
    });
    expect(pub.exitCode, pub.stderr).toBe(0);
    expectNoSecret([pub.stdout, pub.stderr]);
    console.log(`index of 2 platforms: push + 3 signatures + 4 attestations + read-back verify ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const doc = JSON.parse(pub.stdout) as {
      plan: { index: { platforms: Array<{ arch: string; digest: string }> } };
      result: { digest: string; signing: { verified: { ok: boolean; line: string } }; platformSigning: Array<{ subject: string; attestations: string[] }> };
    };
    const index = doc.result.digest;
    const platforms = doc.plan.index.platforms;
    expect(doc.result.signing.verified.ok).toBe(true);
    expect(doc.result.platformSigning.map((p) => p.subject)).toEqual(platforms.map((p) => `${repo}@${p.digest}`));
    const tag = (JSON.parse((await cli(['publish', 'resolve', '--line', '3.5', '--json'])).stdout) as { tags: string }).tags.split(' ').at(-1)!;

    // One line for the index and both platforms, by tag.
    const v = await cli(['verify', `${repo}:${tag}`, '--key', keys.pub, '--registry-cert-dir', reg.certDir]);
    expect(v.exitCode, v.stderr).toBe(0);
    expect(v.stdout.trim().split('\n')).toHaveLength(1);
    expect(v.stdout.trim()).toMatch(
      new RegExp(
        `^verified ${repo.replace(/\./g, '\\.')}@${index} \\(index of linux/amd64, linux/arm64\\) with \\S+cosign\\.pub: index signature ok \\(1 signature\\); ` +
          ['amd64', 'arm64']
            .map((a) => `linux/${a} signature ok \\(1 signature\\); linux/${a} SBOM ok \\([^)]*\\); linux/${a} provenance ok \\([^)]*\\)`)
            .join('; ') +
          '$',
      ),
    );
    // Each platform carries its own SBOM.
    const vj = JSON.parse((await cli(['verify', `${repo}:${tag}`, '--key', keys.pub, '--registry-cert-dir', reg.certDir, '--json'])).stdout) as {
      platforms: Array<{ platform: string; digest: string; sbom: { name: string } }>;
    };
    expect(vj.platforms.map((p) => [p.platform, p.digest, p.sbom.name])).toEqual(platforms.map((p) => [`linux/${p.arch}`, p.digest, `sbom-of-${p.arch}`]));
    // cosign agrees on each of the three.
    for (const d of [index, ...platforms.map((p) => p.digest)]) {
      const cv = await cosign(['verify', '--key', keys.pub, '--insecure-ignore-tlog=true', `${repo}@${d}`]);
      expect(cv.exitCode, cv.stderr).toBe(0);
    }

    // An index nobody signed, naming a signed platform image, put under the tag: its own signature fails.
    const amdImage = { ...(await readPlatformArchive(amd)), arch: 'amd64', name: 'linux/amd64' };
    const lone = imageIndex([amdImage]);
    const layout = await assembleIndexLayout([amdImage], lone.digest);
    try {
      await skopeo(['copy', '--all', '--preserve-digests', '--dest-cert-dir', reg.certDir, `oci:${layout}:index`, `docker://${repo}:${tag}`]);
    } finally {
      await fs.rm(layout, { recursive: true, force: true });
    }
    const unsigned = await cli(['verify', `${repo}:${tag}`, '--key', keys.pub, '--registry-cert-dir', reg.certDir]);
    expect(unsigned.exitCode).toBe(1);
    expect(unsigned.stderr).toContain(`index signature FAILED (no signature for ${lone.digest}`);
    expect(unsigned.stderr).toMatch(/linux\/amd64 signature ok \(1 signature\); linux\/amd64 SBOM ok/);

    // The arm64 image's SBOM replaced by someone without our key: that platform fails, by name.
    const forged = await cosign(
      [
        'attest',
        '--key',
        keys.otherKey,
        '--tlog-upload=false',
        '--type',
        'spdxjson',
        '--predicate',
        sboms.amd64!,
        '--replace',
        '--yes',
        `${repo}@${platforms[1]!.digest}`,
      ],
      { COSIGN_PASSWORD: 'other-password' },
    );
    expect(forged.exitCode, forged.stderr).toBe(0);
    const f = await cli(['verify', `${repo}@${index}`, '--key', keys.pub, '--registry-cert-dir', reg.certDir]);
    expect(f.exitCode).toBe(1);
    expect(f.stderr).toMatch(/index signature ok \(1 signature\); .*linux\/amd64 SBOM ok .*linux\/arm64 SBOM FAILED \(no SBOM attestation verifies with /);
    for (const [what, x] of [
      ['unsigned index', unsigned],
      ['forged arm64 SBOM', f],
    ] as const)
      console.log(`${what}: ${x.stderr.trim()}`);
  }, 900_000);

  it('the real rock (built by the pack step) with the staged SBOM: published, signed, attached, verified', async () => {
    const { build } = await import('../src/pipeline.ts');
    const packed = await build('rock', { line: '3.5', backend: 'builtin' });
    // A namespace of its own per run: the rock's immutable tag would refuse another commit's digest (its revision label).
    const registry = `${reg.address}/sign-real-${randomBytes(3).toString('hex')}`;
    const t0 = Date.now();
    const pub = await cli(publishArgs(registry, [packed.artifact], '--matrix', oneArch, '--sign-key', keys.key, '--yes', '--json'), {
      COSIGN_PASSWORD: keys.password,
    });
    const secs = (Date.now() - t0) / 1000;
    expect(pub.exitCode, pub.stderr).toBe(0);
    expectNoSecret([pub.stdout, pub.stderr]);
    const doc = JSON.parse(pub.stdout) as {
      plan: { signing: { sbom: { file: string; files: number } } };
      result: { digest: string; signing: { verified: { ok: boolean; line: string; sbom: { files: number } } } };
    };
    expect(doc.result.digest).toBe(packed.digest);
    const { resolveLine, loadMatrix } = await import('../src/config/matrix.ts');
    expect(doc.plan.signing.sbom.file).toBe(path.join(projectRoot, resolveLine(loadMatrix(), { line: '3.5' }).paths.inputs, 'sbom.spdx.json'));
    const staged = JSON.parse(readFileSync(doc.plan.signing.sbom.file, 'utf8')) as { files: unknown[] };
    expect(doc.result.signing.verified.ok).toBe(true);
    expect(doc.result.signing.verified.sbom.files).toBe(staged.files.length);
    const v = await cli(['verify', `${registry}/charmed-spark@${packed.digest}`, '--key', keys.pub, '--registry-cert-dir', reg.certDir]);
    expect(v.exitCode, v.stderr).toBe(0);
    console.log(`real rock (${(packed.size / 2 ** 20).toFixed(1)} MiB): publish + sign + attest + verify ${secs.toFixed(1)} s; ${v.stdout.trim()}`);
  }, 1800_000);

  it('cosign failures are classified from its real messages', async () => {
    const missing = await cosign(['verify', '--key', keys.pub, '--insecure-ignore-tlog=true', `${reg.address}/sign-none/x@${D}`]);
    expect(missing.exitCode).not.toBe(0);
    expect(cosignErrorLine(missing.stderr)).not.toBe('');
    expect(['no-signature', 'other']).toContain(classifyCosignFailure(missing.stderr));
    const badpw = await cosign(['public-key', '--key', keys.key], { COSIGN_PASSWORD: 'wrong' });
    expect(badpw.exitCode).not.toBe(0);
    expect(classifyCosignFailure(badpw.stderr)).toBe('password');
  });
});
