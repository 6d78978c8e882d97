/**
 * The workflows' structure (pure: their YAML parsed, nothing run): what triggers them, which jobs run
 * which commands in which order, their permissions and secrets. A step's commands are its `run:` script
 * as logical lines (continuations joined, comments and blank lines dropped), compared whole, so a
 * command named in a comment or inside another one does not count. actionlint and the step scripts
 * run for real in test/workflows.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { projectRoot } from '../src/lib/paths.ts';

const WF = path.join(projectRoot, '.github/workflows');
type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const load = (f: string): Doc => parse(readFileSync(path.join(WF, f), 'utf8')) as Doc;

/** The action a `uses:` names, without its ref (`actions/cache@<sha>` → `actions/cache`). */
const action = (uses: unknown): string | undefined => (typeof uses === 'string' ? uses.split('@')[0] : undefined);

/** A run script as its logical command lines. */
function commands(run: unknown): string[] {
  if (typeof run !== 'string') return [];
  return run
    .replace(/\s*\\\n\s*/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

describe('commands of a step', () => {
  it('joins continuations and drops comments, so only whole commands match', () => {
    expect(commands('# npm test\nnpm run a \\\n  --b\n\n  npm test  \n')).toEqual(['npm run a --b', 'npm test']);
    expect(commands(undefined)).toEqual([]);
  });
});

describe('both workflows', () => {
  it('run steps with an explicit bash (-eo pipefail), so `publish ... | tee` cannot hide a failure', () => {
    for (const f of ['ci.yaml', 'release.yaml']) expect(load(f).defaults).toEqual({ run: { shell: 'bash' } });
  });
});

describe('every action the workflows use', () => {
  const files = readdirSync(WF).filter((f) => /\.ya?ml$/.test(f));
  /** Every `uses:` of a workflow: a job's (a reusable workflow) and each step's. */
  const usesOf = (d: Doc): string[] =>
    Object.values(d.jobs as Record<string, Doc>).flatMap((j) =>
      [j.uses, ...((j.steps ?? []) as Doc[]).map((s) => s.uses)].filter((u) => typeof u === 'string'),
    );
  /** The `uses:` lines as written (comments are where the release a commit is in is named). */
  const usesLines = (f: string) =>
    readFileSync(path.join(WF, f), 'utf8')
      .split('\n')
      .map((l) => /^\s*(?:-\s+)?uses:\s*(\S+)\s*(?:#\s*(.*))?$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ uses: m[1]!, comment: m[2]?.trim() ?? '' }));
  /** Actions that publish no release tags: pinned to a commit of their default branch, named with its date. */
  const UNTAGGED = new Set(['canonical/craft-actions']);

  it('are each on a line of their own, so the check below sees every one', () => {
    for (const f of files)
      expect(
        usesLines(f).map((u) => u.uses),
        f,
      ).toEqual(usesOf(load(f)));
  });
  it('are pinned to a commit with the release it is in as a comment (`owner/repo[/path]@<40 hex> # vX.Y[.Z]`)', () => {
    const bad: string[] = [];
    for (const f of files)
      for (const u of usesLines(f)) {
        // A workflow of this repository runs at the caller's own commit.
        if (u.uses.startsWith('./')) continue;
        const m = /^([\w.-]+\/[\w.-]+)(\/[\w./-]+)?@([0-9a-f]{40})$/.exec(u.uses);
        const named = m && UNTAGGED.has(m[1]!) ? /^main \d{4}-\d{2}-\d{2}\b/.test(u.comment) : /^v\d+\.\d+(\.\d+)?$/.test(u.comment);
        if (!m || !named) bad.push(`${f}: uses: ${u.uses}${u.comment ? ` # ${u.comment}` : ''}`);
      }
    expect(bad).toEqual([]);
  });
  it('pin one commit per action across all workflows', () => {
    const seen = new Map<string, Set<string>>();
    for (const f of files)
      for (const u of usesLines(f).filter((x) => !x.uses.startsWith('./'))) {
        const repo = u.uses.split('@')[0]!.split('/').slice(0, 2).join('/');
        seen.set(repo, (seen.get(repo) ?? new Set()).add(`${u.uses.split('@')[1]} # ${u.comment}`));
      }
    expect([...seen].filter(([, refs]) => refs.size > 1)).toEqual([]);
    expect(seen.size).toBeGreaterThan(0);
  });
});

describe('ci.yaml', () => {
  const ci = load('ci.yaml');
  it('runs on pull requests and can be called by the release workflow', () => {
    expect(Object.keys(ci.on)).toEqual(expect.arrayContaining(['pull_request', 'workflow_call']));
    expect(Object.keys(ci.on.workflow_call.inputs)).toEqual(['line', 'flavour', 'risk']);
  });
  it('checks rendered manifests, tests, builds with the craft tools, smoke-tests via smoke.yaml', () => {
    // The job that runs the suite: install, the render check, then `npm test` as the step's whole command.
    const test = ci.jobs.test.steps as Doc[];
    const at = (cmd: string) => test.findIndex((s) => commands(s.run).includes(cmd));
    expect(commands(test.find((s) => s.name === 'Tests')!.run)).toEqual(['npm test']);
    expect(at('bash scripts/setup.sh')).toBeGreaterThanOrEqual(0);
    expect(at('bash scripts/setup.sh')).toBeLessThan(at('npm run render -- --check'));
    expect(at('npm run render -- --check')).toBeLessThan(at('npm test'));
    // No other job runs the whole suite; the k8s-versions job runs the two spark8t API files only.
    for (const [name, job] of Object.entries(ci.jobs as Record<string, Doc>)) {
      const all = ((job.steps ?? []) as Doc[]).flatMap((s) => commands(s.run));
      if (name !== 'test') expect(all, name).not.toContain('npm test');
      for (const c of all.filter((x) => /\bvitest run\b/.test(x))) expect(c, name).toMatch(/vitest run( test\/\S+\.test\.ts)+$/);
    }
    const uses = Object.values(ci.jobs.build.steps as Doc[])
      .map((s) => action(s.uses))
      .filter(Boolean);
    expect(uses).toEqual(expect.arrayContaining(['canonical/craft-actions/rockcraft-pack', 'snapcore/action-build']));
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
    const runs = (job.steps as Doc[]).flatMap((s) => commands(s.run));
    expect(runs).toContain('bash scripts/setup.sh 20-k8s');
    expect(runs).toContain('npx vitest run test/spark8t/registry.test.ts test/spark8t/kubeconfig.test.ts');
    // …and scenario 2 on a node of that version, stopped whatever the outcome (the stop runs after the smoke's status is kept).
    const node = runs.find((c) => c.includes('local-k8s.sh start'))!;
    expect(node).toMatch(
      /local-k8s\.sh start && npm run smoke -- --cluster --artifact rock --only "\^2\\\. "; rc=\$\?; bash scripts\/local-k8s\.sh stop; exit \$rc'$/,
    );
    // Each version's builds are cached apart.
    expect((job.steps as Doc[]).find((s) => action(s.uses) === 'actions/cache')!.with.key).toContain('${{ matrix.k8s }}');
  });
});

describe('ci.yaml reproducible job', () => {
  const job = load('ci.yaml').jobs.reproducible;
  it('builds spark8t, the rock and the snap in two directories from two empty caches, then compares every digest', () => {
    const steps = job.steps as Doc[];
    const paths = steps.filter((s) => action(s.uses) === 'actions/checkout').map((s) => s.with.path);
    expect(paths).toEqual(['first', 'elsewhere/second']);
    const build = commands(steps.find((s) => /Build twice/.test(s.name ?? ''))!.run);
    // Each side: an empty cache first, exported for every build, removed after; the three builds in order.
    const rm = build.indexOf('rm -rf "$cache"');
    const exp = build.findIndex((c) => c.startsWith('export SPARKCRAFT_CACHE="$cache" '));
    const order = ['build:spark8t', 'build:rock', 'build:snap'].map((b) => build.findIndex((c) => c.startsWith(`npm run -s ${b}`)));
    expect(rm).toBeGreaterThanOrEqual(0);
    expect(rm).toBeLessThan(exp);
    expect(exp).toBeLessThan(order[0]!);
    expect(order).toEqual([...order].sort((x, y) => x - y));
    expect(order.every((i) => i > exp)).toBe(true);
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
    // Both platforms: the amd64 rock (ci, flavours) and the arm64 one (the arm64 job).
    expect(pub.needs).toEqual(['select', 'ci', 'flavours', 'arm64']);
    expect(pub.strategy.matrix.flavour).toBe('${{ fromJSON(needs.select.outputs.flavours) }}');
    expect(pub.permissions).toEqual({ contents: 'read', packages: 'write', 'id-token': 'write' });
    const steps = pub.steps as Doc[];
    const rock = steps.find((s) => /publish:rock/.test(s.run ?? ''))!;
    const snap = steps.find((s) => /publish:snap/.test(s.run ?? ''))!;
    // Secrets reach only the step that needs them, never the whole job (what the step does is run in workflows.test.ts).
    expect(rock.env.GITHUB_TOKEN).toBe('${{ secrets.GITHUB_TOKEN }}');
    expect(snap.env).toEqual({ SNAPCRAFT_STORE_CREDENTIALS: '${{ secrets.SNAPCRAFT_STORE_CREDENTIALS }}' });
    expect(snap.if).toBe("matrix.flavour == 'spark'"); // one snap per line, published once
    expect(JSON.stringify(pub.env)).not.toMatch(/secrets\./);
    expect(JSON.stringify(steps)).toContain('bash scripts/setup.d/65-cosign.sh');
    // Every platform's rock and SBOM, each flavour's own (the flavours and arm64 jobs upload them).
    const downloads = steps.filter((s) => action(s.uses) === 'actions/download-artifact').map((s) => s.with.name as string);
    expect(downloads).toEqual(
      expect.arrayContaining([
        "${{ matrix.flavour == 'spark' && 'rock' || format('rock-{0}', matrix.flavour) }}",
        "${{ matrix.flavour == 'spark' && 'rock-arm64' || format('rock-arm64-{0}', matrix.flavour) }}",
        "${{ matrix.flavour == 'spark' && 'sbom' || format('sbom-{0}', matrix.flavour) }}",
        "${{ matrix.flavour == 'spark' && 'sbom-arm64' || format('sbom-arm64-{0}', matrix.flavour) }}",
      ]),
    );
    const arm = rel.jobs.arm64;
    expect(arm.needs).toEqual(['select', 'ci']);
    expect(arm['runs-on']).toBe('ubuntu-24.04'); // an amd64 runner: the arm64 root under QEMU
    expect((arm.steps as Doc[]).flatMap((s) => commands(s.run))).toContain(
      'npm run -s build:rock -- --line "$LINE" --flavour "$FLAVOUR" --arch arm64 --backend builtin --json | tee build.json',
    );
    const verify = steps.find((s) => /verify-attestation/.test(s.run ?? ''))!;
    expect(verify.run).toMatch(/for type in spdxjson slsaprovenance1/);
    expect(verify.run).toContain('.plan.platformSigning[].subject');
    expect(verify.run).toContain('--certificate-oidc-issuer https://token.actions.githubusercontent.com');
    expect(verify.run).toContain('npm run -s verify -- "$subject" "${id[@]}"');
  });
  it('a release builds each layered flavour of the line over the rock and publishes every flavour', () => {
    const fl = rel.jobs.flavours;
    expect(fl.needs).toEqual(['select', 'ci']);
    expect(fl.strategy.matrix.flavour).toBe('${{ fromJSON(needs.select.outputs.layered) }}');
    const runs = (fl.steps as Doc[]).flatMap((s) => commands(s.run));
    expect(runs).toContain(
      'sudo -E npm run -s build:rock -- --line "$LINE" --flavour "$FLAVOUR" --backend builtin --base-archive "${bases[0]}" --json | tee build.json',
    );
    expect(runs).toContain('sudo -E env SPARKCRAFT_LINE="$LINE" npx vitest run "test/flavour-$FLAVOUR.test.ts"');
    // Over the base rock the publish job publishes (ci's `rock` artifact), downloaded before the build.
    const steps = fl.steps as Doc[];
    const dl = steps.findIndex((s) => action(s.uses) === 'actions/download-artifact' && s.with?.name === 'rock');
    const buildStep = steps.findIndex((s) => /--base-archive/.test(s.run ?? ''));
    expect(dl).toBeGreaterThanOrEqual(0);
    expect(steps[dl]!.with.path).toBe('base');
    expect(dl).toBeLessThan(buildStep);
    expect(rel.jobs.publish.steps.some((s: Doc) => action(s.uses) === 'actions/download-artifact' && String(s.with?.name).includes("'rock'"))).toBe(true);
  });
});
