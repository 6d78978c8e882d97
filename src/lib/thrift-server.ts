/**
 * The rock's `thrift-server` pebble service as an administrator runs it for one spark8t account (pure):
 * a pebble layer (ConfigMap) that starts the service instead of `sparkd`, a Deployment whose pod runs
 * as the account's ServiceAccount (Pod Security `restricted`, read-only root, emptyDirs from spark8t's
 * pod template for the metastore and /tmp) and a ClusterIP Service. One server per account: it acts with
 * the account's keys, so sharing it would share them. The password is the account's Secret
 * (`passwordSecret`, key `password`), given to the server by environment only.
 */
import { stringify } from 'yaml';
import { restrictedPod } from './pod-security.ts';

type Json = Record<string, any>;

export const THRIFT_PORT = 10000;

export interface ThriftServerSpec {
  /** The spark8t account (its ServiceAccount) and namespace. */
  username: string;
  namespace: string;
  image: string;
  /** Objects' name (default `thrift-server-<username>`). */
  name?: string;
  /** The Secret holding `password` (default `<name>-auth`); none: THRIFT_SERVER_AUTH=NONE. */
  passwordSecret?: string | null;
  /** spark-submit options after the account's (e.g. `--conf`, `k=v` pairs). */
  submitArgs?: string[];
  resources?: Json;
}

/** The layer that makes `thrift-server` the container's service (as a charm's layer does). */
export const THRIFT_LAYER = stringify({
  summary: 'Spark Thrift JDBC server',
  services: { 'thrift-server': { override: 'merge', startup: 'enabled' }, sparkd: { override: 'merge', startup: 'disabled' } },
});

/** The objects to apply (the Secret is the administrator's: `kubectl create secret generic NAME --from-literal=password=…`). */
export function thriftServerManifests(s: ThriftServerSpec): Json[] {
  const name = s.name ?? `thrift-server-${s.username}`;
  const secret = s.passwordSecret === undefined ? `${name}-auth` : s.passwordSecret;
  const labels = { app: 'thrift-server', 'spark8t-account': s.username, 'app.kubernetes.io/instance': name };
  const layer = `${name}-layer`;
  return [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: layer, namespace: s.namespace, labels }, data: { '002-thrift-server.yaml': THRIFT_LAYER } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: s.namespace, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: restrictedPod({
          metadata: { labels },
          spec: {
            serviceAccountName: s.username,
            containers: [
              {
                name: 'thrift-server',
                image: s.image,
                imagePullPolicy: 'IfNotPresent',
                // pebble with the layer above; the service's arguments go to spark8t's spark-submit
                command: [
                  '/usr/bin/pebble',
                  'enter',
                  '--verbose',
                  '--args',
                  'thrift-server',
                  '--username',
                  s.username,
                  '--namespace',
                  s.namespace,
                  ...(s.submitArgs ?? []),
                  ';',
                ],
                env: [
                  { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
                  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  ...(secret
                    ? [
                        { name: 'THRIFT_SERVER_AUTH', value: 'CUSTOM' },
                        { name: 'THRIFT_SERVER_USER', value: s.username },
                        { name: 'THRIFT_SERVER_PASSWORD', valueFrom: { secretKeyRef: { name: secret, key: 'password' } } },
                      ]
                    : [{ name: 'THRIFT_SERVER_AUTH', value: 'NONE' }]),
                ],
                ports: [{ containerPort: THRIFT_PORT, name: 'jdbc' }],
                readinessProbe: { tcpSocket: { port: THRIFT_PORT }, periodSeconds: 3 },
                resources: s.resources ?? { requests: { cpu: '100m', memory: '768Mi' } },
                volumeMounts: [
                  { name: 'layer', mountPath: '/var/lib/pebble/default/layers/002-thrift-server.yaml', subPath: '002-thrift-server.yaml', readOnly: true },
                ],
              },
            ],
            volumes: [{ name: 'layer', configMap: { name: layer } }],
          },
        }),
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: s.namespace, labels },
      // ClusterIP only: reached from inside the cluster (kubectl port-forward from outside), never a node's port.
      spec: { type: 'ClusterIP', selector: labels, ports: [{ port: THRIFT_PORT, targetPort: THRIFT_PORT, name: 'jdbc' }] },
    },
  ];
}

/** What exposes a server beyond the cluster in OBJECTS (pure): NodePort/LoadBalancer Services, hostPort, hostNetwork. */
export function exposures(objects: Json[]): string[] {
  const out: string[] = [];
  for (const o of objects) {
    const name = `${o.kind}/${o.metadata?.name}`;
    if (o.kind === 'Service' && (o.spec?.type ?? 'ClusterIP') !== 'ClusterIP') out.push(`${name} is ${o.spec.type}`);
    if (o.kind === 'Service' && o.spec?.externalIPs?.length) out.push(`${name} has externalIPs`);
    const pod = o.kind === 'Pod' ? o.spec : o.spec?.template?.spec;
    if (!pod) continue;
    if (pod.hostNetwork) out.push(`${name} uses hostNetwork`);
    for (const c of [...(pod.containers ?? []), ...(pod.initContainers ?? [])])
      for (const p of c.ports ?? []) if (p.hostPort) out.push(`${name} container ${c.name} has hostPort ${p.hostPort}`);
  }
  return out;
}
