/**
 * `npm run publish:rock` / `publish:snap` end to end, as release pipelines call them: the real CLI
 * (src/cli/main.ts, the real matrix.yaml) against the real loopback registry. The expected tags come
 * from `publish resolve` (the matrix), not from this file.
 */
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { execa } from 'execa';
import { projectRoot } from '../src/lib/paths.ts';
import { ensureRegistry, makeTestRock, tmpDir, type LocalRegistry } from './support/registry.ts';
import { credentialsFromEnv, writeAuthFile } from '../src/publish/credentials.ts';
import { remoteDigest, sha256Digest } from '../src/lib/tools/skopeo-registry.ts';

let reg: LocalRegistry;
let dir: string;
let resolved: Record<string, string>;

function cli(args: string[], env: Record<string, string | undefined> = {}) {
  return execa('node', ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: projectRoot,
    reject: false,
    env: { REGISTRY_USER: reg.user, REGISTRY_PASSWORD: reg.password, GITHUB_TOKEN: undefined, SNAPCRAFT_STORE_CREDENTIALS: undefined, ...env },
  });
}

beforeAll(async () => {
  reg = ensureRegistry();
  dir = await tmpDir();
  const r = await cli(['publish', 'resolve', '--json']);
  expect(r.stderr).toBe('');
  resolved = JSON.parse(r.stdout) as Record<string, string>;
});
afterAll(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

describe('publish rock (CLI)', () => {
  it('dry run prints the plan and pushes nothing; --yes publishes every matrix tag as an index of both platforms; --json is the plan and result', async () => {
    const amd = await makeTestRock(dir, { arch: 'amd64' });
    const arm = await makeTestRock(dir, { arch: 'arm64' });
    const registry = `${reg.address}/cli-${path.basename(dir).slice(-6).toLowerCase()}`;
    // Signing is test/sign.test.ts's: here the push alone (unsigned, by --no-sign).
    const common = ['publish', 'rock', '--artifact', arm, '--artifact', amd, '--registry', registry, '--registry-cert-dir', reg.certDir, '--no-sign'];
    const tags = resolved.tags!.split(' ');

    const dry = await cli(common);
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(dry.stdout.split('\n')[0]).toBe(
      `plan: publish rock ${resolved.image} (line ${resolved.track}, flavour ${resolved.flavour}, risk ${resolved.risk}) → ${registry}/${resolved.image}`,
    );
    expect(dry.stdout).toMatch(/^ {2}artifact {4}index of linux\/amd64, linux\/arm64$/m);
    expect(dry.stdout).toMatch(/^ {2}digest {6}sha256:[0-9a-f]{64} \(image index\)$/m);
    expect(dry.stdout).toContain(`  linux/amd64`);
    expect(dry.stdout).toMatch(new RegExp(`^ {2}linux/arm64 sha256:[0-9a-f]{64} {2}${arm.replace(/\./g, '\\.')}$`, 'm'));
    for (const t of tags) expect(dry.stdout).toMatch(new RegExp(`${t.replace(/\./g, '\\.')}\\s+(immutable|moving)\\s+push\\s+\\(now: absent\\)`));
    expect(dry.stdout).toContain('dry run: nothing pushed; add --yes to publish');

    const json = await cli([...common, '--json']);
    const plan = JSON.parse(json.stdout) as {
      dryRun: boolean;
      plan: {
        tags: Array<{ tag: string; existing: unknown }>;
        artifact: { digest: string };
        index: { platforms: Array<{ arch: string; digest: string; file: string }> };
      };
    };
    expect(plan.dryRun).toBe(true);
    expect(plan.plan.tags.map((t) => t.tag).sort()).toEqual([...tags].sort());
    expect(plan.plan.tags.every((t) => t.existing === null)).toBe(true); // the dry run pushed nothing
    // The matrix's order, whatever the order of the files given.
    expect(plan.plan.index.platforms.map((p) => [p.arch, p.file])).toEqual([
      ['amd64', amd],
      ['arm64', arm],
    ]);

    const yes = await cli([...common, '--yes', '--json']);
    expect(yes.exitCode, yes.stderr).toBe(0);
    const doc = JSON.parse(yes.stdout) as { result: { digest: string; pushed: Array<{ tag: string }>; verified: Array<{ ref: string; digest: string }> } };
    expect(doc.result.digest).toBe(plan.plan.artifact.digest);
    expect(doc.result.pushed.map((p) => p.tag).sort()).toEqual([...tags].sort());
    // Every tag and the index by digest, then each platform by its digest.
    expect(doc.result.verified).toHaveLength(tags.length + 1 + 2);
    expect(new Set(doc.result.verified.map((v) => v.digest))).toEqual(new Set([doc.result.digest, ...plan.plan.index.platforms.map((p) => p.digest)]));
    // A client of each platform resolves the same tag to its own image.
    const auth = await writeAuthFile(reg.address, credentialsFromEnv(reg.address, { REGISTRY_USER: reg.user, REGISTRY_PASSWORD: reg.password }));
    try {
      const raw = JSON.parse(
        (
          await execa(
            'skopeo',
            ['inspect', '--raw', '--authfile', auth.path!, '--cert-dir', reg.certDir, `docker://${registry}/${resolved.image}:${tags[0]}`],
            { env: auth.env },
          )
        ).stdout,
      ) as { mediaType: string; manifests: Array<{ digest: string; platform: { architecture: string; os: string } }> };
      expect(raw.mediaType).toBe('application/vnd.oci.image.index.v1+json');
      expect(raw.manifests.map((m) => [m.platform.os, m.platform.architecture, m.digest])).toEqual(
        plan.plan.index.platforms.map((p) => ['linux', p.arch, p.digest]),
      );
      for (const p of plan.plan.index.platforms) {
        const cfg = JSON.parse(
          (
            await execa(
              'skopeo',
              [
                'inspect',
                '--config',
                '--override-arch',
                p.arch,
                '--authfile',
                auth.path!,
                '--cert-dir',
                reg.certDir,
                `docker://${registry}/${resolved.image}:${tags[0]}`,
              ],
              { env: auth.env },
            )
          ).stdout,
        ) as { architecture: string };
        expect(cfg.architecture).toBe(p.arch);
      }
    } finally {
      await auth.dispose();
    }
    for (const out of [dry.stdout, dry.stderr, json.stdout, yes.stdout, yes.stderr]) expect(out).not.toContain(reg.password);
  });

  it("a platform's rock missing, or two for one platform: refused whole, nothing pushed", async () => {
    const amd = await makeTestRock(dir, { arch: 'amd64' });
    const amd2 = await makeTestRock(dir, { arch: 'amd64' });
    const registry = `${reg.address}/cli-half-${path.basename(dir).slice(-6).toLowerCase()}`;
    const base = ['publish', 'rock', '--registry', registry, '--registry-cert-dir', reg.certDir, '--no-sign', '--yes'];
    const half = await cli([...base, '--artifact', amd]);
    expect(half.exitCode).toBe(1);
    expect(half.stderr.trim()).toMatch(
      /^error: the amd64 \+ arm64 publish of charmed-spark \S+ is refused whole: no arm64 rock of \S+ \(dist\/\S+_arm64\.rock\): build it with npm run build:rock -- --arch arm64/,
    );
    const twice = await cli([...base, '--artifact', amd, '--artifact', amd2]);
    expect(twice.exitCode).toBe(1);
    expect(twice.stderr).toContain(`2 files are images for amd64: ${amd}, ${amd2}`);
    const auth = await writeAuthFile(reg.address, credentialsFromEnv(reg.address, { REGISTRY_USER: reg.user, REGISTRY_PASSWORD: reg.password }));
    try {
      for (const f of [amd, amd2]) {
        const digest = sha256Digest((await execa('skopeo', ['inspect', '--raw', `oci-archive:${f}`])).stdout);
        expect(await remoteDigest(`${registry}/${resolved.image}@${digest}`, { authfile: auth.path!, certDir: reg.certDir, env: auth.env })).toBeNull();
      }
    } finally {
      await auth.dispose();
    }
  });

  it('a wrong password: exit 1 and exactly one error line on stderr, without the password', async () => {
    const rock = await makeTestRock(dir, { arch: 'amd64' });
    const arm = await makeTestRock(dir, { arch: 'arm64' });
    const bad = 'not-the-password-1234';
    const r = await cli(
      [
        'publish',
        'rock',
        '--artifact',
        rock,
        '--artifact',
        arm,
        '--registry',
        `${reg.address}/cli-bad`,
        '--registry-cert-dir',
        reg.certDir,
        '--no-sign',
        '--yes',
      ],
      { REGISTRY_PASSWORD: bad },
    );
    expect(r.exitCode).toBe(1);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^error: 127\.0\.0\.1:\d+ rejected the credentials for .* \(401 unauthorized; from REGISTRY_USER\/REGISTRY_PASSWORD\)/);
    expect(r.stderr + r.stdout).not.toContain(bad);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });
});

describe('publish snap (CLI)', () => {
  /** A real (tiny) snap of the matrix's name and version, built for ARCH. */
  async function testSnap(arch: string): Promise<string> {
    const d = await fs.mkdtemp(path.join(dir, 'snap-'));
    await fs.chmod(d, 0o755);
    await fs.mkdir(path.join(d, 'meta'));
    await fs.writeFile(
      path.join(d, 'meta/snap.yaml'),
      `name: ${resolved['snap-name']}\nversion: "${resolved.spark}"\nsummary: t\ndescription: t\nbase: core22\narchitectures: [${arch}]\ngrade: stable\nconfinement: strict\n`,
    );
    const out = await fs.mkdtemp(path.join(dir, 'snapout-'));
    await execa('timeout', ['120', 'snap', 'pack', d, out]);
    return path.join(out, (await fs.readdir(out))[0]!);
  }

  it('without snapcraft and credentials: one upload per architecture; dry run prints the plans (exit 0); --yes stops with the reason (exit 1)', async () => {
    const amd = await testSnap('amd64');
    const arm = await testSnap('arm64');
    const env = { PATH: '/usr/bin:/bin:' + path.dirname(process.execPath) };
    const dry = await cli(['publish', 'snap', '--artifact', arm, '--artifact', amd], env);
    expect(dry.exitCode, dry.stderr).toBe(0);
    // The matrix's order, one upload each, to the same channel.
    const plans = [...dry.stdout.matchAll(/^plan: upload snap \S+ \S+ \((\w+)\) → Snap Store channel (\S+)\n {2}file {5}(\S+)\n {2}command {2}(.*)$/gm)];
    expect(plans.map((m) => [m[1], m[2], m[3], m[4]])).toEqual([
      ['amd64', resolved['snap-channel'], amd, `snapcraft upload --release=${resolved['snap-channel']} ${amd}`],
      ['arm64', resolved['snap-channel'], arm, `snapcraft upload --release=${resolved['snap-channel']} ${arm}`],
    ]);
    expect(dry.stdout).toContain('dry run: nothing uploaded; --yes would stop here');
    const yes = await cli(['publish', 'snap', '--artifact', amd, '--artifact', arm, '--yes'], env);
    expect(yes.exitCode).toBe(1);
    expect(yes.stderr.trim()).toMatch(/^error: cannot upload to the Snap Store: snapcraft is not installed .*SNAPCRAFT_STORE_CREDENTIALS is not set/);
    expect(yes.stderr.trim().split('\n')).toHaveLength(1);
  });

  it("an architecture's snap missing: refused whole, naming it; a snap built for another architecture is not taken for it", async () => {
    const amd = await testSnap('amd64');
    const env = { PATH: '/usr/bin:/bin:' + path.dirname(process.execPath) };
    const half = await cli(['publish', 'snap', '--artifact', amd], env);
    expect(half.exitCode).toBe(1);
    expect(half.stderr.trim()).toMatch(
      /^error: the amd64 \+ arm64 upload of spark-client \S+ is refused whole: no arm64 snap of \S+ \(dist\/spark-client_\S+_arm64\.snap\): build it with npm run build:snap -- --arch arm64/,
    );
    const twice = await cli(['publish', 'snap', '--artifact', amd, '--artifact', await testSnap('amd64')], env);
    expect(twice.exitCode).toBe(1);
    expect(twice.stderr).toMatch(/2 snaps are built for amd64: /);
  });
});
