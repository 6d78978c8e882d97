/**
 * The rock's servers (pebble services `thrift-server`, `spark-connect`) as an administrator runs one for
 * one spark8t account (pure): a pebble layer (ConfigMap) that starts the service instead of `sparkd`, a
 * Deployment whose pod runs as the account's ServiceAccount (Pod Security `restricted`, read-only root,
 * emptyDirs from spark8t's pod template for /tmp and /var/lib/spark) and a ClusterIP Service. One server
 * per account: it acts with the account's keys, so sharing it would share them. The credential is the
 * account's Secret (`credentialSecret`), given to the server by environment only.
 */
import { stringify } from 'yaml';
import { restrictedPod } from './pod-security.ts';

type Json = Record<string, any>;

/** What differs between the servers: port, the Secret's key, and the environment of each mode. */
export interface ServerKind {
  port: number;
  portName: string;
  /** The key of the account's Secret that holds the credential. */
  secretKey: string;
  /** Environment with the credential (by reference). */
  authEnv: (secret: string, username: string) => Json[];
  /** Environment without one: anyone who reaches the Service is let in. */
  openEnv: Json[];
  summary: string;
}

export const SERVERS = {
  'thrift-server': {
    port: 10000,
    portName: 'jdbc',
    secretKey: 'password',
    authEnv: (secret, username) => [
      { name: 'THRIFT_SERVER_AUTH', value: 'CUSTOM' },
      { name: 'THRIFT_SERVER_USER', value: username },
      { name: 'THRIFT_SERVER_PASSWORD', valueFrom: { secretKeyRef: { name: secret, key: 'password' } } },
    ],
    openEnv: [{ name: 'THRIFT_SERVER_AUTH', value: 'NONE' }],
    summary: 'Spark Thrift JDBC server',
  },
  'spark-connect': {
    port: 15002,
    portName: 'grpc',
    secretKey: 'token',
    authEnv: (secret) => [
      { name: 'SPARK_CONNECT_AUTH', value: 'TOKEN' },
      { name: 'SPARK_CONNECT_AUTHENTICATE_TOKEN', valueFrom: { secretKeyRef: { name: secret, key: 'token' } } },
    ],
    openEnv: [{ name: 'SPARK_CONNECT_AUTH', value: 'NONE' }],
    summary: 'Spark Connect server',
  },
} satisfies Record<string, ServerKind>;
export type ServerName = keyof typeof SERVERS;
export const THRIFT_PORT = SERVERS['thrift-server'].port;
export const CONNECT_PORT = SERVERS['spark-connect'].port;

export interface ServerSpec {
  /** The spark8t account (its ServiceAccount) and namespace. */
  username: string;
  namespace: string;
  image: string;
  /** Objects' name (default `<server>-<username>`). */
  name?: string;
  /** The Secret holding the credential (default `<name>-auth`); null: no authentication. */
  credentialSecret?: string | null;
  /** spark-submit options after the account's (e.g. `--conf`, `k=v` pairs). */
  submitArgs?: string[];
  resources?: Json;
}

/** The layer that makes SERVER the container's service (as a charm's layer does). */
export const serverLayer = (server: ServerName) =>
  stringify({
    summary: SERVERS[server].summary,
    services: { [server]: { override: 'merge', startup: 'enabled' }, sparkd: { override: 'merge', startup: 'disabled' } },
  });

/** The objects to apply (the Secret is the administrator's: `kubectl create secret generic NAME --from-file=<key>=…`). */
export function serverManifests(server: ServerName, s: ServerSpec): Json[] {
  const kind = SERVERS[server];
  const name = s.name ?? `${server}-${s.username}`;
  const secret = s.credentialSecret === undefined ? `${name}-auth` : s.credentialSecret;
  const labels = { app: server, 'spark8t-account': s.username, 'app.kubernetes.io/instance': name };
  const layer = `${name}-layer`;
  const layerFile = `002-${server}.yaml`;
  return [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: layer, namespace: s.namespace, labels }, data: { [layerFile]: serverLayer(server) } },
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
                name: server,
                image: s.image,
                imagePullPolicy: 'IfNotPresent',
                // pebble with the layer above; the service's arguments go to spark8t's spark-submit
                command: [
                  '/usr/bin/pebble',
                  'enter',
                  '--verbose',
                  '--args',
                  server,
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
                  ...(secret ? kind.authEnv(secret, s.username) : kind.openEnv),
                ],
                ports: [{ containerPort: kind.port, name: kind.portName }],
                readinessProbe: { tcpSocket: { port: kind.port }, periodSeconds: 3 },
                resources: s.resources ?? { requests: { cpu: '100m', memory: '768Mi' } },
                volumeMounts: [{ name: 'layer', mountPath: `/var/lib/pebble/default/layers/${layerFile}`, subPath: layerFile, readOnly: true }],
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
      spec: { type: 'ClusterIP', selector: labels, ports: [{ port: kind.port, targetPort: kind.port, name: kind.portName }] },
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
