/**
 * The GitHub workflows under .github/workflows, validated with actionlint (built from its Go module by
 * scripts/setup.d/50-actionlint.sh; shellcheck checks every `run:` script), and their step scripts
 * run for real (bash, the CLI, skopeo). Their structure (triggers, jobs, permissions, the commands
 * each step runs) is test/workflows-structure.test.ts (unit tier).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { promises as fs, readFileSync, readdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { parse } from 'yaml';
import { cacheDir, projectRoot } from '../src/lib/paths.ts';
import { buildLayer } from '../src/pack/layer.ts';
import { assembleImage, writeOciArchive } from '../src/pack/oci.ts';
import { workspace } from '../src/lib/workspace.ts';
import { flavourAvailable, loadMatrix, resolveLine } from '../src/config/matrix.ts';
import { ensureRegistry, makeTestRock } from './support/registry.ts';

const WF = path.join(projectRoot, '.github/workflows');
const VERSION = /ACTIONLINT_VERSION:-(v[\d.]+)/.exec(readFileSync(path.join(projectRoot, 'scripts/setup.d/50-actionlint.sh'), 'utf8'))![1]!;
const actionlint = path.join(cacheDir(), 'bin', `actionlint-${VERSION}`);

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const load = (f: string): Doc => parse(readFileSync(path.join(WF, f), 'utf8')) as Doc;

describe('actionlint', () => {
  beforeAll(() => {
    execFileSync('bash', [path.join(projectRoot, 'scripts/setup.d/50-actionlint.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
  });
  it('accepts every workflow file', async () => {
    const files = readdirSync(WF)
      .filter((f) => /\.ya?ml$/.test(f))
      .map((f) => path.join(WF, f));
    expect(files.map((f) => path.basename(f))).toEqual(expect.arrayContaining(['ci.yaml', 'release.yaml']));
    const r = await execa(actionlint, ['-color=false', ...files], { cwd: projectRoot, reject: false });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
  });

  it('really checks: a broken workflow (bad expression, unknown runner key, shellcheck finding) is rejected', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sparkcraft-wf-'));
    try {
      await fs.mkdir(path.join(dir, '.github/workflows'), { recursive: true });
      const bad = path.join(dir, '.github/workflows/bad.yaml');
      await fs.writeFile(
        bad,
        'on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    timeout: 5\n    steps:\n      - run: echo ${{ github.nope }}\n      - run: cd $DIR && echo $1\n',
      );
      const r = await execa(actionlint, ['-color=false', bad], { cwd: dir, reject: false });
      expect(r.exitCode).toBe(1);
      expect(r.stdout).toMatch(/unexpected key "timeout"/);
      expect(r.stdout).toMatch(/property "nope" is not defined/);
      expect(r.stdout).toMatch(/shellcheck reported issue/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('release.yaml steps, run', () => {
  const rel = load('release.yaml');
  it("the select job's flavours step reads the line's flavours from the matrix, through the CLI", async () => {
    const rel = load('release.yaml');
    // The flavours step reads the line's flavours from the matrix, through the CLI.
    const step = (rel.jobs.select.steps as Doc[]).find((s) => s.id === 'flavours')!;
    const out = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'sparkcraft-gh-')), 'out');
    // The real matrix's default line: its available flavours, those layered over the rock, one it offers but cannot build.
    const m = loadMatrix();
    const line = resolveLine(m, {}).line;
    const offered = line.flavours.filter((f) => flavourAvailable(m.flavours[f]!));
    const layered = offered.filter((f) => m.flavours[f]!.over);
    const unavailable = line.flavours.find((f) => !flavourAvailable(m.flavours[f]!));
    expect(layered.length, 'the default line offers a layered flavour').toBeGreaterThan(0);
    expect(unavailable, 'the default line offers an unavailable flavour').toBeDefined();
    const list = (xs: string[]) => JSON.stringify(xs);
    for (const [flavour, want] of [
      ['all', `flavours=${list(offered)}\nlayered=${list(layered)}\n`],
      [layered[0]!, `flavours=${list([layered[0]!])}\nlayered=${list([layered[0]!])}\n`],
      ['spark', 'flavours=["spark"]\nlayered=[]\n'],
    ] as const) {
      await fs.writeFile(out, '');
      const r = await execa('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', step.run.replace('npm ci --no-audit --no-fund', 'true')], {
        cwd: projectRoot,
        env: { LINE: line.track, FLAVOUR: flavour, GITHUB_OUTPUT: out },
      });
      expect(r.exitCode).toBe(0);
      expect(await fs.readFile(out, 'utf8')).toBe(want);
    }
    const bad = await execa('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', step.run.replace('npm ci --no-audit --no-fund', 'true')], {
      cwd: projectRoot,
      env: { LINE: line.track, FLAVOUR: unavailable!, GITHUB_OUTPUT: out },
      reject: false,
    });
    expect(bad.exitCode).toBe(1);
    expect(bad.stdout).toContain(`::error::flavour '${unavailable}' is not available for Spark ${line.track}`);
  }, 120_000);
  it("the flavours job's layer check passes a flavour over the base and fails one over another base (real archives, skopeo)", async () => {
    const step = (rel.jobs.flavours.steps as Doc[]).find((s) => /byte for byte/.test(s.name ?? ''))!;
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sparkcraft-gh-layers-'));
    const salt = `${process.pid}-${Date.now()}`;
    const layer = (n: string) =>
      buildLayer(
        workspace().cache,
        `test-wf-${n}-${salt}`,
        n,
        async () => [{ path: `${n}.txt`, type: 'file', mode: 0o644, uid: 0, gid: 0, data: Buffer.from(`${n} ${salt}\n`) }],
        1,
      );
    const [a, b, c, d] = [await layer('a'), await layer('b'), await layer('c'), await layer('d')];
    const cfg = { architecture: 'amd64', created: '1970-01-01T00:00:01Z', user: '0:0', env: [], entrypoint: [], cmd: [], workingDir: '/', labels: {} };
    const write = async (name: string, layers: (typeof a)[]) => {
      const f = path.join(dir, name);
      await writeOciArchive(workspace(), assembleImage(layers, cfg, '1'), f, 1);
      return f;
    };
    const base = await write('base.rock', [a, b]);
    const over = await write('flavour.rock', [a, b, c]);
    const elsewhere = await write('other.rock', [a, d, c]);
    const run = (rock: string) =>
      execa('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', step.run], { env: { BASE: base, ROCK: rock, PATH: process.env.PATH }, reject: false });
    const ok = await run(over);
    expect(ok.exitCode).toBe(0);
    expect(ok.stdout).toContain(`${over} starts with the 2 layers of ${base}`);
    const bad = await run(elsewhere);
    expect(bad.exitCode).toBe(1);
    expect(bad.stdout).toContain(`::error::${elsewhere} does not start with the 2 layers of ${base}`);
    await fs.rm(dir, { recursive: true, force: true });
  }, 120_000);
  it("the publish job's rock step, run as is (a dry run against the loopback registry): an index of both platforms, each with its own SBOM", async () => {
    const step = (rel.jobs.publish.steps as Doc[]).find((s) => /publish:rock/.test(s.run ?? ''))!;
    const reg = ensureRegistry();
    // What the job downloads: each platform's rock into dist/, each platform's SBOM into its folder.
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sparkcraft-gh-publish-'));
    await fs.mkdir(path.join(dir, 'dist'));
    const amd = await makeTestRock(path.join(dir, 'dist'), { arch: 'amd64' });
    const arm = await makeTestRock(path.join(dir, 'dist'), { arch: 'arm64' });
    for (const d of ['sbom', 'sbom-arm64']) {
      await fs.mkdir(path.join(dir, d));
      await fs.writeFile(path.join(dir, d, 'sbom.spdx.json'), JSON.stringify({ spdxVersion: 'SPDX-2.3', name: `from-${d}`, packages: [], files: [] }));
    }
    // `npm run -s publish:rock -- ARGS` is the CLI's `publish rock ARGS`, run where the step runs.
    const npm = `npm() { [ "$1 $2 $3 $4" = "run -s publish:rock --" ] || exit 9; shift 4; node --import ${path.join(projectRoot, 'node_modules/tsx/dist/loader.mjs')} ${path.join(projectRoot, 'src/cli/main.ts')} publish rock "$@"; }`;
    const r = await execa('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', `${npm}\n${step.run}`], {
      cwd: dir,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        LINE: '3.5',
        FLAVOUR: 'spark',
        RISK: 'edge',
        APPLY: '',
        LAYERED: '',
        SPARKCRAFT_REGISTRY: `${reg.address}/gh-dry`,
        SPARKCRAFT_REGISTRY_CERT_DIR: reg.certDir,
        REGISTRY_USER: reg.user,
        REGISTRY_PASSWORD: reg.password,
      },
      reject: false,
    });
    expect(r.exitCode, r.stderr).toBe(0);
    const doc = JSON.parse(await fs.readFile(path.join(dir, 'publish-rock.json'), 'utf8')) as {
      dryRun: boolean;
      plan: {
        index: { platforms: Array<{ arch: string; file: string }> };
        signing: { keySource: string };
        platformSigning: Array<{ sbom: { file: string; name: string } }>;
      };
    };
    expect(doc.dryRun).toBe(true);
    expect(doc.plan.index.platforms.map((p) => [p.arch, p.file])).toEqual([
      ['amd64', amd],
      ['arm64', arm],
    ]);
    expect(doc.plan.platformSigning.map((s) => [s.sbom.file, s.sbom.name])).toEqual([
      [path.join(dir, 'sbom/sbom.spdx.json'), 'from-sbom'],
      [path.join(dir, 'sbom-arm64/sbom.spdx.json'), 'from-sbom-arm64'],
    ]);
    expect(doc.plan.signing.keySource).toMatch(/^keyless/);
    await fs.rm(dir, { recursive: true, force: true });
  }, 120_000);
  it('the select step parses a release tag the way the workflow documents', async () => {
    const step = (rel.jobs.select.steps as Doc[])[0]!;
    const out = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'sparkcraft-gh-')), 'out');
    await fs.writeFile(out, '');
    const ok = await execa('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', step.run], {
      env: { EVENT: 'push', REF_NAME: 'release/3.4/candidate', GITHUB_OUTPUT: out },
    });
    expect(ok.exitCode).toBe(0);
    expect(await fs.readFile(out, 'utf8')).toBe('line=3.4\nflavour=all\nrisk=candidate\n');
    const bad = await execa('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', step.run], {
      env: { EVENT: 'push', REF_NAME: 'release/3.4/nightly', GITHUB_OUTPUT: out },
      reject: false,
    });
    expect(bad.exitCode).toBe(1);
    expect(bad.stdout).toContain("::error::unknown risk 'nightly'");
  });
});
