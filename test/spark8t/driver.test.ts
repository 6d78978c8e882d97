import { describe, expect, it } from 'vitest';
import { applicationName, driverOutcome, driverPodName, planDriverWatch, unreadableOutcome } from '../../src/spark8t/wrappers/driver.ts';

/** Our own statuses (README, "spark8t: where it differs"). */
const GONE = 91;
const EVICTED = 92;
const NODE_LOST = 93;
const UNKNOWN = 94;

const ref = { namespace: 'ns', name: 'pi-0123-driver', container: 'spark-kubernetes-driver' };
const failed = (exitCode?: number, name = 'spark-kubernetes-driver') => ({
  status: { phase: 'Failed', containerStatuses: [{ name, state: { terminated: exitCode === undefined ? undefined : { exitCode } } }] },
});

describe('the driver pod of a cluster-mode submission', () => {
  it("is named like Spark's own (<app>-<unique>-driver, a DNS label of at most 63 characters)", () => {
    expect(driverPodName('Spark Pi', 'abc')).toBe('spark-pi-abc-driver');
    expect(driverPodName('9lives__x', 'abc')).toBe('xlives-x-abc-driver');
    expect(driverPodName(undefined, 'abc')).toBe('spark-abc-driver');
    expect(driverPodName('---', 'abc')).toBe('spark-abc-driver');
    const long = driverPodName('a'.repeat(100) + '-b', '0123456789abcdef');
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(driverPodName('x')).toMatch(/^x-[0-9a-f]{16}-driver$/);
  });

  it('takes the application name from --name, spark.app.name, the main class or the resource, skipping option values', () => {
    expect(applicationName(new Map(), ['--name', 'N', '--class', 'a.B', 'app.jar'])).toBe('N');
    expect(applicationName(new Map([['spark.app.name', 'P']]), ['--class', 'a.B', 'app.jar'])).toBe('P');
    expect(applicationName(new Map(), ['--jars', 'x.jar', '--class=org.apache.spark.examples.SparkPi', 'local:///e.jar'])).toBe('SparkPi');
    expect(applicationName(new Map(), ['--jars', 'dep.jar', '--verbose', 'local:///opt/app/job.py', '--name', 'arg'])).toBe('job');
  });

  it('sets spark.kubernetes.driver.pod.name unless the user did; nothing to watch when Spark does not wait or submits nothing', () => {
    const w = planDriverWatch(new Map([['spark.kubernetes.namespace', 'team']]), ['--class', 'x.Pi', 'a.jar'], 'u1');
    expect(w.driver).toEqual({ namespace: 'team', name: 'pi-u1-driver', container: 'spark-kubernetes-driver' });
    expect(w.props.get('spark.kubernetes.driver.pod.name')).toBe('pi-u1-driver');
    const mine = planDriverWatch(
      new Map([
        ['spark.kubernetes.driver.pod.name', 'mine'],
        ['spark.kubernetes.driver.podTemplateContainerName', 'main'],
      ]),
      ['a.jar'],
    );
    expect(mine.driver).toEqual({ namespace: 'default', name: 'mine', container: 'main' });
    const noWait = new Map([['spark.kubernetes.submission.waitAppCompletion', ' False ']]);
    expect(planDriverWatch(noWait, ['a.jar'])).toEqual({ props: noWait });
    expect(planDriverWatch(new Map(), ['--status', 'ns:app*']).driver).toBeUndefined();
    expect(planDriverWatch(new Map(), ['--help']).driver).toBeUndefined();
  });
});

describe('our exit status from the driver pod', () => {
  const logs = 'its log: kubectl logs -n ns pi-0123-driver';
  const term = (exitCode: number, reason: string, phase = 'Failed') => ({
    spec: { nodeName: 'n1' },
    status: { phase, containerStatuses: [{ name: 'spark-kubernetes-driver', state: { terminated: { exitCode, reason } } }] },
  });
  const seen = (pod: object, at = '2026-12-01T10:00:00.000Z') => ({ pod, at: new Date(at) });

  it("Failed: the driver container's exit code and one line naming its termination reason and where its log is", () => {
    expect(driverOutcome(0, ref, term(10, 'Error'), ' --context c')).toEqual({
      status: 10,
      code: 'E_DRIVER_FAILED',
      message: 'the Spark driver failed: pod ns/pi-0123-driver ended Failed with exit code 10 (Error); its log: kubectl logs --context c -n ns pi-0123-driver',
    });
    // Another container first (a sidecar from a pod template): the driver's own code counts.
    const two = {
      status: { phase: 'Failed', containerStatuses: [{ name: 'side', state: { terminated: { exitCode: 0 } } }, ...failed(3).status.containerStatuses] },
    };
    expect(driverOutcome(0, ref, two).status).toBe(3);
  });

  it('OOMKilled: its exit code, and the line names OOMKilled and the settings to raise', () => {
    const o = driverOutcome(0, ref, term(137, 'OOMKilled'));
    expect(o.status).toBe(137);
    expect(o.message).toBe(
      `the Spark driver failed: pod ns/pi-0123-driver ended Failed with exit code 137 (OOMKilled: it went over its memory limit; raise spark.driver.memoryOverhead, or spark.driver.memory); ${logs}`,
    );
  });

  it(`evicted or preempted: ${EVICTED}, with the reason and the message Kubernetes gave`, () => {
    const evicted = { status: { phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' } };
    expect(driverOutcome(0, ref, evicted)).toEqual({
      status: EVICTED,
      code: 'E_DRIVER_EVICTED',
      message: `the Spark driver was evicted: pod ns/pi-0123-driver ended Failed (Evicted: The node was low on resource: memory.); ${logs}`,
    });
    // The container's own end is named too when the kubelet recorded one.
    const withContainer = { ...term(137, 'Error'), status: { ...term(137, 'Error').status, reason: 'Evicted', message: 'low memory' } };
    expect(driverOutcome(0, ref, withContainer)).toMatchObject({
      status: EVICTED,
      code: 'E_DRIVER_EVICTED',
      message: expect.stringContaining('(Evicted: low memory; its container exited with code 137 (Error))'),
    });
    for (const reason of ['EvictionByEvictionAPI', 'TerminationByKubelet', 'PreemptionByScheduler']) {
      const pod = { status: { phase: 'Failed', conditions: [{ type: 'DisruptionTarget', status: 'True', reason, message: 'm' }] } };
      expect(driverOutcome(0, ref, pod).status, reason).toBe(EVICTED);
    }
  });

  it(`the node went away (PodGC, the taint manager, NodeLost): ${NODE_LOST}`, () => {
    const gc = {
      status: {
        phase: 'Failed',
        conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'DeletionByPodGC', message: 'PodGC: node no longer exists' }],
      },
    };
    expect(driverOutcome(0, ref, gc)).toEqual({
      status: NODE_LOST,
      code: 'E_DRIVER_NODE_LOST',
      message: `the Spark driver's node went away: pod ns/pi-0123-driver ended Failed (DeletionByPodGC: PodGC: node no longer exists); ${logs}`,
    });
    const taint = { status: { phase: 'Running', conditions: [{ type: 'DisruptionTarget', status: 'True', reason: 'DeletionByTaintManager' }] } };
    // Deleted afterwards: what was last seen decides.
    expect(driverOutcome(0, ref, undefined, '', seen(taint))).toMatchObject({
      status: NODE_LOST,
      code: 'E_DRIVER_NODE_LOST',
      message: expect.stringContaining('was deleted (DeletionByTaintManager)'),
    });
    expect(driverOutcome(0, ref, { status: { phase: 'Failed', reason: 'NodeLost' } }).status).toBe(NODE_LOST);
  });

  it(`the pod disappeared before a final state was seen: ${GONE}, with what was last seen`, () => {
    const running = {
      spec: { nodeName: 'n1' },
      status: { phase: 'Running', containerStatuses: [{ name: 'spark-kubernetes-driver', state: { running: {} } }] },
    };
    expect(driverOutcome(0, ref, undefined, '', seen(running))).toEqual({
      status: GONE,
      code: 'E_DRIVER_GONE',
      message: 'the Spark driver pod ns/pi-0123-driver disappeared: last seen Running on node n1 at 2026-12-01T10:00:00.000Z; its result is unknown',
    });
    const pulling = { status: { phase: 'Pending', containerStatuses: [{ name: 'spark-kubernetes-driver', state: { waiting: { reason: 'ErrImagePull' } } }] } };
    expect(driverOutcome(0, ref, undefined, '', seen(pulling)).message).toContain('last seen Pending (ErrImagePull) at');
    expect(driverOutcome(0, ref, undefined)).toEqual({
      status: GONE,
      code: 'E_DRIVER_GONE',
      message: 'the Spark driver pod ns/pi-0123-driver disappeared: spark8t never saw it; its result is unknown',
    });
  });

  it('a final state seen before the pod disappeared stands: 0 when the driver had ended with 0, its code when not', () => {
    expect(driverOutcome(0, ref, undefined, '', seen(term(0, 'Completed', 'Succeeded')))).toEqual({ status: 0 });
    expect(driverOutcome(0, ref, undefined, '', seen(term(3, 'Error')))).toMatchObject({ status: 3 });
  });

  it(`0 only when the driver container is known to have ended with 0; otherwise ${UNKNOWN}`, () => {
    expect(driverOutcome(0, ref, term(0, 'Completed', 'Succeeded'))).toEqual({ status: 0 });
    expect(driverOutcome(0, ref, { status: { phase: 'Succeeded' } })).toEqual({
      status: UNKNOWN,
      code: 'E_DRIVER_UNKNOWN',
      message: `the Spark driver's result is unknown: pod ns/pi-0123-driver ended Succeeded without a final state for its container spark-kubernetes-driver; ${logs}`,
    });
    expect(driverOutcome(0, ref, { status: { phase: 'Running' } })).toMatchObject({
      status: UNKNOWN,
      code: 'E_DRIVER_UNKNOWN',
      message: expect.stringContaining('Spark stopped waiting while pod ns/pi-0123-driver was Running'),
    });
    expect(driverOutcome(0, ref, failed(undefined))).toMatchObject({ status: UNKNOWN, message: expect.stringContaining('ended Failed without a final state') });
    expect(driverOutcome(0, ref, failed(0))).toMatchObject({
      status: UNKNOWN,
      code: 'E_DRIVER_UNKNOWN',
      message: expect.stringContaining('ended Failed although its container spark-kubernetes-driver exited with 0'),
    });
  });

  it('the pod unreadable after Spark returned: a final state seen before decides, else the result is unknown', () => {
    expect(unreadableOutcome(ref, seen(term(0, 'Completed', 'Succeeded')), 'connection refused')).toEqual({ status: 0 });
    expect(unreadableOutcome(ref, seen(term(1, 'Error')), 'connection refused').status).toBe(1);
    expect(unreadableOutcome(ref, seen({ status: { phase: 'Running' } }), 'connection refused')).toEqual({
      status: UNKNOWN,
      code: 'E_DRIVER_UNKNOWN',
      message: "the Spark driver's result is unknown: cannot read pod ns/pi-0123-driver (connection refused)",
    });
  });

  it("keeps Spark's status when Spark itself failed", () => {
    expect(driverOutcome(2, ref, failed(10))).toEqual({ status: 2 });
    expect(driverOutcome(1, ref, undefined)).toEqual({ status: 1 });
  });

  it("--status and --kill (and --help, --version) submit nothing: no driver is watched, Spark's status stands", () => {
    for (const a of [['--status', 'ns:app*'], ['--kill', 'ns:app-driver'], ['--kill=ns:x'], ['--version']])
      expect(planDriverWatch(new Map(), a).driver, a.join(' ')).toBeUndefined();
  });
});
