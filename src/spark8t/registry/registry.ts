/**
 * Service accounts stored in Kubernetes, compatible with spark8t 1.6: same objects, labels,
 * secret layout and key encoding. Differences on purpose: create is all-or-nothing, names are
 * validated before any request, and listing is one labelled cluster-wide request.
 */
import { dns1123Label, dns1123Subdomain } from '../../lib/k8s-names.ts';
import { UserError } from '../../lib/errors.ts';
import { log } from '../../lib/log.ts';
import { registerSecret } from '../../lib/secrets.ts';
import { KubeApiError, type KubeClient, type KubeObject, type Kind } from '../kube/client.ts';
import type { Props } from '../conf/properties.ts';
import { POD_SECURITY_ENFORCE, type PodSecurityLevel } from '../../lib/pod-security.ts';
import { decodeKey, encodeKey } from './encoding.ts';
import { randomBytes } from 'node:crypto';
import {
  AUTH_SECRET_KEY,
  GENERATED_BY,
  MANAGED_BY,
  PRIMARY,
  SPARK8T,
  authSecretManifest,
  authSecretName,
  hubSecretName,
  roleBindingManifest,
  roleBindingName,
  roleManifest,
  roleName,
  secretManifest,
  secretName,
  serviceAccountManifest,
} from './manifests.ts';
import { POLICY_NAME, POLICY_VERSION, bindingManifest, installedVersion, policyManifest } from './isolation.ts';

export interface AccountRef {
  name: string;
  namespace: string;
}
export interface Account extends AccountRef {
  primary: boolean;
}
export interface AccountConfig extends Account {
  /** From the account secret `spark8t-sa-conf-<name>`. */
  props: Props;
  /** From the read-only integration hub secret `integrator-hub-conf-<name>`. */
  hubProps: Props;
}

export const accountId = (a: AccountRef) => `${a.namespace}:${a.name}`;

/** A fresh RPC secret for the account (64 random hex digits). */
const newAuthSecret = (user: string, namespace: string) => authSecretManifest(user, namespace, randomBytes(32).toString('hex'));

/** How many times a config edit is re-applied after a 409 Conflict before it gives up. */
export const EDIT_ATTEMPTS = 20;

export class AccountNotFound extends UserError {
  constructor(id: string) {
    super('E_ACCOUNT_NOT_FOUND', `Account ${id} could not be found.`);
  }
}
export class PrimaryNotFound extends UserError {
  constructor() {
    super('E_PRIMARY_NOT_FOUND', 'Primary account not found. Please create or tag an account as primary.');
  }
}
export class AlreadyExists extends UserError {
  constructor(kind: string, name: string) {
    super('E_EXISTS', `Could not create the service account. A ${kind.toLowerCase()} with name '${name}' already exists.`);
  }
}

/** Validate a name and namespace before talking to the API. */
export function validateRef(ref: AccountRef): void {
  const problems: string[] = [];
  const n = dns1123Subdomain(ref.name) ?? (ref.name.length > 237 ? 'must be at most 237 characters (the secret name adds 16)' : undefined);
  if (n) problems.push(`username "${ref.name}" ${n}`);
  const ns = dns1123Label(ref.namespace);
  if (ns) problems.push(`namespace "${ref.namespace}" ${ns}`);
  if (problems.length) throw new UserError('E_INVALID_NAME', `invalid ${problems.join('; ')}`);
}

function decodeSecret(obj: KubeObject | undefined): Props {
  const out: Props = new Map();
  const data = (obj?.data ?? {}) as Record<string, string>;
  for (const key of Object.keys(data).sort()) {
    const value = Buffer.from(data[key]!, 'base64').toString('utf8');
    registerSecret(value);
    out.set(decodeKey(key), value);
  }
  return out;
}

function isPrimary(o: KubeObject): boolean {
  return o.metadata.labels?.[PRIMARY] !== undefined;
}

export class Registry {
  constructor(readonly kube: KubeClient) {}

  /** Every spark8t account: one labelled list across namespaces, or the current namespace if forbidden. */
  async list(): Promise<Account[]> {
    const selector = `${MANAGED_BY}=${SPARK8T}`;
    let items: KubeObject[];
    try {
      items = await this.kube.list('ServiceAccount', { labelSelector: selector });
    } catch (e) {
      if (!(e instanceof KubeApiError && e.status === 403)) throw e;
      log.debug(`listing across namespaces is forbidden; listing namespace ${this.kube.namespace}`);
      items = await this.kube.list('ServiceAccount', { namespace: this.kube.namespace, labelSelector: selector });
    }
    return items.map((o) => ({ name: o.metadata.name, namespace: o.metadata.namespace!, primary: isPrimary(o) }));
  }

  /**
   * The primary: the account whose ServiceAccount and RoleBinding both carry the label (both tools
   * label both). An account that may write its own ServiceAccount (spark8t 1.6's Role allows it)
   * cannot make itself primary that way. Where the RoleBindings may not be read (an account made by
   * spark8t 1.6 looking itself up), the ServiceAccount's label decides, as in 1.6. Two primaries are
   * refused by name rather than one chosen.
   */
  async getPrimary(): Promise<Account | undefined> {
    const labelled = (await this.list()).filter((a) => a.primary);
    const confirmed: Account[] = [];
    for (const a of labelled) {
      let rb: KubeObject | undefined;
      try {
        rb = await this.kube.find('RoleBinding', roleBindingName(a.name), a.namespace);
      } catch (e) {
        if (!(e instanceof KubeApiError && e.status === 403)) throw e;
        log.debug(`the RoleBindings of ${a.namespace} may not be read: the ServiceAccount label of ${accountId(a)} decides`);
        confirmed.push(a);
        continue;
      }
      if (rb && isPrimary(rb)) confirmed.push(a);
      else log.warn(`account ${accountId(a)} has the primary label on its ServiceAccount but not on its RoleBinding: it is not taken as primary`);
    }
    if (confirmed.length > 1)
      throw new UserError('E_PRIMARY_AMBIGUOUS', `more than one primary account: ${confirmed.map(accountId).join(', ')}`, {
        hint: `an administrator removes the label ${PRIMARY} from all of them but one (its ServiceAccount and its RoleBinding)`,
      });
    return confirmed[0];
  }

  /**
   * Install or bring up to date the cluster's isolation policy (isolation.ts): created when missing,
   * replaced when older, left when newer. Never fails the command: where the caller may not, or the
   * cluster has no ValidatingAdmissionPolicy v1 (before Kubernetes 1.30), one line says that the
   * accounts of a namespace are not isolated from each other. Answers what was done.
   */
  async ensureIsolation(): Promise<'installed' | 'updated' | 'current' | 'newer' | 'forbidden' | 'unsupported'> {
    const notIsolated = 'spark8t accounts that share a namespace are not isolated from each other';
    try {
      const state = await this.installPolicy();
      if (state === 'installed' || state === 'updated') log.info(`admission policy ${POLICY_NAME} v${POLICY_VERSION} ${state}`);
      return state;
    } catch (e) {
      if (e instanceof KubeApiError && e.status === 404) {
        log.warn(`${notIsolated}: this cluster has no ValidatingAdmissionPolicy v1 (Kubernetes 1.30 or later); give each tenant its own namespace`);
        return 'unsupported';
      }
      if (e instanceof KubeApiError && (e.status === 403 || e.status === 401)) {
        log.warn(`${notIsolated} unless an administrator has installed the admission policy ${POLICY_NAME}: this user may not check or install it`);
        return 'forbidden';
      }
      throw e;
    }
  }

  private async installPolicy(): Promise<'installed' | 'updated' | 'current' | 'newer'> {
    const pairs = [
      ['ValidatingAdmissionPolicy', policyManifest()],
      ['ValidatingAdmissionPolicyBinding', bindingManifest()],
    ] as const;
    const result: Array<'installed' | 'updated' | 'current' | 'newer'> = [];
    for (const [kind, want] of pairs) {
      const have = await this.kube.find(kind, want.metadata.name);
      if (!have) {
        try {
          await this.kube.create(kind, want);
          result.push('installed');
        } catch (e) {
          // Another run installed it meanwhile: the same.
          if (!(e instanceof KubeApiError && e.status === 409)) throw e;
          result.push('current');
        }
        continue;
      }
      const v = installedVersion(have);
      if (v > POLICY_VERSION) result.push('newer');
      else if (v === POLICY_VERSION) result.push('current');
      else {
        await this.kube.replace(kind, { ...want, metadata: { ...want.metadata, resourceVersion: have.metadata.resourceVersion } });
        result.push('updated');
      }
    }
    return result.includes('installed') ? 'installed' : result.includes('updated') ? 'updated' : result.includes('newer') ? 'newer' : 'current';
  }

  /**
   * Bring an account made by an earlier version of this tool (or by spark8t 1.6) up to date: its
   * Role gets today's rules, and the cluster's isolation policy is installed or updated.
   */
  async upgrade(ref: AccountRef): Promise<void> {
    validateRef(ref);
    const role = await this.kube.find('Role', roleName(ref.name), ref.namespace);
    if (!role || !(await this.kube.find('ServiceAccount', ref.name, ref.namespace))) throw new AccountNotFound(accountId(ref));
    const want = roleManifest(ref.name, ref.namespace);
    await this.kube.replace('Role', { ...role, rules: want.rules });
    if (!(await this.kube.find('Secret', authSecretName(ref.name), ref.namespace))) {
      await this.kube.create('Secret', newAuthSecret(ref.name, ref.namespace));
    }
    await this.ensureIsolation();
  }

  /**
   * The account's Spark RPC secret (64 hex digits), when it has one and the caller may read it:
   * accounts made before it, and spark8t 1.6's, have none until `upgrade`.
   */
  async authSecret(ref: AccountRef): Promise<Buffer | undefined> {
    try {
      const s = await this.kube.find('Secret', authSecretName(ref.name), ref.namespace);
      const v = (s?.data as Record<string, unknown> | undefined)?.[AUTH_SECRET_KEY];
      if (typeof v !== 'string' || v === '') return undefined;
      const secret = Buffer.from(v, 'base64');
      registerSecret(secret.toString());
      registerSecret(secret.toString('base64'));
      return secret;
    } catch (e) {
      if (e instanceof KubeApiError && (e.status === 403 || e.status === 401)) return undefined;
      throw e;
    }
  }

  private async readSecret(name: string, namespace: string): Promise<Props> {
    try {
      return decodeSecret(await this.kube.find('Secret', name, namespace));
    } catch (e) {
      if (e instanceof KubeApiError && e.status === 403) return new Map();
      throw e;
    }
  }

  async get(ref: AccountRef): Promise<AccountConfig | undefined> {
    validateRef(ref);
    // All three reads at once: one round trip instead of two.
    const [sa, props, hubProps] = await Promise.all([
      this.kube.find('ServiceAccount', ref.name, ref.namespace),
      this.readSecret(secretName(ref.name), ref.namespace),
      this.readSecret(hubSecretName(ref.name), ref.namespace),
    ]);
    if (!sa) return undefined;
    return { ...ref, primary: isPrimary(sa), props, hubProps };
  }

  async require(ref: AccountRef): Promise<AccountConfig> {
    const a = await this.get(ref);
    if (!a) throw new AccountNotFound(accountId(ref));
    return a;
  }

  /** The four manifests, joined as spark8t prints them; creates nothing. */
  async manifest(ref: AccountRef): Promise<string> {
    validateRef(ref);
    const { stringify: toYaml } = await import('yaml');
    return [serviceAccountManifest, roleManifest, roleBindingManifest, secretManifest].map((f) => toYaml(f(ref.name, ref.namespace))).join('---\n');
  }

  /**
   * Make sure the namespace exists; 'unknown' when we may neither read nor create namespaces. One we
   * make enforces Pod Security POD_SECURITY (`restricted` unless told; 'none': no label).
   */
  private async ensureNamespace(namespace: string, podSecurity: PodSecurityLevel): Promise<'ok' | 'unknown'> {
    let readable = true;
    try {
      if (await this.kube.find('Namespace', namespace)) return 'ok';
    } catch (e) {
      if (!(e instanceof KubeApiError && (e.status === 403 || e.status === 401))) throw e;
      readable = false;
    }
    try {
      const labels = podSecurity === 'none' ? undefined : { [POD_SECURITY_ENFORCE]: podSecurity };
      await this.kube.create('Namespace', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace, ...(labels ? { labels } : {}) } });
    } catch (e) {
      if (e instanceof KubeApiError && (e.status === 401 || e.status === 403)) {
        // Users scoped to one namespace may read neither: go on and see whether it is usable.
        if (!readable) return 'unknown';
        throw new UserError('E_NAMESPACE', `Namespace ${namespace} can not be created.`);
      }
      if (e instanceof KubeApiError && e.status === 409) return 'ok';
      throw e;
    }
    return 'ok';
  }

  /** Create all four objects, or none: on failure the ones made are deleted again. */
  async create(ref: AccountRef, props: Props, primary: boolean, podSecurity: PodSecurityLevel = 'restricted'): Promise<void> {
    validateRef(ref);
    const { name, namespace } = ref;
    const nsState = await this.ensureNamespace(namespace, podSecurity);
    const checks: Array<[Kind, string]> = [
      ['ServiceAccount', name],
      ['Role', roleName(name)],
      ['RoleBinding', roleBindingName(name)],
    ];
    const nsError = (e: unknown) =>
      nsState === 'unknown' && e instanceof KubeApiError && (e.status === 403 || e.status === 404)
        ? new UserError('E_NAMESPACE', `Namespace ${namespace} can not be created.`)
        : e;
    const found = await Promise.all(checks.map(([k, n]) => this.kube.find(k, n, namespace))).catch((e) => {
      throw nsError(e);
    });
    found.forEach((f, i) => {
      if (f) throw new AlreadyExists(checks[i]![0], checks[i]![1]);
    });
    const label = { [MANAGED_BY]: SPARK8T, [GENERATED_BY]: SPARK8T };
    const withLabels = (o: KubeObject): KubeObject => ({
      ...o,
      metadata: { ...o.metadata, labels: { ...o.metadata.labels, ...(o.kind === 'Secret' ? {} : label) } },
    });
    const secret = secretManifest(name, namespace);
    if (props.size) secret.data = Object.fromEntries([...props].map(([k, v]) => [encodeKey(k), Buffer.from(v).toString('base64')]));
    const steps: Array<[Kind, KubeObject]> = [
      ['ServiceAccount', withLabels(serviceAccountManifest(name, namespace))],
      ['Role', withLabels(roleManifest(name, namespace))],
      ['RoleBinding', withLabels(roleBindingManifest(name, namespace))],
      ['Secret', secret],
      ['Secret', newAuthSecret(name, namespace)],
    ];
    const made: Array<[Kind, string]> = [];
    try {
      for (const [kind, obj] of steps) {
        try {
          await this.kube.create(kind, obj);
        } catch (e) {
          // An RPC secret left by an account deleted with spark8t 1.6 (which knows nothing of it): a new one.
          if (!(obj.metadata.name === authSecretName(name) && e instanceof KubeApiError && e.status === 409)) throw e;
          await this.kube.delete(kind, obj.metadata.name, namespace);
          await this.kube.create(kind, obj);
        }
        made.push([kind, obj.metadata.name]);
      }
      // Juju (3.6.10+) stamps managed-by=juju on everything in its namespaces: force ours back.
      for (const [kind, n] of made.slice(0, 3)) await this.kube.patch(kind, n, namespace, { metadata: { labels: { [MANAGED_BY]: SPARK8T } } }, 'merge');
    } catch (e) {
      if (made.length === 0 && nsError(e) !== e) throw nsError(e);
      const failed = steps[made.length]?.[0] ?? 'label';
      const undone: string[] = [];
      for (const [kind, n] of made.reverse()) {
        try {
          await this.kube.delete(kind, n, namespace);
          undone.push(`${kind} ${n}`);
        } catch (e2) {
          log.warn(`rollback: could not delete ${kind} ${namespace}/${n}: ${(e2 as Error).message}`);
        }
      }
      const why = e instanceof UserError ? e.oneLine() : (e as Error).message;
      throw new UserError(
        'E_CREATE',
        `creating ${failed} for account ${accountId(ref)} failed, nothing was kept${undone.length ? ` (removed ${undone.join(', ')})` : ''}: ${why}`,
      );
    }
    if (primary) await this.setPrimary(ref);
    // After the account is made, so that a create that fails says only why it failed.
    await this.ensureIsolation();
  }

  /** Move the primary label to this account (from whichever account had it). */
  async setPrimary(ref: AccountRef): Promise<void> {
    const current = (await this.list()).filter((a) => a.primary);
    for (const old of current) {
      if (old.name === ref.name && old.namespace === ref.namespace) continue;
      await this.kube.patch('ServiceAccount', old.name, old.namespace, { metadata: { labels: { [PRIMARY]: null } } }, 'merge');
      await this.kube.patch('RoleBinding', roleBindingName(old.name), old.namespace, { metadata: { labels: { [PRIMARY]: null } } }, 'merge').catch((e) => {
        if (!(e instanceof KubeApiError && e.status === 404)) throw e;
      });
    }
    await this.kube.patch('ServiceAccount', ref.name, ref.namespace, { metadata: { labels: { [PRIMARY]: 'True' } } }, 'merge');
    await this.kube.patch('RoleBinding', roleBindingName(ref.name), ref.namespace, { metadata: { labels: { [PRIMARY]: 'True' } } }, 'merge');
  }

  /**
   * Edit the stored configuration (the Secret's whole data): read it, apply `edit`, and write the
   * result back with the resourceVersion that was read (a PUT), so that an edit made meanwhile by
   * another run is never overwritten: the API server answers 409 Conflict, and the Secret is read
   * again and `edit` re-applied, at most EDIT_ATTEMPTS times. A missing Secret is created (409
   * AlreadyExists when another run made it first: the same).
   */
  async editConfig(ref: AccountRef, edit: (current: Props) => Props): Promise<void> {
    validateRef(ref);
    const name = secretName(ref.name);
    for (let attempt = 1; ; attempt++) {
      const existing = await this.kube.find('Secret', name, ref.namespace);
      const next = edit(decodeSecret(existing));
      const data = Object.fromEntries([...next].map(([k, v]) => [encodeKey(k), Buffer.from(v).toString('base64')]));
      try {
        if (existing) {
          const { data: _old, ...rest } = existing;
          await this.kube.replace('Secret', { ...rest, data });
        } else {
          const s = secretManifest(ref.name, ref.namespace);
          if (next.size) s.data = data;
          await this.kube.create('Secret', s);
        }
        return;
      } catch (e) {
        if (!(e instanceof KubeApiError && e.status === 409)) throw e;
        if (attempt >= EDIT_ATTEMPTS) {
          throw new UserError(
            'E_K8S_409',
            `the configuration of account ${accountId(ref)} kept changing during this edit (${attempt} attempts); this edit was not applied`,
            {
              hint: 'other runs are editing it at the same time; run the command again',
            },
          );
        }
        log.debug(`the configuration of ${accountId(ref)} changed meanwhile (attempt ${attempt}); reading it again`);
        // Jittered, growing: concurrent editors spread out instead of colliding again in step.
        await new Promise((r) => setTimeout(r, Math.random() * 25 * Math.min(attempt, 8)));
      }
    }
  }

  /** Replace the stored configuration with `props` (through editConfig: never a lost update). */
  setConfig(ref: AccountRef, props: Props): Promise<void> {
    return this.editConfig(ref, () => props);
  }

  async delete(ref: AccountRef): Promise<void> {
    validateRef(ref);
    if (!(await this.kube.find('ServiceAccount', ref.name, ref.namespace))) throw new AccountNotFound(ref.name);
    const targets: Array<[Kind, string]> = [
      ['ServiceAccount', ref.name],
      ['Role', roleName(ref.name)],
      ['RoleBinding', roleBindingName(ref.name)],
      ['Secret', secretName(ref.name)],
      ['Secret', authSecretName(ref.name)],
    ];
    const problems: string[] = [];
    for (const [kind, n] of targets) {
      try {
        await this.kube.delete(kind, n, ref.namespace);
      } catch (e) {
        if (e instanceof KubeApiError && e.status === 404) continue;
        problems.push(`${kind} ${n}: ${e instanceof UserError ? e.message : String(e)}`);
      }
    }
    if (problems.length) throw new UserError('E_DELETE', `account ${accountId(ref)} was only partly deleted: ${problems.join('; ')}`);
  }
}
