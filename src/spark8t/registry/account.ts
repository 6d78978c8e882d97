/** Which account a Spark wrapper runs as, with its stored configuration. */
import type { KubeClient } from '../kube/client.ts';
import { expandVars, mergeLevels, type Props } from '../conf/properties.ts';
import { AccountNotFound, PrimaryNotFound, Registry, accountId } from './registry.ts';

export interface ResolvedAccount {
  name: string;
  namespace: string;
  /** Integration hub config, then the account's own, then serviceAccountName and namespace. */
  props: Props;
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
  const acc = await reg.get(ref);
  if (!acc) throw new AccountNotFound(accountId(ref));
  return { name: acc.name, namespace: acc.namespace, props: accountProps(acc, opts.ignoreIntegrationHub ?? false) };
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
