/**
 * How `create` installs the isolation policy (src/spark8t/registry/isolation.ts), against a stand-in
 * API answering as the real one does: created when missing, replaced only when older, left when
 * newer, and one line (never a failure) where the caller may not or the cluster has no v1 policy
 * API. The policy's rules themselves are tested on the real API server (isolation.test.ts).
 */
import { describe, expect, it, vi } from 'vitest';
import { log } from '../../src/lib/log.ts';
import { KubeApiError, type KubeClient, type KubeObject } from '../../src/spark8t/kube/client.ts';
import { POLICY_NAME, POLICY_VERSION, POLICY_VERSION_KEY, installedVersion, policyManifest } from '../../src/spark8t/registry/isolation.ts';
import { Registry } from '../../src/spark8t/registry/registry.ts';

function fakeApi(opts: { have?: number; fail?: number } = {}) {
  const store = new Map<string, KubeObject>();
  if (opts.have !== undefined)
    for (const kind of ['ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'])
      store.set(kind, { metadata: { name: POLICY_NAME, resourceVersion: '7', annotations: { [POLICY_VERSION_KEY]: String(opts.have) } } });
  const calls: string[] = [];
  const api = {
    async find(kind: string): Promise<KubeObject | undefined> {
      calls.push(`GET ${kind}`);
      if (opts.fail) throw new KubeApiError(opts.fail, 'x', `Kubernetes API ${opts.fail}`);
      return store.get(kind);
    },
    async create(kind: string, obj: KubeObject) {
      calls.push(`POST ${kind}`);
      store.set(kind, obj);
      return obj;
    },
    async replace(kind: string, obj: KubeObject) {
      calls.push(`PUT ${kind} rv=${obj.metadata.resourceVersion}`);
      store.set(kind, obj);
      return obj;
    },
  };
  return { reg: new Registry(api as unknown as KubeClient), calls, store };
}

describe('the isolation policy: installed, updated, left alone', () => {
  it('missing: both objects are created', async () => {
    const f = fakeApi();
    expect(await f.reg.ensureIsolation()).toBe('installed');
    expect(f.calls).toEqual([
      'GET ValidatingAdmissionPolicy',
      'POST ValidatingAdmissionPolicy',
      'GET ValidatingAdmissionPolicyBinding',
      'POST ValidatingAdmissionPolicyBinding',
    ]);
    expect(installedVersion(f.store.get('ValidatingAdmissionPolicy'))).toBe(POLICY_VERSION);
  });
  it('older: replaced with the resourceVersion read; current or newer: not written', async () => {
    const old = fakeApi({ have: POLICY_VERSION - 1 });
    expect(await old.reg.ensureIsolation()).toBe('updated');
    expect(old.calls.filter((c) => c.startsWith('PUT'))).toEqual(['PUT ValidatingAdmissionPolicy rv=7', 'PUT ValidatingAdmissionPolicyBinding rv=7']);
    for (const [have, state] of [
      [POLICY_VERSION, 'current'],
      [POLICY_VERSION + 1, 'newer'],
    ] as const) {
      const f = fakeApi({ have });
      expect(await f.reg.ensureIsolation()).toBe(state);
      expect(f.calls.every((c) => c.startsWith('GET'))).toBe(true);
    }
  });
  it('forbidden or no v1 policy API: one warning line saying accounts are not isolated, no failure', async () => {
    for (const [fail, state, line] of [
      [403, 'forbidden', /not isolated from each other unless an administrator has installed/],
      [404, 'unsupported', /not isolated from each other: this cluster has no ValidatingAdmissionPolicy v1 \(Kubernetes 1\.30 or later\)/],
    ] as const) {
      const warn = vi.spyOn(log, 'warn').mockImplementation(() => {});
      expect(await fakeApi({ fail }).reg.ensureIsolation()).toBe(state);
      expect(warn).toHaveBeenCalledTimes(1);
      expect(String(warn.mock.calls[0]![0])).toMatch(line);
      warn.mockRestore();
    }
  });
  it('every rule is enforced (Deny) for requests from spark8t accounts only, kube-system excluded', () => {
    const p = policyManifest() as any;
    expect(p.spec.failurePolicy).toBe('Fail');
    expect(p.spec.matchConditions[0].expression).toMatch(/check\('get'\).*!authorizer.*check\('list'\)/);
    expect(p.spec.matchConstraints.namespaceSelector.matchExpressions[0]).toMatchObject({ operator: 'NotIn', values: ['kube-system'] });
  });
});
