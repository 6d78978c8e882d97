/**
 * Cluster mode: the driver's final state is the job's result. Spark 3.5's own spark-submit waits
 * for the driver pod to finish and then exits 0 whatever the pod's phase (it only logs the final
 * container statuses), so a scheduler never sees a failed job. We name the driver pod ourselves
 * (unless the user did), and once Spark has finished waiting we read that pod and exit with its
 * result. Pure functions here; the request is made by run.ts.
 */
import { randomBytes } from 'node:crypto';
import type { Props } from '../conf/properties.ts';
import { SPARK_FLAGS } from './args.ts';

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
export interface PodState {
  status?: {
    phase?: string;
    reason?: string;
    containerStatuses?: Array<{ name: string; state?: { terminated?: { exitCode?: number; reason?: string } } }>;
  };
}

export interface Outcome {
  status: number;
  /** One line for the user (without the `error: ` prefix), when the driver failed. */
  message?: string;
}

/**
 * Our exit status from Spark's and the driver pod's final state. Spark's status stands when it is
 * not 0 (the submission itself failed), when the pod is gone or not finished (nothing to add), and
 * when the driver Succeeded. A Failed driver gives its container's exit code, or 1 when none is
 * known (an evicted pod, a container that never ran, or one that exited 0 in a pod marked Failed).
 */
export function driverOutcome(sparkStatus: number, ref: DriverRef, pod: PodState | undefined, kubectlArgs = ''): Outcome {
  if (sparkStatus !== 0 || !pod || pod.status?.phase !== 'Failed') return { status: sparkStatus };
  const statuses = pod.status.containerStatuses ?? [];
  const c = statuses.find((s) => s.name === ref.container) ?? statuses[0];
  const code = c?.state?.terminated?.exitCode;
  const status = typeof code === 'number' && code > 0 ? Math.min(code, 255) : 1;
  const why = typeof code === 'number' && code > 0 ? `with exit code ${code}` : `(${pod.status.reason ?? c?.state?.terminated?.reason ?? 'no exit code'})`;
  const logs = `kubectl logs${kubectlArgs} -n ${ref.namespace} ${ref.name}`;
  return { status, message: `the Spark driver failed: pod ${ref.namespace}/${ref.name} ended Failed ${why}; its log: ${logs}` };
}
