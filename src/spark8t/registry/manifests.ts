/** The four objects of a spark8t service account, exactly as spark8t 1.6 makes them. */
import type { KubeObject } from '../kube/client.ts';

export const MANAGED_BY = 'app.kubernetes.io/managed-by';
export const GENERATED_BY = 'app.kubernetes.io/generated-by';
export const PRIMARY = 'app.kubernetes.io/spark8t-primary';
export const SPARK8T = 'spark8t';

export const roleName = (user: string) => `${user}-role`;
export const roleBindingName = (user: string) => `${user}-role-binding`;
export const secretName = (user: string) => `spark8t-sa-conf-${user}`;
export const hubSecretName = (user: string) => `integrator-hub-conf-${user}`;

export function serviceAccountManifest(user: string, namespace: string): KubeObject {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: user, namespace, labels: { [GENERATED_BY]: SPARK8T } } };
}

const ALL_VERBS = ['create', 'get', 'list', 'watch', 'delete', 'deletecollection', 'update', 'patch'];

/**
 * The reference's three rules, then one of ours: persistent volume claims, which Spark's driver
 * uses on Kubernetes (ExecutorPodsAllocator lists the application's claims to reuse them and
 * creates on-demand ones; KubernetesClusterSchedulerBackend.stop deletes them by label, a
 * deletecollection, on every shutdown since spark.kubernetes.driver.ownPersistentVolumeClaim is
 * true by default). Without it every session of a reference account ends with "cannot
 * deletecollection resource persistentvolumeclaims". The reference's rules come first and
 * unchanged, so its accounts and ours differ by that one rule; each tool reads, lists and deletes
 * the other's accounts without looking at the rules.
 */
export function roleManifest(user: string, namespace: string): KubeObject {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { labels: { [GENERATED_BY]: SPARK8T }, name: roleName(user), namespace },
    rules: [
      { apiGroups: [''], resources: ['pods', 'configmaps', 'services', 'serviceaccounts'], verbs: ALL_VERBS },
      { apiGroups: [''], resources: ['secrets'], resourceNames: [secretName(user)], verbs: ['get', 'patch', 'update'] },
      { apiGroups: [''], resources: ['secrets'], resourceNames: [hubSecretName(user)], verbs: ['get'] },
      { apiGroups: [''], resources: ['persistentvolumeclaims'], verbs: ALL_VERBS },
    ],
  };
}

export function roleBindingManifest(user: string, namespace: string): KubeObject {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { labels: { [GENERATED_BY]: SPARK8T }, name: roleBindingName(user), namespace },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: roleName(user) },
    subjects: [{ kind: 'ServiceAccount', name: user, namespace }],
  };
}

export function secretManifest(user: string, namespace: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name: secretName(user), namespace, labels: { [GENERATED_BY]: SPARK8T } } };
}

/** DNS-1123 checks done before any request. Returns the problem, or undefined when valid. */
export function dns1123Label(value: string): string | undefined {
  if (value.length === 0) return 'must not be empty';
  if (value.length > 63) return 'must be at most 63 characters';
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(value))
    return 'must consist of lower case alphanumeric characters or "-", and start and end with an alphanumeric character';
  return undefined;
}

export function dns1123Subdomain(value: string): string | undefined {
  if (value.length === 0) return 'must not be empty';
  if (value.length > 253) return 'must be at most 253 characters';
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(value))
    return 'must consist of lower case alphanumeric characters, "-" or ".", and start and end with an alphanumeric character';
  return undefined;
}
