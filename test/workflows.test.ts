/**
 * The GitHub workflows under .github/workflows, validated with actionlint (built from its Go module by
 * scripts/setup.d/50-actionlint.sh; shellcheck checks every `run:` script), plus the release
 * pipeline's contract: what triggers it, which secrets and permissions it uses, which commands it runs.
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

const WF = path.join(projectRoot, '.github/workflows');
const VERSION = /ACTIONLINT_VERSION:-(v[\d.]+)/.exec(readFileSync(path.join(projectRoot, 'scripts/setup.d/50-actionlint.sh'), 'utf8'))![1]!;
const actionlint = path.join(cacheDir(), 'bin', `actionlint-${VERSION}`);

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const load = (f: string): Doc => parse(readFileSync(path.join(WF, f), 'utf8')) as Doc;

beforeAll(() => {
  execFileSync('bash', [path.join(projectRoot, 'scripts/setup.d/50-actionlint.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
});

describe('actionlint', () => {
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

describe('both workflows', () => {
  it('run steps with an explicit bash (-eo pipefail), so `publish ... | tee` cannot hide a failure', () => {
    for (const f of ['ci.yaml', 'release.yaml']) expect(load(f).defaults).toEqual({ run: { shell: 'bash' } });
  });
});

describe('ci.yaml', () => {
  const ci = load('ci.yaml');
  it('runs on pull requests and can be called by the release workflow', () => {
    expect(Object.keys(ci.on)).toEqual(expect.arrayContaining(['pull_request', 'workflow_call']));
    expect(Object.keys(ci.on.workflow_call.inputs)).toEqual(['line', 'flavour', 'risk']);
  });
  it('checks rendered manifests, tests, builds with the craft tools, smoke-tests via smoke.yaml', () => {
    const runs = JSON.stringify(ci.jobs);
    expect(runs).toContain('npm run render -- --check');
    expect(runs).toContain('npm test');
    const uses = Object.values(ci.jobs.build.steps as Doc[])
      .map((s) => s.uses)
      .filter(Boolean);
    expect(uses).toEqual(expect.arrayContaining(['canonical/craft-actions/rockcraft-pack@main', 'snapcore/action-build@v1']));
    expect(ci.jobs.smoke.uses).toBe('./.github/workflows/smoke.yaml');
    expect(ci.permissions).toEqual({ contents: 'read' });
  });
  it("runs spark8t's API suite on the oldest (1.26) and the newest Kubernetes minor, each built through K8S_VERSION", () => {
    const job = ci.jobs['k8s-versions'];
    const versions: string[] = job.strategy.matrix.k8s;
    expect(versions[0]).toMatch(/^v1\.26\.\d+$/);
    expect(versions).toHaveLength(2);
    expect(Number(versions[1]!.split('.')[1])).toBeGreaterThan(26);
    expect(job.env.K8S_VERSION).toBe('${{ matrix.k8s }}');
    const runs = (job.steps as Doc[])
      .map((s) => s.run)
      .filter(Boolean)
      .join('\n');
    expect(runs).toContain('bash scripts/setup.sh');
    expect(runs).toMatch(/vitest run test\/spark8t\/registry\.test\.ts/);
    // …and scenario 2 on a node of that version, stopped whatever the outcome.
    expect(runs).toMatch(/local-k8s\.sh start && npm run smoke -- --cluster --artifact rock --only "\^2\\\. "; rc=\$\?; bash scripts\/local-k8s\.sh stop/);
    // Each version's builds are cached apart.
    expect((job.steps as Doc[]).find((s) => s.uses === 'actions/cache@v4')!.with.key).toContain('${{ matrix.k8s }}');
  });
});

describe('ci.yaml reproducible job', () => {
  const job = load('ci.yaml').jobs.reproducible;
  it('builds spark8t, the rock and the snap in two directories from two empty caches, then compares every digest', () => {
    const steps = job.steps as Doc[];
    const paths = steps.filter((s) => s.uses === 'actions/checkout@v4').map((s) => s.with.path);
    expect(paths).toEqual(['first', 'elsewhere/second']);
    const build = steps.find((s) => /Build twice/.test(s.name ?? ''))!.run as string;
    expect(build).toMatch(/rm -rf "\$cache"/);
    expect(build).toContain('SPARKCRAFT_CACHE="$cache"');
    for (const c of ['build:spark8t', 'build:rock', 'build:snap']) expect(build).toContain(c);
    const compare = steps.find((s) => s.name === 'Compare')!.run as string;
    for (const w of ['"spark8t"', '"rock"', '"rock layers"', '"snap"']) expect(compare).toContain(w);
  });
});

describe('release.yaml', () => {
  const rel = load('release.yaml');
  it('runs on release tags or by hand with a line input', () => {
    expect(rel.on.push.tags).toEqual(['release/*/*']);
    expect(rel.on.workflow_dispatch.inputs.line.required).toBe(true);
    expect(rel.on.workflow_dispatch.inputs.risk.options).toEqual(['edge', 'beta', 'candidate', 'stable']);
  });
  it('builds and smoke-tests first (ci.yaml), then publishes both with the right credentials', () => {
    expect(rel.jobs.ci.uses).toBe('./.github/workflows/ci.yaml');
    const pub = rel.jobs.publish;
    expect(pub.needs).toEqual(['select', 'ci', 'flavours']);
    expect(pub.strategy.matrix.flavour).toBe('${{ fromJSON(needs.select.outputs.flavours) }}');
    expect(pub.permissions).toEqual({ contents: 'read', packages: 'write', 'id-token': 'write' });
    const steps = pub.steps as Doc[];
    const rock = steps.find((s) => /publish:rock/.test(s.run ?? ''))!;
    const snap = steps.find((s) => /publish:snap/.test(s.run ?? ''))!;
    expect(rock.env).toEqual({ GITHUB_TOKEN: '${{ secrets.GITHUB_TOKEN }}' });
    expect(snap.env).toEqual({ SNAPCRAFT_STORE_CREDENTIALS: '${{ secrets.SNAPCRAFT_STORE_CREDENTIALS }}' });
    expect(snap.if).toBe("matrix.flavour == 'spark'"); // one snap per line, published once
    // Secrets reach only the step that needs them, never the whole job.
    expect(JSON.stringify(pub.env)).not.toMatch(/secrets\./);
    expect(rock.run).toMatch(/--line "\$LINE" --flavour "\$FLAVOUR" --risk "\$RISK" \$APPLY --json/);
    // Signed keyless with cosign built from its module, the SBOM from the build job attached, then verified.
    expect(rock.run).toMatch(/--keyless --sbom sbom\/sbom\.spdx\.json/);
    expect(JSON.stringify(steps)).toContain('bash scripts/setup.d/65-cosign.sh');
    // each flavour's own SBOM (the flavours job uploads sbom-<flavour>)
    expect(
      steps.find(
        (s) => s.uses === 'actions/download-artifact@v4' && s.with.name === "${{ matrix.flavour == 'spark' && 'sbom' || format('sbom-{0}', matrix.flavour) }}",
      ),
    ).toBeTruthy();
    const verify = steps.find((s) => /verify-attestation/.test(s.run ?? ''))!;
    expect(verify.run).toMatch(/for type in spdxjson slsaprovenance1/);
    expect(verify.run).toContain('--certificate-oidc-issuer https://token.actions.githubusercontent.com');
    expect(verify.run).toContain('npm run -s verify -- "$subject" "${id[@]}"');
  });
  it('a release builds each layered flavour of the line over the rock and publishes every flavour', async () => {
    const fl = rel.jobs.flavours;
    expect(fl.needs).toEqual(['select', 'ci']);
    expect(fl.strategy.matrix.flavour).toBe('${{ fromJSON(needs.select.outputs.layered) }}');
    const runs = (fl.steps as Doc[]).map((s) => s.run ?? '').join('\n');
    expect(runs).toContain('build:rock -- --line "$LINE" --flavour "$FLAVOUR" --backend builtin --base-archive "${bases[0]}"');
    expect(runs).toContain('test/flavour-$FLAVOUR.test.ts');
    // Over the base rock the publish job publishes (ci's `rock` artifact), downloaded before the build.
    const steps = fl.steps as Doc[];
    const dl = steps.findIndex((s) => s.uses === 'actions/download-artifact@v4' && s.with?.name === 'rock');
    const buildStep = steps.findIndex((s) => /--base-archive/.test(s.run ?? ''));
    expect(dl).toBeGreaterThanOrEqual(0);
    expect(steps[dl]!.with.path).toBe('base');
    expect(dl).toBeLessThan(buildStep);
    expect(rel.jobs.publish.steps.some((s: Doc) => s.uses === 'actions/download-artifact@v4' && String(s.with?.name).includes("'rock'"))).toBe(true);
    // The flavours step reads the line's flavours from the matrix, through the CLI.
    const step = (rel.jobs.select.steps as Doc[]).find((s) => s.id === 'flavours')!;
    const out = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'sparkcraft-gh-')), 'out');
    for (const [flavour, want] of [
      ['all', 'flavours=["spark","gpu","jupyter"]\nlayered=["gpu","jupyter"]\n'],
      ['gpu', 'flavours=["gpu"]\nlayered=["gpu"]\n'],
      ['spark', 'flavours=["spark"]\nlayered=[]\n'],
    ] as const) {
      await fs.writeFile(out, '');
      const r = await execa('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', step.run.replace('npm ci --no-audit --no-fund', 'true')], {
        cwd: projectRoot,
        env: { LINE: '3.5', FLAVOUR: flavour, GITHUB_OUTPUT: out },
      });
      expect(r.exitCode).toBe(0);
      expect(await fs.readFile(out, 'utf8')).toBe(want);
    }
    const bad = await execa('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', step.run.replace('npm ci --no-audit --no-fund', 'true')], {
      cwd: projectRoot,
      env: { LINE: '3.5', FLAVOUR: 'kyuubi', GITHUB_OUTPUT: out },
      reject: false,
    });
    expect(bad.exitCode).toBe(1);
    expect(bad.stdout).toContain("::error::flavour 'kyuubi' is not available for Spark 3.5");
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
