/**
 * kubectl for the scenarios on the local node, and the pods they run from the rock.
 */
import { execa } from 'execa';
import { stringify } from 'yaml';
import type { LocalCluster } from '../lib/cluster.ts';
import { CheckFailed, tail } from './checks.ts';
import { mask } from '../lib/secrets.ts';
import { restrictedPod } from '../lib/pod-security.ts';

export type Json = Record<string, any>;

export class Kube {
  /** A cluster, or how to get it (the scenarios are listed before the cluster has started). */
  constructor(private readonly src: LocalCluster | (() => LocalCluster)) {}
  get c(): LocalCluster {
    return typeof this.src === 'function' ? this.src() : this.src;
  }
  async run(args: string[], opts: { input?: string; reject?: boolean } = {}) {
    return execa(this.c.kubectlPath, ['--kubeconfig', this.c.adminKubeconfig, ...args], { input: opts.input, reject: opts.reject ?? true });
  }
  async json(args: string[]): Promise<Json> {
    return JSON.parse((await this.run([...args, '-o', 'json'])).stdout);
  }
  async apply(objects: Json[]) {
    await this.run(['apply', '-f', '-'], { input: objects.map((o) => stringify(o)).join('---\n') });
  }
  /** kubectl create: for Secrets (apply would copy their data into an annotation). */
  async create(objects: Json[]) {
    await this.run(['create', '-f', '-'], { input: objects.map((o) => stringify(o)).join('---\n') });
  }
  async pods(ns: string, selector?: string): Promise<Json[]> {
    return (await this.json(['-n', ns, 'get', 'pods', ...(selector ? ['-l', selector] : [])])).items;
  }
  /** The executor pods of DRIVER's application (its spark-app-selector label); none without a driver or label. */
  async executorsOf(ns: string, driver: Json | undefined): Promise<Json[]> {
    const app = driver?.metadata?.labels?.['spark-app-selector'];
    return app ? this.pods(ns, `spark-app-selector=${app},spark-role=executor`) : [];
  }
  async logs(ns: string, pod: string, lines = 40): Promise<string> {
    return (await this.run(['-n', ns, 'logs', pod, `--tail=${lines}`], { reject: false })).stdout;
  }
  /** Wait until the pod ends (Succeeded or Failed); its phase and log. */
  async waitDone(ns: string, pod: string, seconds: number): Promise<{ phase: string; log: string }> {
    const until = Date.now() + seconds * 1000;
    let phase = 'Unknown';
    while (Date.now() < until) {
      const p = await this.json(['-n', ns, 'get', 'pod', pod]).catch(() => undefined);
      phase = p?.status?.phase ?? 'Unknown';
      if (phase === 'Succeeded' || phase === 'Failed') break;
      await sleep(1000);
    }
    return { phase, log: (await this.run(['-n', ns, 'logs', pod], { reject: false })).stdout };
  }
  /**
   * Wait until the pod runs with an address and READY (given its log) holds: its address; or its phase
   * when it ended first, or 'timeout'.
   */
  async waitRunning(
    ns: string,
    pod: string,
    seconds: number,
    ready?: (log: string) => boolean,
  ): Promise<{ ip: string; phase: 'Running' } | { ip?: undefined; phase: string }> {
    const until = Date.now() + seconds * 1000;
    while (Date.now() < until) {
      const p = await this.json(['-n', ns, 'get', 'pod', pod]).catch(() => undefined);
      const phase = p?.status?.phase;
      if (phase === 'Succeeded' || phase === 'Failed') return { phase };
      if (phase === 'Running' && p?.status?.podIP && (!ready || ready(await this.logs(ns, pod, 100)))) return { ip: p.status.podIP, phase };
      await sleep(1000);
    }
    return { phase: 'timeout' };
  }
  /** What a failed scenario shows: pod phases, the namespace's events, the drivers' and executors' last lines. */
  async diagnose(ns: string): Promise<string> {
    const out: string[] = [];
    try {
      const pods = await this.pods(ns);
      out.push(
        'pods:',
        ...pods.map(
          (p) => `  ${p.metadata.name} ${p.status?.phase} ${(p.status?.containerStatuses ?? []).map((s: Json) => JSON.stringify(s.state)).join(' ')}`,
        ),
      );
      const ev = await this.run(['-n', ns, 'get', 'events', '--sort-by=.lastTimestamp'], { reject: false });
      out.push('events:', tail(ev.stdout, 20));
      for (const p of pods) {
        const role = p.metadata.labels?.['spark-role'] ?? 'pod';
        out.push(`--- ${role} ${p.metadata.name}:`, tail(await this.logs(ns, p.metadata.name, 15), 15));
      }
    } catch (e) {
      out.push(`(diagnostics failed: ${(e as Error).message})`);
    }
    return out.join('\n');
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * How a group of scenarios in namespace NS fails: `fail` is a CheckFailed with the last LINES lines (tail's default when none) of a
 * log and the namespace's diagnosis, both masked; `guard` runs a step and turns any other error into one.
 */
export function scenarioFailures(k: Kube, ns: string, lines?: number) {
  const fail = async (what: string, log = '', n: number | undefined = lines) =>
    new CheckFailed(mask(what), mask(`${log ? `${tail(log, n)}\n` : ''}${await k.diagnose(ns)}`));
  const guard = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof CheckFailed) throw e;
      throw await fail((e as Error).message);
    }
  };
  return { fail, guard };
}

/** A pod running the rock with COMMAND in bash; restartPolicy Never. */
export function rockPod(
  name: string,
  ns: string,
  image: string,
  script: string,
  o: {
    serviceAccount?: string;
    configMap?: string;
    secret?: string;
    env?: Json[];
    pullPolicy?: 'Always' | 'IfNotPresent';
    runAs?: { uid: number; gid: number };
  } = {},
): Json {
  // files: a ConfigMap at /files, or a Secret at /work (what may hold credentials)
  const mounts = [
    ...(o.configMap ? [{ name: 'files', mountPath: '/files' }] : []),
    ...(o.secret ? [{ name: 'work', mountPath: '/work', readOnly: true }] : []),
  ];
  const volumes = [
    ...(o.configMap ? [{ name: 'files', configMap: { name: o.configMap } }] : []),
    ...(o.secret ? [{ name: 'work', secret: { secretName: o.secret } }] : []),
  ];
  // Pod Security `restricted` and a read-only root, as spark8t gives Spark's pods (the scenarios' namespace enforces it).
  return restrictedPod({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels: { app: 'sparkcraft-scenario' } },
    spec: {
      restartPolicy: 'Never',
      serviceAccountName: o.serviceAccount ?? 'default',
      ...(o.runAs ? { securityContext: { runAsUser: o.runAs.uid, runAsGroup: o.runAs.gid } } : {}),
      containers: [
        {
          name: 'main',
          image,
          imagePullPolicy: o.pullPolicy ?? 'IfNotPresent',
          command: ['/bin/bash', '-c', script],
          env: [{ name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }, ...(o.env ?? [])],
          resources: { requests: { cpu: '100m', memory: '256Mi' } },
          ...(mounts.length ? { volumeMounts: mounts } : {}),
        },
      ],
      ...(volumes.length ? { volumes } : {}),
    },
  });
}

/** Confs every submission uses: small requests so two jobs fit on 2 cores. */
export const SMALL = [
  '--conf',
  'spark.kubernetes.driver.request.cores=100m',
  '--conf',
  'spark.kubernetes.executor.request.cores=100m',
  '--conf',
  'spark.driver.memory=512m',
  '--conf',
  'spark.executor.memory=512m',
];
