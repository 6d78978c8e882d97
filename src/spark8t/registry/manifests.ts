/** The four objects of a spark8t service account: spark8t 1.6's names and labels, a narrower Role. */
import type { KubeObject } from '../kube/client.ts';

export const MANAGED_BY = 'app.kubernetes.io/managed-by';
export const GENERATED_BY = 'app.kubernetes.io/generated-by';
export const PRIMARY = 'app.kubernetes.io/spark8t-primary';
export const SPARK8T = 'spark8t';

export const roleName = (user: string) => `${user}-role`;
export const roleBindingName = (user: string) => `${user}-role-binding`;
export const secretName = (user: string) => `spark8t-sa-conf-${user}`;
export const hubSecretName = (user: string) => `integrator-hub-conf-${user}`;
/** The account's Spark RPC secret (spark.authenticate), mounted into its pods: conf/rpc-auth.ts. */
export const authSecretName = (user: string) => `spark8t-sa-auth-${user}`;
/** The secret as the file Spark's driver reads (`spark.authenticate.secret.driver.file`). */
export const AUTH_SECRET_KEY = 'secret';
/** The same secret as the value Spark's executors read from `_SPARK_AUTH_SECRET` (the file's base64). */
export const AUTH_SECRET_ENV_KEY = 'secret.base64';

export function serviceAccountManifest(user: string, namespace: string): KubeObject {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: user, namespace, labels: { [GENERATED_BY]: SPARK8T } } };
}

const ALL_VERBS = ['create', 'get', 'list', 'watch', 'delete', 'deletecollection', 'update', 'patch'];
const READ = ['get', 'list', 'watch'];

/**
 * What Spark and spark8t need, and no more (spark8t 1.6 grants every verb on pods, ConfigMaps,
 * Services and ServiceAccounts, and writes to the account's own config Secret):
 *  - pods: Spark's driver creates, watches, lists and deletes its executors (one deletecollection by
 *    label on stop) and patches their labels (spark.kubernetes.executor.deleteOnTermination=false,
 *    decommissioning); spark-submit in cluster mode creates and watches the driver;
 *  - ConfigMaps and Services: the driver's and executors' conf maps and the driver's Service;
 *  - persistent volume claims: ExecutorPodsAllocator lists the application's claims to reuse them
 *    and creates on-demand ones; KubernetesClusterSchedulerBackend.stop deletes them by label (a
 *    deletecollection) on every shutdown, since spark.kubernetes.driver.ownPersistentVolumeClaim
 *    is true by default;
 *  - ServiceAccounts and RoleBindings: read only, to find the account and the primary (its label
 *    is on both); never written, so no account can make itself primary;
 *  - its own config Secret, integration-hub Secret and RPC-auth Secret: read only; an administrator
 *    edits them (the RPC secret is made by create and upgrade).
 * Which other account's pods it may touch, and which Secrets its pods may mount, RBAC cannot say:
 * isolation.ts. Each tool reads, lists and deletes the other's accounts without looking at the rules.
 */
export function roleManifest(user: string, namespace: string): KubeObject {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { labels: { [GENERATED_BY]: SPARK8T }, name: roleName(user), namespace },
    rules: [
      { apiGroups: [''], resources: ['pods'], verbs: ['create', 'get', 'list', 'watch', 'delete', 'deletecollection', 'patch'] },
      { apiGroups: [''], resources: ['configmaps', 'services'], verbs: ALL_VERBS },
      { apiGroups: [''], resources: ['serviceaccounts'], verbs: READ },
      { apiGroups: ['rbac.authorization.k8s.io'], resources: ['rolebindings'], verbs: READ },
      { apiGroups: [''], resources: ['secrets'], resourceNames: [secretName(user), hubSecretName(user), authSecretName(user)], verbs: ['get'] },
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

/**
 * SECRET: a printable random string made by the caller. Spark's driver reads it from a file and uses
 * the file's base64 as the key; its executors use `_SPARK_AUTH_SECRET` as given: the Secret holds both.
 */
export function authSecretManifest(user: string, namespace: string, secret: string): KubeObject {
  const b64 = (v: string) => Buffer.from(v).toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: authSecretName(user), namespace, labels: { [GENERATED_BY]: SPARK8T } },
    data: { [AUTH_SECRET_KEY]: b64(secret), [AUTH_SECRET_ENV_KEY]: b64(b64(secret)) },
  };
}

export function secretManifest(user: string, namespace: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name: secretName(user), namespace, labels: { [GENERATED_BY]: SPARK8T } } };
}
