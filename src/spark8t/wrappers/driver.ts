/**
 * Cluster mode: the driver's final state is the job's result. Spark 3.5's own spark-submit waits
 * for the driver pod to finish and then exits 0 whatever the pod's phase (it only logs the final
 * container statuses), and also when the pod is deleted under it, so a scheduler never sees a failed
 * or lost job. We name the driver pod ourselves (unless the user did), read it while Spark waits and
 * once Spark has finished, and exit 0 only when its container is known to have ended with 0.
 * Pure functions here; the requests are made by run.ts.
 */
import { randomBytes } from 'node:crypto';
import type { Props } from '../conf/properties.ts';
import { SPARK_FLAGS } from './args.ts';
import { ERRORS } from '../../lib/error-catalog.ts';

export const DRIVER_POD_NAME = 'spark.kubernetes.driver.pod.name';
export const WAIT_APP_COMPLETION = 'spark.kubernetes.submission.waitAppCompletion';
const TEMPLATE_CONTAINER = 'spark.kubernetes.driver.podTemplateContainerName';
/** Spark's name for the driver container when no pod template names another. */
const DEFAULT_CONTAINER = 'spark-kubernetes-driver';

export interface DriverRef {
  namespace: string;
  name: string;
  container: string;
}

/**
 * The application's name as Spark takes it for a cluster-mode submission: `--name`, else
 * spark.app.name, else the main class, else the primary resource's file name.
 */
export function applicationName(props: Props, rest: readonly string[]): string | undefined {
  let name: string | undefined;
  let mainClass: string | undefined;
  let resource: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const value = () => (eq > 0 ? a.slice(eq + 1) : rest[++i]);
    if (flag === '--name') name = value();
    else if (flag === '--class') mainClass = value();
    else if (a === '--') break;
    else if (!a.startsWith('-') || a === '-') {
      resource = a;
      break;
    } else if (!SPARK_FLAGS.has(a) && eq < 0) i++; // another option's value
  }
  const file = resource?.split('/').pop();
  return name ?? props.get('spark.app.name') ?? mainClass?.split('.').pop() ?? file?.replace(/\.[^.]*$/, '');
}

/** False for `--help`, `--version`, `--kill` and `--status`: Spark then starts no driver. */
export function submitsApplication(rest: readonly string[]): boolean {
  for (const a of rest) {
    if (a === '--' || (!a.startsWith('-') && a !== '')) return true;
    if (['--help', '-h', '--version', '--kill', '--status'].includes(a.split('=')[0]!)) return false;
  }
  return true;
}

/**
 * A driver pod name in Spark's own form (`<app>-<unique>-driver`, lower-case DNS label), kept to 63
 * characters so that it is also valid where Spark uses it as a label value or host name.
 */
export function driverPodName(appName: string | undefined, unique: string = randomBytes(8).toString('hex')): string {
  const tail = `-${unique}-driver`;
  const base = (appName ?? '')
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-+/, '')
    .replace(/^[0-9]/, 'x');
  const head = base.slice(0, 63 - tail.length).replace(/-+$/, '') || 'spark';
  return head + tail;
}

/**
 * For a cluster-mode submission that waits for the application (Spark's default): the driver pod
 * to read afterwards, and the properties with its name set when the user did not set one.
 * Undefined driver when Spark does not wait: there is no final state to read then.
 */
export function planDriverWatch(props: Props, rest: readonly string[], unique?: string): { props: Props; driver?: DriverRef } {
  if ((props.get(WAIT_APP_COMPLETION) ?? 'true').trim().toLowerCase() === 'false') return { props };
  if (!submitsApplication(rest)) return { props };
  let name = props.get(DRIVER_POD_NAME)?.trim();
  let out = props;
  if (!name) {
    name = driverPodName(applicationName(props, rest), unique);
    out = new Map(props).set(DRIVER_POD_NAME, name);
  }
  const namespace = props.get('spark.kubernetes.namespace')?.trim() || 'default';
  const container = props.get(TEMPLATE_CONTAINER)?.trim() || DEFAULT_CONTAINER;
  return { props: out, driver: { namespace, name, container } };
}

/** The parts of a pod this decision reads. */
export interface ContainerState {
  name: string;
  state?: { terminated?: { exitCode?: number; reason?: string }; waiting?: { reason?: string }; running?: object };
}
export interface PodState {
  spec?: { nodeName?: string };
  status?: {
    phase?: string;
    reason?: string;
    message?: string;
    conditions?: Array<{ type: string; status?: string; reason?: string; message?: string }>;
    containerStatuses?: ContainerState[];
  };
}

/** The pod as the wrapper last read it while Spark ran, and when. */
export interface Seen {
  pod: PodState;
  at: Date;
}

/**
 * Our own exit statuses for a driver whose result is not its container's exit code (README,
 * "spark8t: where it differs"). A driver container that exited non-zero gives its own code.
 */
export const DRIVER_STATUS = {
  /** The pod disappeared (deleted) before a final state of the driver container was seen. */
  gone: ERRORS['E_DRIVER_GONE'].exit,
  /** Evicted by the kubelet (node pressure) or the Eviction API, or preempted. */
  evicted: ERRORS['E_DRIVER_EVICTED'].exit,
  /** Its node went away: PodGC (node deleted), the taint manager (node unreachable), NodeLost. */
  nodeLost: ERRORS['E_DRIVER_NODE_LOST'].exit,
  /** Spark stopped waiting, but the driver container is not known to have ended with 0. */
  unknown: ERRORS['E_DRIVER_UNKNOWN'].exit,
} as const;

export interface Outcome {
  status: number;
  /** One line for the user (without the `error: ` prefix), when the driver failed. */
  message?: string;
  /** Its row in the error catalog (src/lib/error-catalog.ts, the README's table). */
  code?: 'E_DRIVER_FAILED' | 'E_DRIVER_GONE' | 'E_DRIVER_EVICTED' | 'E_DRIVER_NODE_LOST' | 'E_DRIVER_UNKNOWN';
}

const EVICTION_REASONS = new Set(['EvictionByEvictionAPI', 'TerminationByKubelet', 'PreemptionByScheduler', 'PreemptionByKubeScheduler']);
const NODE_LOST_REASONS = new Set(['DeletionByPodGC', 'DeletionByTaintManager']);

/** Why Kubernetes ended the pod from outside (not the driver's own exit), if it did. */
function disruption(pod: PodState): { kind: 'evicted' | 'nodeLost'; why: string } | undefined {
  const st = pod.status ?? {};
  const cond = st.conditions?.find((c) => c.type === 'DisruptionTarget' && c.status !== 'False' && c.reason);
  const text = (reason: string, message?: string) => (message ? `${reason}: ${message}` : reason);
  if (st.reason === 'NodeLost') return { kind: 'nodeLost', why: text(st.reason, st.message) };
  if (cond && NODE_LOST_REASONS.has(cond.reason!)) return { kind: 'nodeLost', why: text(cond.reason!, cond.message) };
  if (st.reason === 'Evicted' || st.reason === 'Preempting') return { kind: 'evicted', why: text(st.reason, st.message) };
  if (cond && EVICTION_REASONS.has(cond.reason!)) return { kind: 'evicted', why: text(cond.reason!, cond.message) };
  return undefined;
}

/** What a terminated container's reason asks of the user. */
function reasonText(reason: string | undefined): string {
  if (reason === 'OOMKilled') return 'OOMKilled: it went over its memory limit; raise spark.driver.memoryOverhead, or spark.driver.memory';
  return reason ?? 'no reason given';
}

/** The phase, with a container's waiting reason (ErrImagePull) and the node, for "last seen". */
function describeState(pod: PodState, c: ContainerState | undefined): string {
  const waiting = c?.state?.waiting?.reason;
  const node = pod.spec?.nodeName;
  return `${pod.status?.phase ?? 'without a phase'}${waiting ? ` (${waiting})` : ''}${node ? ` on node ${node}` : ''}`;
}

/**
 * Our exit status from Spark's and the driver pod's final state. Spark's status stands when it is
 * not 0 (the submission itself failed). Otherwise 0 only when the driver container is known to have
 * ended with 0 (in a pod not Failed); a container that exited non-zero gives its own code; the
 * statuses of DRIVER_STATUS the rest. `pod` is the pod read after Spark returned (undefined: gone);
 * `seen`, the last state read while Spark ran. One line says what was seen.
 */
export function driverOutcome(sparkStatus: number, ref: DriverRef, pod: PodState | undefined, kubectlArgs = '', seen?: Seen): Outcome {
  if (sparkStatus !== 0) return { status: sparkStatus };
  const p = pod ?? seen?.pod;
  const id = `${ref.namespace}/${ref.name}`;
  const logs = `its log: kubectl logs${kubectlArgs} -n ${ref.namespace} ${ref.name}`;
  if (!p)
    return {
      status: DRIVER_STATUS.gone,
      code: 'E_DRIVER_GONE',
      message: `the Spark driver pod ${id} disappeared: spark8t never saw it; its result is unknown`,
    };
  const phase = p.status?.phase;
  const statuses = p.status?.containerStatuses ?? [];
  const c = statuses.find((s) => s.name === ref.container) ?? statuses[0];
  const term = c?.state?.terminated;
  const code = typeof term?.exitCode === 'number' ? term.exitCode : undefined;
  const ended = pod ? `ended ${phase ?? 'without a phase'}` : 'was deleted';
  const d = disruption(p);
  if (d) {
    const container = code !== undefined && code > 0 ? `; its container exited with code ${code} (${reasonText(term?.reason)})` : '';
    const what = d.kind === 'evicted' ? 'the Spark driver was evicted' : "the Spark driver's node went away";
    return {
      status: DRIVER_STATUS[d.kind],
      code: d.kind === 'evicted' ? 'E_DRIVER_EVICTED' : 'E_DRIVER_NODE_LOST',
      message: `${what}: pod ${id} ${ended} (${d.why}${container}); ${logs}`,
    };
  }
  if (code !== undefined && code > 0) {
    return {
      status: Math.min(code, 255),
      code: 'E_DRIVER_FAILED',
      message: `the Spark driver failed: pod ${id} ${ended} with exit code ${code} (${reasonText(term?.reason)}); ${logs}`,
    };
  }
  if (code === 0 && phase !== 'Failed') return { status: 0 };
  if (!pod) {
    return {
      status: DRIVER_STATUS.gone,
      code: 'E_DRIVER_GONE',
      message: `the Spark driver pod ${id} disappeared: last seen ${describeState(p, c)} at ${seen!.at.toISOString()}; its result is unknown`,
    };
  }
  const unknown = (what: string): Outcome => ({
    status: DRIVER_STATUS.unknown,
    code: 'E_DRIVER_UNKNOWN',
    message: `the Spark driver's result is unknown: ${what}; ${logs}`,
  });
  if (phase !== 'Failed' && phase !== 'Succeeded') return unknown(`Spark stopped waiting while pod ${id} was ${describeState(p, c)}`);
  if (code === 0) return unknown(`pod ${id} ended Failed although its container ${c!.name} exited with 0`);
  return unknown(`pod ${id} ended ${phase} without a final state for its container ${c?.name ?? ref.container}`);
}

/**
 * The pod could not be read after Spark returned: a final state seen while it ran (the driver
 * container terminated) still decides; otherwise the result is unknown.
 */
export function unreadableOutcome(ref: DriverRef, seen: Seen | undefined, why: string, kubectlArgs = ''): Outcome {
  const c = seen?.pod.status?.containerStatuses?.find((s) => s.name === ref.container);
  if (seen && c?.state?.terminated) return driverOutcome(0, ref, seen.pod, kubectlArgs);
  return {
    status: DRIVER_STATUS.unknown,
    code: 'E_DRIVER_UNKNOWN',
    message: `the Spark driver's result is unknown: cannot read pod ${ref.namespace}/${ref.name} (${why})`,
  };
}
