/**
 * Accounts of one namespace against each other, on the local kube-apiserver, each attack made as
 * the attacking account with its own token (TokenRequest): the admission policy of
 * src/spark8t/registry/isolation.ts and the narrower Role. A failing attack names what got through.
 * Pods that are really created carry a nodeSelector no node has: nothing is scheduled or pulled.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { POLICY_NAME } from '../../src/spark8t/registry/isolation.ts';
import { type ClusterInfo, deleteNamespace, ensureCluster, kubectl, kubectlJson, uniqueName } from '../support/k8s.ts';
import { ours, reference } from './support.ts';

let info: ClusterInfo;
let ns: string;
let dir: string;
let admin: Record<string, string>;
const kubeconfigs = new Map<string, string>();

/** A kubeconfig holding only the account's own token. */
async function tokenKubeconfig(user: string): Promise<string> {
  const token = (await kubectl(info, ['-n', ns, 'create', 'token', user, '--duration', '30m'])).stdout.trim();
  const cfg = parse(readFileSync(info.adminKubeconfig, 'utf8'));
  const f = join(dir, `${user}.kubeconfig`);
  writeFileSync(
    f,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'local', cluster: cfg.clusters[0].cluster }],
      users: [{ name: user, user: { token } }],
      contexts: [{ name: user, context: { cluster: 'local', user, namespace: ns } }],
      'current-context': user,
    }),
    { mode: 0o600 },
  );
  return f;
}

/** kubectl as the account (its token), never throwing. */
function as(user: string, args: string[], input?: string) {
  return kubectl(info, args, { kubeconfig: kubeconfigs.get(user)!, reject: false, ...(input === undefined ? {} : { input }) });
}

interface PodParts {
  sa: string;
  volumes?: unknown[];
  container?: Record<string, unknown>;
  spec?: Record<string, unknown>;
}
function pod(name: string, p: PodParts): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels: { app: name } },
    spec: {
      serviceAccountName: p.sa,
      nodeSelector: { 'sparkcraft.test/nowhere': 'true' },
      containers: [{ name: 'c', image: 'sparkcraft.invalid/none:1', ...p.container }],
      ...(p.volumes ? { volumes: p.volumes } : {}),
      ...p.spec,
    },
  });
}

/** A server-side dry run of a pod create as `user`: admission runs, nothing is stored. */
const tryPod = (user: string, manifest: string) => as(user, ['create', '--dry-run=server', '-f', '-'], manifest);

type Result = Awaited<ReturnType<typeof as>>;
function refused(r: Result, what: string, why: RegExp): void {
  expect(r.exitCode === 0 ? `got through: ${what} (${r.stdout.trim()})` : 'refused', `${what}: ${r.stderr}`).toBe('refused');
  expect(r.stderr, what).toMatch(why);
}
function allowed(r: Result, what: string): void {
  expect(r.exitCode === 0 ? 'allowed' : `refused: ${what}: ${r.stderr.trim()}`).toBe('allowed');
}

const POLICY = new RegExp(`ValidatingAdmissionPolicy '${POLICY_NAME}'`);
const FORBIDDEN = /forbidden/i;

beforeAll(async () => {
  info = await ensureCluster();
  ns = uniqueName('iso');
  dir = mkdtempSync(join(tmpdir(), 'iso-'));
  admin = { KUBECONFIG: info.adminKubeconfig };
  for (const u of ['alice', 'bob']) {
    // No Pod Security label: the policy is what refuses (as in `default` and namespaces made before).
    const r = await ours(
      'service-account-registry',
      ['create', '--username', u, '--namespace', ns, '--pod-security', 'none', '--conf', `spark.owner=${u}`],
      admin,
    );
    expect(r.exitCode, r.stderr).toBe(0);
  }
  // carol: made by spark8t 1.6, whose Role lets her write ServiceAccounts and her own Secret.
  const py = await reference(['create', '--username', 'carol', '--namespace', ns], admin);
  expect(py.exitCode, py.stderr).toBe(0);
  for (const u of ['alice', 'bob', 'carol']) kubeconfigs.set(u, await tokenKubeconfig(u));
  // The policy is compiled and picked up by the API server within a few seconds.
  const probe = pod('probe', { sa: 'bob' });
  for (let i = 0; i < 60; i++) {
    if ((await tryPod('alice', probe)).exitCode !== 0) break;
    await new Promise((r) => setTimeout(r, 500));
  }
}, 240_000);

afterAll(async () => {
  if (ns) await deleteNamespace(info, ns);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('isolation between the spark8t accounts of one namespace (as the account, its own token)', () => {
  it('create installed the admission policy and its binding, versioned; a second create leaves them', async () => {
    const p = await kubectlJson(info, ['get', 'validatingadmissionpolicy', POLICY_NAME]);
    expect(p.metadata.annotations['spark8t.canonical.com/policy-version']).toBe('1');
    const b = await kubectlJson(info, ['get', 'validatingadmissionpolicybinding', POLICY_NAME]);
    expect(b.spec).toMatchObject({ policyName: POLICY_NAME, validationActions: ['Deny'] });
    // The API server compiled every expression (a typo would show here, and fail every request).
    expect(JSON.stringify(p.status?.typeChecking?.expressionWarnings ?? [])).not.toMatch(/compil|undeclared|no such/i);
    const rv = p.metadata.resourceVersion;
    const r = await ours('service-account-registry', ['delete', '--username', 'bob', '--namespace', ns], admin);
    expect(r.exitCode).toBe(0);
    expect((await ours('service-account-registry', ['create', '--username', 'bob', '--namespace', ns], admin)).exitCode).toBe(0);
    kubeconfigs.set('bob', await tokenKubeconfig('bob'));
    // delete never removes the policy; create does not rewrite a current one.
    expect((await kubectlJson(info, ['get', 'validatingadmissionpolicy', POLICY_NAME])).metadata.resourceVersion).toBe(rv);
  });

  it("an account cannot run a pod as another account (the kubelet would mount the other's token)", async () => {
    refused(await tryPod('alice', pod('steal-sa', { sa: 'bob' })), 'alice created a pod running as bob', /run as itself/);
    refused(await tryPod('alice', pod('steal-default', { sa: 'default' })), 'alice created a pod running as default', /run as itself/);
    refused(await tryPod('carol', pod('steal-sa-py', { sa: 'alice' })), 'carol (spark8t 1.6 account) created a pod running as alice', /run as itself/);
    allowed(await tryPod('alice', pod('own', { sa: 'alice' })), 'alice creating a pod as herself');
  });

  it("an account's pod cannot mount or reference another account's config Secret", async () => {
    const other = 'spark8t-sa-conf-bob';
    const cases: Array<[string, PodParts]> = [
      ['a secret volume', { sa: 'alice', volumes: [{ name: 's', secret: { secretName: other } }] }],
      ['a projected secret', { sa: 'alice', volumes: [{ name: 's', projected: { sources: [{ secret: { name: other } }] } }] }],
      ['an env secretKeyRef', { sa: 'alice', container: { env: [{ name: 'K', valueFrom: { secretKeyRef: { name: other, key: 'spark.owner' } } }] } }],
      ['envFrom secretRef', { sa: 'alice', container: { envFrom: [{ secretRef: { name: other } }] } }],
      ['an imagePullSecret', { sa: 'alice', spec: { imagePullSecrets: [{ name: other }] } }],
    ];
    for (const [how, parts] of cases)
      refused(await tryPod('alice', pod('steal-secret', parts)), `alice read bob's Secret through ${how}`, /Secrets it may read/);
    const own = { sa: 'alice', volumes: [{ name: 's', secret: { secretName: 'spark8t-sa-conf-alice' } }] };
    allowed(await tryPod('alice', pod('own-secret', own)), 'alice mounting her own Secret');
  });

  it('an account cannot create a privileged, host-namespace, host-port or hostPath pod', async () => {
    const cases: Array<[string, PodParts, RegExp]> = [
      ['privileged', { sa: 'alice', container: { securityContext: { privileged: true } } }, /privileged/],
      ['hostNetwork', { sa: 'alice', spec: { hostNetwork: true } }, /host namespace/],
      ['hostPID', { sa: 'alice', spec: { hostPID: true } }, /host namespace/],
      ['a host port', { sa: 'alice', container: { ports: [{ containerPort: 80, hostPort: 8080 }] } }, /host port/],
      ['hostPath /', { sa: 'alice', volumes: [{ name: 'h', hostPath: { path: '/' } }] }, /volume types/],
    ];
    for (const [how, parts, why] of cases) refused(await tryPod('alice', pod('host', parts)), `alice created a ${how} pod`, why);
    // What Spark's pods use is allowed: its conf map, emptyDir local dirs, the projected token.
    const spark = {
      sa: 'alice',
      volumes: [
        { name: 'conf', configMap: { name: 'spark-conf' } },
        { name: 'local', emptyDir: {} },
      ],
    };
    allowed(await tryPod('alice', pod('spark-like', spark)), "alice creating a pod with Spark's volumes");
  });

  it("an account cannot change or delete another account's pod; it can its own", async () => {
    const made = await as('bob', ['create', '-f', '-'], pod('bob-driver', { sa: 'bob' }));
    expect(made.exitCode, made.stderr).toBe(0);
    refused(
      await as('alice', ['patch', 'pod', 'bob-driver', '--type', 'json', '-p', '[{"op":"replace","path":"/spec/containers/0/image","value":"evil:1"}]']),
      "alice changed the image of bob's pod",
      /another account's pods/,
    );
    refused(await as('alice', ['label', 'pod', 'bob-driver', 'spark-exec-inactive=true']), "alice labelled bob's pod", /another account's pods/);
    refused(await as('alice', ['delete', 'pod', 'bob-driver', '--wait=false']), "alice deleted bob's pod", /another account's pods/);
    refused(await as('carol', ['delete', 'pod', 'bob-driver', '--wait=false']), "carol (spark8t 1.6) deleted bob's pod", /another account's pods/);
    // What Spark's driver does to its own executors: label them, delete them by label.
    allowed(await as('bob', ['label', 'pod', 'bob-driver', 'spark-exec-inactive=true']), 'bob labelling his own pod');
    allowed(await as('bob', ['delete', 'pods', '-l', 'app=bob-driver', '--wait=false']), 'bob deleting his own pods by label');
  });

  it('an account cannot make itself primary or rewrite its own configuration (ours: RBAC; spark8t 1.6: the policy)', async () => {
    const primary = ['label', 'sa', 'X', 'app.kubernetes.io/spark8t-primary=True'];
    refused(
      await as(
        'alice',
        primary.map((a) => (a === 'X' ? 'alice' : a)),
      ),
      'alice labelled herself primary',
      FORBIDDEN,
    );
    refused(
      await as(
        'carol',
        primary.map((a) => (a === 'X' ? 'carol' : a)),
      ),
      'carol labelled herself primary',
      POLICY,
    );
    const plant = ['patch', 'secret', 'X', '-p', '{"stringData":{"spark.driver.extraJavaOptions":"-javaagent:/tmp/evil.jar"}}'];
    refused(
      await as(
        'alice',
        plant.map((a) => (a === 'X' ? 'spark8t-sa-conf-alice' : a)),
      ),
      'alice planted options in her own config',
      FORBIDDEN,
    );
    refused(
      await as(
        'carol',
        plant.map((a) => (a === 'X' ? 'spark8t-sa-conf-carol' : a)),
      ),
      'carol planted options in her own config',
      POLICY,
    );
    refused(await as('carol', ['create', 'sa', 'mallory']), 'carol created a ServiceAccount', POLICY);
  });

  it('the primary needs its label on the ServiceAccount and the RoleBinding; two primaries are refused by name', async () => {
    const pns = uniqueName('prim');
    const sar = (args: string[]) => ours('service-account-registry', args, admin);
    expect((await sar(['create', '--username', 'p1', '--namespace', pns, '--primary'])).exitCode).toBe(0);
    expect((await sar(['create', '--username', 'p2', '--namespace', pns])).exitCode).toBe(0);
    // A ServiceAccount label alone (what a spark8t 1.6 account could write) does not make a primary.
    await kubectl(info, ['-n', pns, 'label', 'sa', 'p2', 'app.kubernetes.io/spark8t-primary=True']);
    const one = await sar(['get-primary']);
    expect(one.stdout.trim()).toBe(`${pns}:p1`);
    expect(one.stderr).toMatch(new RegExp(`${pns}:p2 has the primary label on its ServiceAccount but not on its RoleBinding`));
    await kubectl(info, ['-n', pns, 'label', 'rolebinding', 'p2-role-binding', 'app.kubernetes.io/spark8t-primary=True']);
    const two = await sar(['get-primary']);
    expect(two.exitCode).toBe(1);
    expect(two.stderr.trim()).toMatch(new RegExp(`more than one primary account: (${pns}:p1, ${pns}:p2|${pns}:p2, ${pns}:p1)`));
    // Leave one primary for the files after this one (the namespace goes away in the background).
    await kubectl(info, ['-n', pns, 'label', 'sa,rolebinding', '-l', 'app.kubernetes.io/spark8t-primary', 'app.kubernetes.io/spark8t-primary-']);
    await deleteNamespace(info, pns);
  });

  it('upgrade brings a spark8t 1.6 account to our Role; the reference still reads and deletes it', async () => {
    const before = await kubectlJson(info, ['-n', ns, 'get', 'role', 'carol-role']);
    expect(JSON.stringify(before.rules)).toMatch(/serviceaccounts/);
    const up = await ours('service-account-registry', ['upgrade', '--username', 'carol', '--namespace', ns], admin);
    expect(up.exitCode, up.stderr).toBe(0);
    const after = await kubectlJson(info, ['-n', ns, 'get', 'role', 'carol-role']);
    const ourRole = await kubectlJson(info, ['-n', ns, 'get', 'role', 'alice-role']);
    expect(JSON.stringify(after.rules).replaceAll('carol', 'USER')).toBe(JSON.stringify(ourRole.rules).replaceAll('alice', 'USER'));
    const cfg = await reference(['get-config', '--username', 'carol', '--namespace', ns], admin);
    expect(cfg.exitCode, cfg.stderr).toBe(0);
    const missing = await ours('service-account-registry', ['upgrade', '--username', 'nobody', '--namespace', ns], admin);
    expect(missing.exitCode).toBe(1);
  });
});
