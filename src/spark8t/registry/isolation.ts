/**
 * Isolation between the spark8t accounts of one namespace, where RBAC cannot say it: a
 * ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1, GA in Kubernetes 1.30), one per
 * cluster, bound to every namespace but kube-system.
 *
 * Whom it applies to: a request made with a ServiceAccount's token that may `get` the Secret
 * `spark8t-sa-conf-<its own name>` and may not `list` Secrets. Both tools' Roles give exactly that
 * (ours and spark8t 1.6's), so accounts the Python tool made are covered though their Role stays
 * wide; an administrator's ServiceAccount (which may list Secrets), the cluster's controllers and
 * people are not matched, so a ReplicaSet's or a Job's pods are never refused by it.
 *
 * What such a request may not do (each rule below says it in its message):
 *  - create a pod that runs as another ServiceAccount, or change or delete a pod that runs as one
 *    (a pod's serviceAccountName cannot change, so it is the owner);
 *  - create a pod that mounts or references a Secret it may not `get` itself (secret and projected
 *    volumes, secretKeyRef, envFrom, imagePullSecrets): the kubelet mounts Secrets for any pod
 *    without asking whether its creator may read them;
 *  - create a privileged pod, one in a host namespace, with a host port, or with a volume type other
 *    than the ones Spark uses (hostPath and the secret-bearing plugin volumes are not among them);
 *  - create, change or delete ServiceAccounts or Secrets (the primary label, its own config).
 *
 * What admission cannot do (said in the README's Security model): ConfigMaps and Services that
 * Spark names at random carry no owner admission could look up.
 */
import type { KubeObject } from '../kube/client.ts';
import { MANAGED_BY, SPARK8T, secretName } from './manifests.ts';

export const POLICY_NAME = 'spark8t-account-isolation';
/** Bumped whenever the policy's rules change: `create` replaces an older one, never a newer one. */
export const POLICY_VERSION = 1;
export const POLICY_VERSION_KEY = 'spark8t.canonical.com/policy-version';

/** The volume types a spark8t account's pod may use: what Spark's pods and templates mount. */
export const ALLOWED_VOLUMES = ['configMap', 'emptyDir', 'secret', 'projected', 'downwardAPI', 'persistentVolumeClaim', 'ephemeral'] as const;

const USER = 'request.userInfo.username';
const SA_NS = `${USER}.split(':')[2]`;
const SA_NAME = `${USER}.split(':')[3]`;
const canGetSecret = (ns: string, name: string) => `authorizer.group('').resource('secrets').namespace(${ns}).name(${name}).check('get').allowed()`;

/** A CEL predicate: the request comes from a spark8t account (see the header). */
export const SPARK8T_REQUESTER = [
  `${USER}.startsWith('system:serviceaccount:')`,
  `${USER}.split(':').size() == 4`,
  canGetSecret(SA_NS, `'${secretName('')}' + ${SA_NAME}`),
  `!authorizer.group('').resource('secrets').namespace(${SA_NS}).check('list').allowed()`,
].join(' && ');

const isPods = "request.resource.resource == 'pods'";
const creating = `${isPods} && request.operation == 'CREATE'`;
/** Every Secret name a pod references, each checked against what the requester may `get`. */
const mayRead = (name: string) => canGetSecret('request.namespace', name);
const containers = '(object.spec.containers + (has(object.spec.initContainers) ? object.spec.initContainers : []))';
const volumes = '(has(object.spec.volumes) ? object.spec.volumes : [])';

interface Rule {
  expression: string;
  message: string;
}

export const RULES: Rule[] = [
  {
    expression: `!(${creating}) || (has(object.spec.serviceAccountName) && object.spec.serviceAccountName == variables.account)`,
    message: 'a spark8t account may create only pods that run as itself (spec.serviceAccountName)',
  },
  {
    expression: `!(${isPods}) || request.operation == 'CREATE' || (has(oldObject.spec.serviceAccountName) && oldObject.spec.serviceAccountName == variables.account)`,
    message: "a spark8t account may not change or delete another account's pods",
  },
  {
    expression:
      `!(${creating}) || (` +
      `${volumes}.all(v, !has(v.secret) || (has(v.secret.secretName) && ${mayRead('v.secret.secretName')})) && ` +
      `${volumes}.all(v, !has(v.projected) || !has(v.projected.sources) || v.projected.sources.all(s, !has(s.secret) || (has(s.secret.name) && ${mayRead('s.secret.name')}))) && ` +
      `${containers}.all(c, !has(c.env) || c.env.all(e, !has(e.valueFrom) || !has(e.valueFrom.secretKeyRef) || (has(e.valueFrom.secretKeyRef.name) && ${mayRead('e.valueFrom.secretKeyRef.name')}))) && ` +
      `${containers}.all(c, !has(c.envFrom) || c.envFrom.all(e, !has(e.secretRef) || (has(e.secretRef.name) && ${mayRead('e.secretRef.name')}))) && ` +
      `(!has(object.spec.imagePullSecrets) || object.spec.imagePullSecrets.all(p, !has(p.name) || ${mayRead('p.name')})))`,
    message: 'a spark8t account may mount or reference only Secrets it may read itself',
  },
  {
    expression:
      `!(${creating}) || (` +
      '!(has(object.spec.hostNetwork) && object.spec.hostNetwork) && !(has(object.spec.hostPID) && object.spec.hostPID) && ' +
      '!(has(object.spec.hostIPC) && object.spec.hostIPC) && ' +
      `${containers}.all(c, !(has(c.securityContext) && has(c.securityContext.privileged) && c.securityContext.privileged)) && ` +
      `${containers}.all(c, !has(c.ports) || c.ports.all(p, !has(p.hostPort) || p.hostPort == 0)))`,
    message: 'a spark8t account may not create privileged pods, pods in a host namespace or with a host port',
  },
  {
    expression: `!(${creating}) || ${volumes}.all(v, ${ALLOWED_VOLUMES.map((t) => `has(v.${t})`).join(' || ')})`,
    message: `a spark8t account's pods may use only these volume types: ${ALLOWED_VOLUMES.join(', ')} (no hostPath)`,
  },
  {
    expression: "request.resource.resource != 'serviceaccounts' && request.resource.resource != 'secrets'",
    message: 'a spark8t account may not create, change or delete ServiceAccounts or Secrets (an administrator edits accounts)',
  },
];

export function policyManifest(): KubeObject {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name: POLICY_NAME, labels: { [MANAGED_BY]: SPARK8T }, annotations: { [POLICY_VERSION_KEY]: String(POLICY_VERSION) } },
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: {
        namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system'] }] },
        resourceRules: [
          { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE', 'DELETE'], resources: ['pods', 'serviceaccounts', 'secrets'] },
        ],
      },
      matchConditions: [{ name: 'spark8t-account', expression: SPARK8T_REQUESTER }],
      variables: [{ name: 'account', expression: SA_NAME }],
      validations: RULES.map((r) => ({ expression: r.expression, message: r.message, reason: 'Forbidden' })),
    },
  };
}

export function bindingManifest(): KubeObject {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name: POLICY_NAME, labels: { [MANAGED_BY]: SPARK8T }, annotations: { [POLICY_VERSION_KEY]: String(POLICY_VERSION) } },
    spec: { policyName: POLICY_NAME, validationActions: ['Deny'] },
  };
}

/** The version an installed policy or binding says it is (0: none recorded). */
export function installedVersion(o: KubeObject | undefined): number {
  const v = Number((o?.metadata.annotations as Record<string, string> | undefined)?.[POLICY_VERSION_KEY] ?? 0);
  return Number.isInteger(v) && v > 0 ? v : 0;
}
