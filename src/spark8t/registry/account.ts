/** Which account a Spark wrapper runs as, with its stored configuration. */
import type { KubeClient } from '../kube/client.ts';
import { expandVars, mergeLevels, type Props } from '../conf/properties.ts';
import type { StoredAt } from '../conf/secret-refs.ts';
import { encodeKey } from './encoding.ts';
import { hubSecretName, secretName } from './manifests.ts';
import { AccountNotFound, PrimaryNotFound, Registry, accountId } from './registry.ts';

export interface ResolvedAccount {
  name: string;
  namespace: string;
  /** Integration hub config, then the account's own, then serviceAccountName and namespace. */
  props: Props;
  /** Where each stored property is kept (the Secret and data key): what a wrapper may reference. */
  stored: Map<string, StoredAt>;
  /** The account's Spark RPC secret (conf/rpc-auth.ts), when it has one the caller may read. */
  authSecret?: Buffer;
}

export async function resolveAccount(
  kube: KubeClient,
  opts: { username?: string; namespace?: string; ignoreIntegrationHub?: boolean },
  env: NodeJS.ProcessEnv = process.env,
): Promise<ResolvedAccount> {
  const reg = new Registry(kube);
  let ref: { name: string; namespace: string };
  if (opts.username === undefined && opts.namespace === undefined) {
    const p = await reg.getPrimary();
    if (!p) throw new PrimaryNotFound();
    ref = p;
  } else {
    ref = { name: expandVars(opts.username ?? 'spark', env), namespace: expandVars(opts.namespace ?? 'default', env) };
  }
  const [acc, authSecret] = await Promise.all([reg.get(ref), reg.authSecret(ref)]);
  if (!acc) throw new AccountNotFound(accountId(ref));
  const ignoreHub = opts.ignoreIntegrationHub ?? false;
  return { name: acc.name, namespace: acc.namespace, props: accountProps(acc, ignoreHub), stored: storedAt(acc, ignoreHub), authSecret };
}

/** The Secret and data key of each stored property (the account's own over the hub's, as they merge). */
export function storedAt(acc: { name: string; props: Props; hubProps: Props }, ignoreHub: boolean): Map<string, StoredAt> {
  const out = new Map<string, StoredAt>();
  if (!ignoreHub) for (const [k, v] of acc.hubProps) out.set(k, { secret: hubSecretName(acc.name), key: encodeKey(k), value: v });
  for (const [k, v] of acc.props) out.set(k, { secret: secretName(acc.name), key: encodeKey(k), value: v });
  return out;
}

export function accountProps(acc: { name: string; namespace: string; props: Props; hubProps: Props }, ignoreHub: boolean): Props {
  return mergeLevels([
    ignoreHub ? new Map() : acc.hubProps,
    acc.props,
    new Map([
      ['spark.kubernetes.authenticate.driver.serviceAccountName', acc.name],
      ['spark.kubernetes.namespace', acc.namespace],
    ]),
  ]);
}
