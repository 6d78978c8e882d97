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
  it('dry run prints the plan and pushes nothing; --yes publishes every matrix tag; --json is the plan and result', async () => {
    const rock = await makeTestRock(dir);
    const registry = `${reg.address}/cli-${path.basename(dir).slice(-6).toLowerCase()}`;
    // Signing is test/sign.test.ts's: here the push alone (unsigned, by --no-sign).
    const common = ['publish', 'rock', '--artifact', rock, '--registry', registry, '--registry-cert-dir', reg.certDir, '--no-sign'];
    const tags = resolved.tags!.split(' ');

    const dry = await cli(common);
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout.split('\n')[0]).toBe(
      `plan: publish rock ${resolved.image} (line ${resolved.track}, flavour ${resolved.flavour}, risk ${resolved.risk}) → ${registry}/${resolved.image}`,
    );
    for (const t of tags) expect(dry.stdout).toMatch(new RegExp(`${t.replace(/\./g, '\\.')}\\s+(immutable|moving)\\s+push\\s+\\(now: absent\\)`));
    expect(dry.stdout).toContain('dry run: nothing pushed; add --yes to publish');

    const json = await cli([...common, '--json']);
    const plan = JSON.parse(json.stdout) as { dryRun: boolean; plan: { tags: Array<{ tag: string; existing: unknown }> } };
    expect(plan.dryRun).toBe(true);
    expect(plan.plan.tags.map((t) => t.tag).sort()).toEqual([...tags].sort());
    expect(plan.plan.tags.every((t) => t.existing === null)).toBe(true); // the dry run pushed nothing

    const yes = await cli([...common, '--yes', '--json']);
    expect(yes.exitCode).toBe(0);
    const doc = JSON.parse(yes.stdout) as { result: { digest: string; pushed: Array<{ tag: string }>; verified: Array<{ ref: string; digest: string }> } };
    expect(doc.result.pushed.map((p) => p.tag).sort()).toEqual([...tags].sort());
    expect(doc.result.verified).toHaveLength(tags.length + 1);
    expect(new Set(doc.result.verified.map((v) => v.digest))).toEqual(new Set([doc.result.digest]));
    for (const out of [dry.stdout, dry.stderr, json.stdout, yes.stdout, yes.stderr]) expect(out).not.toContain(reg.password);
  });

  it('a wrong password: exit 1 and exactly one error line on stderr, without the password', async () => {
    const rock = await makeTestRock(dir);
    const bad = 'not-the-password-1234';
    const r = await cli(
      ['publish', 'rock', '--artifact', rock, '--registry', `${reg.address}/cli-bad`, '--registry-cert-dir', reg.certDir, '--no-sign', '--yes'],
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
  it('without snapcraft and credentials: dry run prints the plan (exit 0); --yes stops with the reason (exit 1)', async () => {
    const d = await fs.mkdtemp(path.join(dir, 'snap-'));
    await fs.chmod(d, 0o755);
    await fs.mkdir(path.join(d, 'meta'));
    await fs.writeFile(
      path.join(d, 'meta/snap.yaml'),
      `name: ${resolved['snap-name']}\nversion: "${resolved.spark}"\nsummary: t\ndescription: t\nbase: core22\ngrade: stable\nconfinement: strict\n`,
    );
    const out = await fs.mkdtemp(path.join(dir, 'snapout-'));
    await execa('timeout', ['120', 'snap', 'pack', d, out]);
    const file = path.join(out, (await fs.readdir(out))[0]!);
    const env = { PATH: '/usr/bin:/bin:' + path.dirname(process.execPath) };
    const dry = await cli(['publish', 'snap', '--artifact', file], env);
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).toContain(`command  snapcraft upload --release=${resolved['snap-channel']} ${file}`);
    expect(dry.stdout).toContain('dry run: nothing uploaded; --yes would stop here');
    const yes = await cli(['publish', 'snap', '--artifact', file, '--yes'], env);
    expect(yes.exitCode).toBe(1);
    expect(yes.stdout).toContain(`command  snapcraft upload --release=${resolved['snap-channel']} ${file}`);
    expect(yes.stderr.trim()).toMatch(/^error: cannot upload to the Snap Store: snapcraft is not installed .*SNAPCRAFT_STORE_CREDENTIALS is not set/);
  });
});
