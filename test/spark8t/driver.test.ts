import { describe, expect, it } from 'vitest';
import { applicationName, driverOutcome, driverPodName, planDriverWatch } from '../../src/spark8t/wrappers/driver.ts';

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
  it("Failed: the driver container's exit code and one line naming the pod and how to read its log", () => {
    expect(driverOutcome(0, ref, failed(10), ' --context c')).toEqual({
      status: 10,
      message: 'the Spark driver failed: pod ns/pi-0123-driver ended Failed with exit code 10; its log: kubectl logs --context c -n ns pi-0123-driver',
    });
    // Another container first (a sidecar from a pod template): the driver's own code counts.
    const two = {
      status: { phase: 'Failed', containerStatuses: [{ name: 'side', state: { terminated: { exitCode: 0 } } }, ...failed(3).status.containerStatuses] },
    };
    expect(driverOutcome(0, ref, two).status).toBe(3);
  });

  it('Failed with no usable exit code (evicted, never started, exit 0): 1', () => {
    expect(driverOutcome(0, ref, { status: { phase: 'Failed', reason: 'Evicted' } })).toMatchObject({
      status: 1,
      message: expect.stringContaining('ended Failed (Evicted)'),
    });
    expect(driverOutcome(0, ref, failed(undefined)).status).toBe(1);
    expect(driverOutcome(0, ref, failed(0)).status).toBe(1);
  });

  it("keeps Spark's status when the driver succeeded, is not finished, is gone, or Spark itself failed", () => {
    expect(driverOutcome(0, ref, { status: { phase: 'Succeeded' } })).toEqual({ status: 0 });
    expect(driverOutcome(0, ref, { status: { phase: 'Running' } })).toEqual({ status: 0 });
    expect(driverOutcome(0, ref, undefined)).toEqual({ status: 0 });
    expect(driverOutcome(2, ref, failed(10))).toEqual({ status: 2 });
  });
});
