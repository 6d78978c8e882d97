/**
 * Class-data sharing's checks on a JVM's class loads (pure): what the node scenario `cds 1` reads from
 * the driver's and the executor's `-Xlog:class+load` output.
 */
import { describe, expect, it } from 'vitest';
import { checkLoads, classLoads } from '../src/smoke/cds.ts';

const line = (t: string, name: string, source: string) => `2026-12-07T22:00:00.000Z [sparkd] [${t}s][info][class,load] ${name} source: ${source}`;

describe('class loads of -Xlog:class+load', () => {
  const log = [
    line('0.011', 'java.lang.Object', 'shared objects file'),
    line('0.248', 'org.apache.spark.SparkContext', 'shared objects file'),
    line('0.250', 'org.apache.spark.util.Utils', 'shared objects file (top)'),
    'Pi is roughly 3.14',
    line('1.900', 'org.apache.spark.scheduler.TaskSetManager', 'jar:file:/opt/spark/jars/spark-core_2.13-4.1.4.jar!/'),
    line('2.500', 'org.apache.spark.SparkContext', 'file:/opt/spark/jars/spark-core_2.13-4.1.4.jar'),
  ].join('\n');
  it('reads each class once, at its first load, with its uptime and whether an archive held it', () => {
    const m = classLoads(log);
    expect(m.size).toBe(4);
    expect(m.get('org.apache.spark.SparkContext')).toEqual({ uptime: 0.248, shared: true });
    expect(m.get('org.apache.spark.util.Utils')).toEqual({ uptime: 0.25, shared: true });
    expect(m.get('org.apache.spark.scheduler.TaskSetManager')).toEqual({ uptime: 1.9, shared: false });
  });
  it('a driver with the archive must take most Spark classes from it; without it, none', () => {
    expect(checkLoads('driver', classLoads(log), true)).toEqual([]);
    expect(checkLoads('driver', classLoads(log), false)).toEqual(['with SPARK_CDS=off the driver still took 2 Spark classes from an archive']);
    const fromJars = log.replaceAll('shared objects file', 'jrt:/java.base');
    expect(checkLoads('driver', classLoads(fromJars), true)).toEqual(['the driver took 0 of its 3 Spark classes from the archive']);
    expect(checkLoads('executor', classLoads(log), true)).toEqual([
      'the executor never loaded org.apache.spark.rpc.netty.NettyRpcEnv',
      'the executor never loaded org.apache.spark.executor.Executor',
    ]);
  });
});
