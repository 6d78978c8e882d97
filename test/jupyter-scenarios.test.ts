/**
 * The pure parts of the jupyter scenarios on the node (they run in test/cluster.test.ts with the
 * other cluster scenarios, and with `npm run smoke -- --cluster --only '^jupyter'`): where they are
 * listed, which lines get them, and how a notebook's output is judged.
 */
import { describe, expect, it } from 'vitest';
import { loadMatrix, resolveLine } from '../src/config/matrix.ts';
import { clusterScenarios } from '../src/smoke/cluster.ts';
import { checkK8sNotebook, flavour as jupyter, K8S_CELLS } from '../src/flavours/jupyter.ts';
import { flavourScenarios } from '../src/smoke/smoke.ts';
import { flavourModules } from '../src/flavours/index.ts';
import type { Road } from '../src/pipeline.ts';

const m = loadMatrix();
const cluster = {
  apiUrl: 'https://127.0.0.1:16443',
  k8sVersion: 'v1.31.14',
  adminKubeconfig: '/a',
  restrictedKubeconfig: '/r',
  restrictedNamespace: 'r',
  stateDir: '/s',
  kubectlPath: '/k',
  node: null,
  s3: null,
};
const ctx = { cluster: cluster as never, imageRef: 'img', examplesJar: '/opt/spark/examples/jars/spark-examples_2.12-3.5.9.jar' };

describe('jupyter scenarios: listed with the cluster scenarios', () => {
  it('"jupyter 1"-"jupyter 3" after the data scenarios and before 7 (which deletes their account), once', () => {
    const names = clusterScenarios({ ...ctx, flavours: [{ image: async () => 'jl', scenarios: jupyter.scenarios! }] }).scenarios.map(([n]) => n);
    const j = names.filter((n) => /^jupyter/.test(n));
    expect(j.map((n) => n.split('.')[0])).toEqual(['jupyter 1', 'jupyter 2', 'jupyter 3']);
    const at = names.indexOf(j[0]!);
    expect(names.slice(at, at + 3)).toEqual(j);
    expect(names[at - 1]).toMatch(/^jdbc 2\. /);
    expect(names.findIndex((n) => n.startsWith('data 5. '))).toBeLessThan(at);
    expect(names.findIndex((n) => n.startsWith('7. '))).toBeGreaterThan(at + 2);
    // What `--only '^jupyter'` selects, and only those.
    expect(names.filter((n) => /^jupyter/.test(n))).toEqual(j);
    expect(clusterScenarios(ctx).scenarios.some(([n]) => n.startsWith('jupyter'))).toBe(false);
  });
  it('a line gets them when it offers the jupyter flavour, not otherwise; the image is built through the road on first use, once', async () => {
    const built: string[] = [];
    const loaded: string[] = [];
    const fakeRoad = {
      select: async () => ({ matrix: m, cell: resolveLine(m) }),
      run: async (cell: { key: string }) => {
        built.push(cell.key);
        return { packed: { artifact: `/dist/${cell.key}.rock` } };
      },
    } as unknown as Road;
    for (const l of m.lines) {
      const fl = await flavourScenarios(m, resolveLine(m, { line: l.track }), fakeRoad, flavourModules, async (p) => loaded.push(p.ref));
      // Of the flavours a line offers, those whose module has scenarios (jupyter's) are listed.
      expect(fl.length).toBe(l.flavours.includes('jupyter') ? 1 : 0);
      if (!fl.length) continue;
      const jr = resolveLine(m, { line: l.track, flavour: 'jupyter' });
      expect(await fl[0]!.image()).toBe(jr.image.ref);
      expect(await fl[0]!.image()).toBe(jr.image.ref);
      expect(built).toEqual([jr.key]);
      expect(loaded).toEqual([jr.image.ref]);
    }
    expect(built.length).toBe(1);
  });
});

describe("jupyter 2: how the notebook's output is judged (pure)", () => {
  const pods = ['pyspark-shell-5f1c2a9b8d-exec-1', 'pyspark-shell-5f1c2a9b8d-exec-2'];
  const good = [
    'MASTER k8s://https://10.96.0.1:443',
    'ACCOUNT 1',
    'SA sparky',
    'EXECUTORS 2',
    'SUM 99990000',
    "HOSTS ['pyspark-shell-5f1c2a9b8d-exec-1', 'pyspark-shell-5f1c2a9b8d-exec-2']",
    'STOPPED',
  ].join('\n');
  const ok = K8S_CELLS.map(() => 'ok');
  it('accepts a run whose tasks ran in the executor pods seen', () => {
    expect(checkK8sNotebook(good, ok, 'sparky', pods)).toEqual([]);
    // Spark names an executor's host after the last 63 characters of a longer pod name.
    const long = `${'x'.repeat(60)}-exec-1`;
    expect(checkK8sNotebook(good.replace(/HOSTS .*/, `HOSTS ['${long.slice(-63)}']`), ok, 'sparky', [long])).toEqual([]);
  });
  it('names each thing that is wrong', () => {
    expect(checkK8sNotebook(good.replace("'pyspark-shell-5f1c2a9b8d-exec-2'", "'jupyter'"), ok, 'sparky', pods)).toEqual([
      'tasks ran in the JupyterLab pod',
      'tasks ran on jupyter, not on the executor pods pyspark-shell-5f1c2a9b8d-exec-1, pyspark-shell-5f1c2a9b8d-exec-2',
    ]);
    expect(checkK8sNotebook(good.replace('MASTER k8s://https://10.96.0.1:443', 'MASTER local[*]').replace('ACCOUNT 1', 'ACCOUNT 2'), ok, 'other', [])).toEqual([
      'the session is not on Kubernetes',
      "the account's configuration (spark.scenario=1) is not in the session",
      "the driver's service account is not other",
      'no executor pod was seen running',
      expect.stringMatching(/^tasks ran on pyspark-shell-/),
    ]);
    expect(checkK8sNotebook('', ['ok', 'error'], 'sparky', pods)).toEqual(
      expect.arrayContaining(['cell statuses ["ok","error"]', 'no task reported its host', 'the session did not stop']),
    );
  });
});
