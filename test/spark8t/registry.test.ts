import { beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ClusterInfo, createNamespace, ensureCluster, kubectl, kubectlJson, uniqueName } from '../support/k8s.ts';
import { ours, reference, type Runtime } from './support.ts';

let info: ClusterInfo;
let env: Record<string, string>;
const sar = (args: string[], e: Record<string, string> = env, runtime: Runtime = 'exe') => ours('service-account-registry', args, e, runtime);

beforeAll(async () => {
  info = await ensureCluster();
  env = { KUBECONFIG: info.adminKubeconfig };
});

describe('service-account-registry against a real kube-apiserver', () => {
  it('creates the four objects with the reference labels, rules and encoded config', async () => {
    const ns = uniqueName('sar');
    const props = join(mkdtempSync(join(tmpdir(), 'p-')), 'p.conf');
    writeFileSync(props, 'spark.from.file=1\nspark.over=file\n');
    const r = await sar(['create', '--username', 'bob', '--namespace', ns, '--properties-file', props, '--conf', 'spark.over=conf', '--conf', 'my key_x=a=b']);
    // Below Kubernetes 1.30 (no ValidatingAdmissionPolicy v1: CI's k8s-versions job runs v1.26.15) spark8t
    // says once that accounts sharing a namespace are not isolated; from 1.30 on it says nothing.
    const minor = Number(String((await kubectlJson(info, ['version'])).serverVersion.minor).replace(/\D/g, ''));
    expect(
      r.stderr
        .split('\n')
        .filter(Boolean)
        .map((l) => l.replace(/^\S+ /, '')),
    ).toEqual(
      minor >= 30 ? [] : [expect.stringMatching(/^WARN spark8t accounts that share a namespace are not isolated from each other: .*Kubernetes 1\.30 or later/)],
    );
    expect(r.exitCode).toBe(0);
    const sa = await kubectlJson(info, ['-n', ns, 'get', 'sa', 'bob']);
    expect(sa.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'spark8t' });
    const role = await kubectlJson(info, ['-n', ns, 'get', 'role', 'bob-role']);
    expect(role.rules).toContainEqual({
      apiGroups: [''],
      resources: ['secrets'],
      resourceNames: ['spark8t-sa-conf-bob', 'integrator-hub-conf-bob', 'spark8t-sa-auth-bob'],
      verbs: ['get'],
    });
    const rb = await kubectlJson(info, ['-n', ns, 'get', 'rolebinding', 'bob-role-binding']);
    expect(rb.subjects).toEqual([{ kind: 'ServiceAccount', name: 'bob', namespace: ns }]);
    const secret = await kubectlJson(info, ['-n', ns, 'get', 'secret', 'spark8t-sa-conf-bob']);
    expect(Object.keys(secret.data).sort()).toEqual(['my_20key_5fx', 'spark.from.file', 'spark.over']);
    expect(Buffer.from(secret.data['my_20key_5fx'], 'base64').toString()).toBe('a=b');
    const g = await sar(['get-config', '--username', 'bob', '--namespace', ns]);
    expect(g.stdout.split('\n')).toEqual([
      'my key_x=a=b',
      'spark.from.file=1',
      'spark.over=conf',
      'spark.kubernetes.authenticate.driver.serviceAccountName=bob',
      `spark.kubernetes.namespace=${ns}`,
    ]);
    const dup = await sar(['create', '--username', 'bob', '--namespace', ns]);
    expect(dup.exitCode).toBe(1);
    expect(dup.stdout.trim()).toBe("Could not create the service account. A serviceaccount with name 'bob' already exists.");
  });

  it('a namespace create makes enforces Pod Security restricted (--pod-security lowers it); one that exists is not changed', async () => {
    const enforce = async (ns: string) => (await kubectlJson(info, ['get', 'namespace', ns])).metadata.labels?.['pod-security.kubernetes.io/enforce'];
    const made = uniqueName('psa');
    expect((await sar(['create', '--username', 'p', '--namespace', made])).exitCode).toBe(0);
    expect(await enforce(made)).toBe('restricted');
    const none = uniqueName('psa');
    expect((await sar(['create', '--username', 'p', '--namespace', none, '--pod-security', 'none'])).exitCode).toBe(0);
    expect(await enforce(none)).toBeUndefined();
    const base = uniqueName('psa');
    expect((await sar(['create', '--username', 'p', '--namespace', base, '--pod-security', 'baseline'])).exitCode).toBe(0);
    expect(await enforce(base)).toBe('baseline');
    const existing = await createNamespace(info, 'psa');
    expect((await sar(['create', '--username', 'p', '--namespace', existing])).exitCode).toBe(0);
    expect(await enforce(existing)).toBeUndefined();
    const bad = await sar(['create', '--username', 'p', '--namespace', uniqueName('psa'), '--pod-security', 'strict']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/--pod-security strict: expected one of restricted, baseline, privileged, none/);
  });

  it('the RPC secret: create makes 64 random hex digits per account, upgrade makes one for an account without, delete removes it', async () => {
    const ns = uniqueName('auth');
    const secretOf = async (u: string) =>
      (await kubectl(info, ['-n', ns, 'get', 'secret', `spark8t-sa-auth-${u}`, '-o', 'jsonpath={.data.secret}'], { reject: false })).stdout;
    for (const u of ['a1', 'a2']) expect((await sar(['create', '--username', u, '--namespace', ns])).exitCode).toBe(0);
    const [s1, s2] = [await secretOf('a1'), await secretOf('a2')];
    expect(Buffer.from(s1, 'base64').toString()).toMatch(/^[0-9a-f]{64}$/);
    expect(s1).not.toBe(s2);
    // An account without one (made before it, or by spark8t 1.6): upgrade makes it.
    await kubectl(info, ['-n', ns, 'delete', 'secret', 'spark8t-sa-auth-a2']);
    expect((await sar(['upgrade', '--username', 'a2', '--namespace', ns])).exitCode).toBe(0);
    expect(Buffer.from(await secretOf('a2'), 'base64').toString()).toMatch(/^[0-9a-f]{64}$/);
    expect((await sar(['delete', '--username', 'a1', '--namespace', ns])).exitCode).toBe(0);
    expect(await secretOf('a1')).toBe('');
  });

  it('add-config, remove-config, clear-config, get-config --json, delete', async () => {
    const ns = uniqueName('cfg');
    expect((await sar(['create', '--username', 'c', '--namespace', ns, '--conf', 'a=1'])).exitCode).toBe(0);
    expect((await sar(['add-config', '--username', 'c', '--namespace', ns, '--conf', 'b=2', '--conf', 'a=3'])).exitCode).toBe(0);
    let j = JSON.parse((await sar(['get-config', '--username', 'c', '--namespace', ns, '--json'])).stdout);
    expect(j).toMatchObject({ a: '3', b: '2' });
    await sar(['remove-config', '--username', 'c', '--namespace', ns, '--conf', 'a=999', '--conf', 'b']);
    j = JSON.parse((await sar(['get-config', '--username', 'c', '--namespace', ns, '--json'])).stdout);
    expect(j.a).toBe('3');
    expect(j.b).toBeUndefined();
    await sar(['clear-config', '--username', 'c', '--namespace', ns]);
    j = JSON.parse((await sar(['get-config', '--username', 'c', '--namespace', ns, '--json'])).stdout);
    expect(Object.keys(j)).toEqual(['spark.kubernetes.authenticate.driver.serviceAccountName', 'spark.kubernetes.namespace']);
    expect((await sar(['delete', '--username', 'c', '--namespace', ns])).exitCode).toBe(0);
    const left = await kubectl(info, ['-n', ns, 'get', 'sa,role,rolebinding,secret', '-l', 'app.kubernetes.io/generated-by=spark8t', '-o', 'name']);
    expect(left.stdout.trim()).toBe('');
    const again = await sar(['delete', '--username', 'c', '--namespace', ns]);
    expect(again.exitCode).toBe(1);
    expect(again.stdout.trim()).toBe('Account c could not be found.');
    const missing = await sar(['get-config', '--username', 'nobody', '--namespace', ns]);
    expect(missing.stdout.trim()).toBe(`Account ${ns}:nobody could not be found.`);
  });

  it('moves the primary label and lists across namespaces (text and --json)', async () => {
    const [n1, n2] = [uniqueName('p1'), uniqueName('p2')];
    await sar(['create', '--username', 'one', '--namespace', n1, '--primary']);
    expect((await sar(['get-primary'])).stdout.trim()).toBe(`${n1}:one`);
    await sar(['create', '--username', 'two', '--namespace', n2, '--primary']);
    expect((await sar(['get-primary'])).stdout.trim()).toBe(`${n2}:two`);
    const rb = await kubectlJson(info, ['-n', n1, 'get', 'rolebinding', 'one-role-binding']);
    expect(rb.metadata.labels['app.kubernetes.io/spark8t-primary']).toBeUndefined();
    const rb2 = await kubectlJson(info, ['-n', n2, 'get', 'rolebinding', 'two-role-binding']);
    expect(rb2.metadata.labels['app.kubernetes.io/spark8t-primary']).toBe('True');
    const list = (await sar(['list'])).stdout.split('\n');
    expect(list).toContain(`${n1}:one`);
    expect(list).toContain(`${n2}:two (Primary)`);
    const js = JSON.parse((await sar(['list', '--json'])).stdout);
    expect(js).toContainEqual({ name: 'two', namespace: n2, primary: true, id: `${n2}:two` });
    expect(JSON.parse((await sar(['get-primary', '--json'])).stdout)).toEqual({ name: 'two', namespace: n2, id: `${n2}:two` });
  });

  it('overrides a managed-by label stamped by someone else (Juju) so list still sees the account', async () => {
    const ns = await createNamespace(info, 'juju');
    await sar(['create', '--username', 'j', '--namespace', ns]);
    await kubectl(info, ['-n', ns, 'label', 'sa', 'j', 'app.kubernetes.io/managed-by=juju', '--overwrite']);
    expect((await sar(['list'])).stdout).not.toContain(`${ns}:j`);
    await sar(['delete', '--username', 'j', '--namespace', ns]);
    await sar(['create', '--username', 'j', '--namespace', ns]);
    expect((await sar(['list'])).stdout).toContain(`${ns}:j`);
  });

  it('get-manifest prints the four manifests and creates nothing', async () => {
    const ns = uniqueName('man');
    const r = await sar(['get-manifest', '--username', 'm', '--namespace', ns]);
    expect(r.exitCode).toBe(0);
    const docs = r.stdout.split('---\n');
    expect(docs).toHaveLength(4);
    expect(docs.map((d) => /kind: (\w+)/.exec(d)![1])).toEqual(['ServiceAccount', 'Role', 'RoleBinding', 'Secret']);
    expect(docs[1]).toMatch(/- persistentvolumeclaims\n/);
    const ns404 = await kubectl(info, ['get', 'ns', ns], { reject: false });
    expect(ns404.exitCode).not.toBe(0);
  });

  it("the account may do what Spark's driver does, persistent volume claims included, and no more than that", async () => {
    const ns = uniqueName('rbac');
    expect((await sar(['create', '--username', 'sp', '--namespace', ns])).exitCode).toBe(0);
    const can = async (verb: string, resource: string) =>
      (await kubectl(info, ['auth', 'can-i', '--as', `system:serviceaccount:${ns}:sp`, '-n', ns, verb, resource], { reject: false })).stdout.trim();
    // Spark's driver: executor pods (create, list, watch, patch labels, delete), its config map and
    // service (deletecollection at stop), and PVCs (ExecutorPodsAllocator reuses and creates them;
    // KubernetesClusterSchedulerBackend.stop deletes them by label: deletecollection).
    const wanted: Array<[string, string]> = [];
    for (const verb of ['get', 'list', 'watch', 'create', 'delete', 'deletecollection', 'patch']) {
      for (const r of ['pods', 'configmaps', 'services', 'persistentvolumeclaims']) wanted.push([verb, r]);
    }
    const got = await Promise.all(wanted.map(async ([v, r]) => `${v} ${r}: ${await can(v, r)}`));
    expect(got).toEqual(wanted.map(([v, r]) => `${v} ${r}: yes`));
    // Its own config secret, read-only access to the hub's, nothing else.
    expect(await can('get', 'secret/spark8t-sa-conf-sp')).toBe('yes');
    expect(await can('get', 'secret/integrator-hub-conf-sp')).toBe('yes');
    expect(await can('get', 'secret/other')).toBe('no');
    expect(await can('list', 'secrets')).toBe('no');
    expect(await can('create', 'persistentvolumes')).toBe('no');
    expect(await can('create', 'roles')).toBe('no');
    // Read-only where spark8t 1.6 grants writes: the account finds itself and the primary, and
    // can neither label itself primary nor rewrite its own configuration.
    for (const r of ['serviceaccounts', 'rolebindings']) expect(`${r}: ${await can('get', r)} ${await can('patch', r)}`).toBe(`${r}: yes no`);
    expect(await can('patch', 'secret/spark8t-sa-conf-sp')).toBe('no');
    expect(await can('update', 'pods')).toBe('no');
    expect(
      (await kubectl(info, ['auth', 'can-i', '--as', `system:serviceaccount:${ns}:sp`, '-n', 'default', 'get', 'pods'], { reject: false })).stdout.trim(),
    ).toBe('no');
  });

  it('rejects invalid names before any request', async () => {
    const r = await sar(['create', '--username', 'Bad_Name', '--namespace', 'x', '--master', 'https://127.0.0.1:1']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim()).toMatch(/^error: invalid username "Bad_Name" must consist of lower case/);
  });
});

describe('the restricted user', () => {
  it('create is all-or-nothing: a forbidden Role rolls back the ServiceAccount and names the failure', async () => {
    const renv = { KUBECONFIG: info.restrictedKubeconfig };
    const ns = info.restrictedNamespace;
    const r = await sar(['create', '--username', 'rb', '--namespace', ns], renv);
    expect(r.exitCode).toBe(1);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.stderr).toMatch(/creating Role for account restricted-ns:rb failed, nothing was kept \(removed ServiceAccount rb\): Kubernetes API forbidden/);
    expect(r.stderr).not.toMatch(/\bat \w+ \(/);
    const sa = await kubectl(info, ['-n', ns, 'get', 'sa', 'rb'], { reject: false });
    expect(sa.exitCode).not.toBe(0);
  });

  it('a forbidden namespace gives the reference message', async () => {
    const r = await sar(['create', '--username', 'x', '--namespace', uniqueName('nope')], { KUBECONFIG: info.restrictedKubeconfig });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/^error: Namespace nope-\w+ can not be created\./);
  });

  it('list falls back to its own namespace when listing across namespaces is forbidden', async () => {
    const ns = info.restrictedNamespace;
    // An account made by the admin in the restricted namespace.
    await sar(['create', '--username', 'seen', '--namespace', ns]);
    const r = await sar(['list'], { KUBECONFIG: info.restrictedKubeconfig });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.split('\n')).toContain(`${ns}:seen`);
    expect(r.stdout).not.toMatch(/^(?!restricted-ns:)\S+:/m);
    await sar(['delete', '--username', 'seen', '--namespace', ns]);
  });
});

// Both transports: Bun's fetch (the executable) and node:https (Node, and the SEA fallback).
describe.each(['exe', 'node'] as const)('API failures are one line, never a stack trace (%s)', (runtime) => {
  const oneLine = (s: string) => s.trim().split('\n').length === 1 && !/\n\s+at /.test(s);
  it('connection refused', async () => {
    const r = await sar(['list', '--master', 'https://127.0.0.1:1'], { KUBECONFIG: info.adminKubeconfig }, runtime);
    // --master selects a cluster by URL; no cluster has that server:
    expect(r.exitCode).toBe(1);
    expect(oneLine(r.stderr)).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'kc-'));
    const kc = join(dir, 'kc');
    writeFileSync(
      kc,
      `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: sekret-token-123}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n`,
    );
    const r2 = await sar(['list', '--kubeconfig', kc], {}, runtime);
    expect(r2.exitCode).toBe(1);
    expect(r2.stderr.trim()).toMatch(/^error: cannot connect to the Kubernetes API at https:\/\/127\.0\.0\.1:1: connection refused/);
  });
  it('TLS error, 401 with a bad token, DEBUG without the token', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kc-'));
    const bad = join(dir, 'bad');
    writeFileSync(
      bad,
      `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "${info.apiUrl}"}}]\nusers: [{name: u, user: {token: sekret-token-123}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n`,
    );
    const tls = await sar(['list', '--kubeconfig', bad], {}, runtime);
    expect(tls.exitCode).toBe(1);
    expect(tls.stderr.trim()).toMatch(/^error: TLS handshake with the Kubernetes API at https:\/\/127\.0\.0\.1:\d+ failed: .*certificate/);
    const insecure = join(dir, 'insecure');
    writeFileSync(
      insecure,
      `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "${info.apiUrl}", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: sekret-token-123}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n`,
    );
    const u401 = await sar(['list', '--kubeconfig', insecure, '--log-level', 'DEBUG'], {}, runtime);
    expect(u401.exitCode).toBe(1);
    expect(u401.stderr).toMatch(/error: Kubernetes API unauthorized: .*\(the credentials were refused/);
    expect(u401.stderr).toMatch(/DEBUG GET https:\/\/127\.0\.0\.1:\d+\/api\/v1\/serviceaccounts\?labelSelector=/);
    expect(u401.stderr).not.toContain('sekret-token-123');
  });
  it('a kubeconfig that is not YAML, or names a missing context', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kc-'));
    const broken = join(dir, 'broken');
    writeFileSync(broken, 'apiVersion: v1\nclusters: [{name: c\n  users: :\n');
    const r = await sar(['list', '--kubeconfig', broken], {}, runtime);
    expect(r.exitCode).toBe(1);
    expect(r.stderr.trim()).toMatch(new RegExp(`^error: kubeconfig ${broken} is not valid YAML: .+\\(fix the kubeconfig\\)$`));
    expect(oneLine(r.stderr)).toBe(true);
    const ctx = await sar(['list', '--context', 'nope'], { KUBECONFIG: info.adminKubeconfig }, runtime);
    expect(ctx.exitCode).toBe(1);
    expect(oneLine(ctx.stderr)).toBe(true);
    expect(ctx.stderr).toMatch(/context "?nope"?/);
  });
  it('403: the restricted user reading another namespace', async () => {
    const r = await sar(['get-config', '--username', 'x', '--namespace', 'default'], { KUBECONFIG: info.restrictedKubeconfig }, runtime);
    expect(r.exitCode).toBe(1);
    expect(r.stderr.trim()).toMatch(
      /^error: Kubernetes API forbidden: .*serviceaccounts "x" is forbidden.*\(GET \/api\/v1\/namespaces\/default\/serviceaccounts\/x on https:.*\) \(your user lacks the RBAC permission/,
    );
    expect(oneLine(r.stderr)).toBe(true);
  });
});

describe('compatibility with Python spark8t 1.6 on the same cluster', () => {
  it('accounts made by the reference are read, configured and deleted by ours', async () => {
    const ns = uniqueName('compat');
    // spark8t 1.6's create --primary leaves an earlier primary labelled (its lookup finds none), and
    // ours refuses two primaries by name: start from none.
    await kubectl(info, ['label', 'sa,rolebinding', '-A', '-l', 'app.kubernetes.io/spark8t-primary', 'app.kubernetes.io/spark8t-primary-']);
    const py = await reference(['create', '--username', 'py', '--namespace', ns, '--conf', 'spark.a_b=1', '--conf', 'x y=2', '--primary'], env);
    expect(py.exitCode, py.stderr).toBe(0);
    expect((await sar(['get-config', '--username', 'py', '--namespace', ns])).stdout).toBe(
      (await reference(['get-config', '--username', 'py', '--namespace', ns], env)).stdout.trim(),
    );
    expect((await sar(['get-primary'])).stdout.trim()).toBe(`${ns}:py`);
    await sar(['add-config', '--username', 'py', '--namespace', ns, '--conf', 'new_k=v v']);
    const after = (await reference(['get-config', '--username', 'py', '--namespace', ns], env)).stdout;
    expect(after).toContain('new_k=v v');
    expect(after).toContain('spark.a_b=1');
    expect((await sar(['delete', '--username', 'py', '--namespace', ns])).exitCode).toBe(0);
    expect((await reference(['list'], env)).stdout).not.toContain(`${ns}:py`);
  });

  it('accounts made by ours are listed, read and deleted by the reference, objects identical', async () => {
    const ns = uniqueName('compat');
    await sar(['create', '--username', 'ts', '--namespace', ns, '--conf', 'spark.q_r=1', '--conf', 'é=2', '--primary']);
    await reference(['create', '--username', 'ref', '--namespace', ns], env);
    const refList = (await reference(['list'], env)).stdout;
    expect(refList).toContain(`${ns}:ts (Primary)`);
    expect(refList).toContain(`${ns}:ref`);
    expect((await reference(['get-config', '--username', 'ts', '--namespace', ns], env)).stdout.trim()).toBe(
      (await sar(['get-config', '--username', 'ts', '--namespace', ns])).stdout.trim(),
    );
    for (const [kind, a, b] of [
      ['sa', 'ts', 'ref'],
      ['role', 'ts-role', 'ref-role'],
      ['rolebinding', 'ts-role-binding', 'ref-role-binding'],
    ] as const) {
      const x = await kubectlJson(info, ['-n', ns, 'get', kind, a]);
      const y = await kubectlJson(info, ['-n', ns, 'get', kind, b]);
      // Ours grants less than the reference, plus the persistent volume claims Spark's driver
      // deletes at shutdown (the reference's accounts log "cannot deletecollection resource
      // persistentvolumeclaims" at the end of every session): every verb ours grants on a
      // resource other than those, the reference grants too.
      if (kind === 'role') {
        const grants = (rules: any[]) =>
          rules.flatMap((r) =>
            r.resources.flatMap((res: string) => r.verbs.map((v: string) => `${v} ${res}${r.resourceNames ? `/${r.resourceNames[0]}` : ''}`)),
          );
        const ref = new Set(grants(y.rules).map((g: string) => g.replace('/spark8t-sa-conf-ref', '/spark8t-sa-conf-ts')));
        expect(grants(x.rules).filter((g: string) => !g.endsWith('persistentvolumeclaims') && !g.endsWith(' rolebindings') && !ref.has(g))).toEqual([]);
        expect(ref.has('patch serviceaccounts') && !grants(x.rules).includes('patch serviceaccounts')).toBe(true);
        x.rules = y.rules = [];
      }
      // Otherwise the same object up to the account name (labels except primary, rules, roleRef, subjects).
      const norm = (o: any, user: string) =>
        JSON.stringify({
          labels: { ...o.metadata.labels, 'app.kubernetes.io/spark8t-primary': undefined },
          rules: o.rules,
          roleRef: o.roleRef,
          subjects: o.subjects,
        }).replace(new RegExp(`(["-])${user}(["-])`, 'g'), '$1USER$2');
      expect(norm(x, 'ts')).toBe(norm(y, 'ref'));
    }
    expect((await reference(['delete', '--username', 'ts', '--namespace', ns], env)).exitCode).toBe(0);
    expect((await sar(['list'])).stdout).not.toContain(`${ns}:ts`);
  });
});
