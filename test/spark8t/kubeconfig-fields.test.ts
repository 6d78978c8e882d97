/**
 * Crafted kubeconfigs: every field of a wrong type is one UserError naming the file and the field's
 * path (not a TypeError from deep inside), and a --kubeconfig that does not exist is an error even
 * where in-cluster credentials would be found. No cluster needed.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCredentials, prepareKubeconfigParser } from '../../src/spark8t/kube/kubeconfig.ts';
import { ROOT } from '../support/k8s.ts';

let dir: string;
let n = 0;

const TOKEN = 'tok-3f9a1c2b7e';
function good(): Record<string, any> {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443/', 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'u', user: { token: TOKEN } }],
    contexts: [{ name: 'x', context: { cluster: 'c', user: 'u', namespace: 'team' } }],
    'current-context': 'x',
  };
}
function file(doc: unknown): string {
  const f = join(dir, `kc-${n++}.yaml`);
  writeFileSync(f, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return f;
}
/** The error loadCredentials gives for this kubeconfig: its code and message. */
function failure(doc: unknown): { file: string; code?: string; message: string } {
  const f = file(doc);
  try {
    loadCredentials({ kubeconfig: f }, {});
  } catch (e) {
    return { file: f, code: (e as { code?: string }).code, message: (e as Error).message };
  }
  return { file: f, message: 'no error' };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kcf-'));
  await prepareKubeconfigParser();
});

describe('kubeconfig fields are type-checked, with their path', () => {
  it('a well-formed one resolves', () => {
    const c = loadCredentials({ kubeconfig: file(good()) }, {});
    expect(c).toMatchObject({ server: 'https://127.0.0.1:6443', namespace: 'team', token: TOKEN, insecure: true });
  });

  const cases: Array<[string, (d: Record<string, any>) => void, string]> = [
    ['clusters a mapping', (d) => (d.clusters = { a: 1 }), 'clusters must be a list (it is a mapping)'],
    ['server a number', (d) => (d.clusters[0].cluster.server = 12345), 'clusters[0].cluster.server must be a string (it is a number)'],
    ['token a number', (d) => (d.users[0].user.token = 42), 'users[0].user.token must be a string (it is a number)'],
    ['server not a URL', (d) => (d.clusters[0].cluster.server = 'not a url'), 'clusters[0].cluster.server is not an http(s) URL'],
    ['context missing', (d) => (d.contexts = [{ name: 'x' }]), 'contexts[0].context must be a mapping (it is nothing)'],
    [
      'insecure-skip-tls-verify a string',
      (d) => (d.clusters[0].cluster['insecure-skip-tls-verify'] = 'yes'),
      'clusters[0].cluster.insecure-skip-tls-verify must be true or false (it is a string)',
    ],
    ['a cluster entry a string', (d) => (d.clusters = ['c']), 'clusters[0] must be a mapping (it is a string)'],
    ['a name a number', (d) => (d.users[0].name = 7), 'users[0].name must be a string (it is a number)'],
    ['user a list', (d) => (d.users[0].user = ['x']), 'users[0].user must be a mapping (it is a list)'],
    ['exec.args a string', (d) => (d.users[0].user = { exec: { command: 'x', args: 'a b' } }), 'users[0].user.exec.args must be a list (it is a string)'],
    [
      'exec.env value a number',
      (d) => (d.users[0].user = { exec: { command: 'x', env: [{ name: 'A', value: 1 }] } }),
      'users[0].user.exec.env[0].value must be a string (it is a number)',
    ],
    ['exec without command', (d) => (d.users[0].user = { exec: { args: [] } }), 'users[0].user.exec.command must be a string (it is nothing)'],
    ['context.cluster a list', (d) => (d.contexts[0].context.cluster = ['c']), 'contexts[0].context.cluster must be a string (it is a list)'],
    ['current-context a number', (d) => (d['current-context'] = 5), 'current-context must be a string (it is a number)'],
  ];
  for (const [what, mutate, want] of cases) {
    it(`${what}: one line naming the file and the path`, () => {
      const d = good();
      mutate(d);
      const r = failure(d);
      expect(r.message).toBe(`kubeconfig ${r.file}: ${want}`);
      expect(r.code).toBe('E_KUBECONFIG');
    });
  }

  it('the document itself not a mapping, or not YAML', () => {
    expect(failure('- a\n- b\n').message).toMatch(/is not a YAML mapping/);
    expect(failure('a: [\n').message).toMatch(/is not valid YAML/);
  });
});

describe('a --kubeconfig that does not exist', () => {
  it('is an error naming it', () => {
    const missing = join(dir, 'nope.yaml');
    expect(() => loadCredentials({ kubeconfig: missing }, {})).toThrow(`kubeconfig ${missing} (given by --kubeconfig) does not exist`);
  });

  it("is an error in a pod too, where it fell back to the pod's service account before", async () => {
    // A private mount namespace whose /run holds a service-account mount, as a pod's does; the
    // "API server" refuses connections, so a fallback shows as a connection error instead.
    const pod = join(dir, 'pod');
    const script = [
      'set -e',
      'mount -t tmpfs tmpfs /run',
      'd=/run/secrets/kubernetes.io/serviceaccount',
      'mkdir -p $d',
      'echo sa-token-123456 > $d/token',
      'echo podns > $d/namespace',
      `exec node --import tsx ${join(ROOT, 'src/spark8t/entry.ts')} service-account-registry list --kubeconfig ${pod}/missing.yaml`,
    ].join('; ');
    const r = await execa('unshare', ['-m', 'sh', '-c', script], {
      cwd: ROOT,
      env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '1', HOME: join(dir, 'nohome') },
      reject: false,
    });
    expect(r.stderr.trim()).toBe(
      `error: kubeconfig ${pod}/missing.yaml (given by --kubeconfig) does not exist (check the path; without --kubeconfig, $KUBECONFIG or ~/.kube/config is read)`,
    );
    expect(r.exitCode).toBe(1);
  }, 60_000);
});
