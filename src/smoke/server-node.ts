/**
 * One of the rock's servers (lib/servers.ts) on the local node for an account of its own, as the JDBC
 * and Connect scenarios use it: the account with its s3a settings and an Iceberg catalog `lake` on a
 * bucket of its own (so its scenarios depend on no other), its credential in a Secret, the server's
 * Deployment and ClusterIP Service applied, and the pod Ready (its port open); and taking it all down.
 */
import { readFileSync } from 'node:fs';
import { s3Request } from '../lib/s3.ts';
import { registerSecret } from '../lib/secrets.ts';
import { SERVERS, type ServerName, serverManifests } from '../lib/servers.ts';
import type { LocalCluster } from '../lib/cluster.ts';
import type { CheckFailed } from './checks.ts';
import { type DataContext, s3AccountOnNode } from './data.ts';
import { scenarioFailures, SMALL, sleep, type Json } from './kube.ts';
import type { AccountRef } from './s3.ts';

export interface ServerOnNode {
  /** The Deployment's and Service's name. */
  name: string;
  /** The server's pod (the driver: its executors are owned by it). */
  pod: string;
  /** Deployment applied → pod Ready, seconds. */
  seconds: number;
  objects: Json[];
}

export interface ServerScenarioKit {
  /** Start (once) and wait for the server; its pod. */
  serve: () => Promise<ServerOnNode>;
  /** Everything printed so far (checked for the credential). */
  outputs: string[];
  /** A failure with the namespace's diagnosis, masked. */
  fail: (what: string, log?: string) => Promise<CheckFailed>;
  /** Run a step: any error becomes such a failure. */
  guard: <T>(fn: () => Promise<T>) => Promise<T>;
  /** The server's executor pods. */
  executors: (pod: string) => Promise<Json[]>;
  /** Delete the server (its executors go with its pod) and wait until they are gone. */
  remove: () => Promise<void>;
}

/** The bucket of SERVER's scenarios in namespace NS (dropServerBucket drops it). */
export const serverBucket = (ns: string, server: ServerName) => `${ns}-${server}`;

export function serverOnNode(
  d: DataContext,
  o: { server: ServerName; user: string; credential: string; image?: () => Promise<string>; what: string; conf?: string[] },
): ServerScenarioKit {
  const { k, ns } = d;
  const bucket = serverBucket(ns, o.server);
  const account: AccountRef = { username: o.user, namespace: ns };
  const outputs: string[] = [];
  const { fail, guard } = scenarioFailures(k, ns, 40);

  registerSecret(o.credential);
  let started: Promise<ServerOnNode> | undefined;
  let name = `${o.server}-${o.user}`;

  const serve = () =>
    (started ??= (async () => {
      const { c } = await s3AccountOnNode(d, bucket, account, outputs);
      const catalog = [
        'spark.sql.extensions=org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions',
        'spark.sql.catalog.lake=org.apache.iceberg.spark.SparkCatalog',
        'spark.sql.catalog.lake.type=hadoop',
        `spark.sql.catalog.lake.warehouse=s3a://${bucket}/iceberg`,
      ];
      const r = await c.where.run(
        `spark-client.service-account-registry add-config --username ${o.user} --namespace ${ns} ${catalog.map((x) => `--conf ${x}`).join(' ')}`,
        {},
        180_000,
        { admin: true },
      );
      if (r.exitCode !== 0) throw await fail('add-config of the Iceberg catalog failed', r.output);
      const image = o.image ? await o.image() : d.imageRef;
      const objects = serverManifests(o.server, {
        username: o.user,
        namespace: ns,
        image,
        submitArgs: [...SMALL, ...(o.conf ?? ['spark.executor.instances=1']).flatMap((c) => ['--conf', c])],
      });
      name = objects[1]!.metadata.name as string;
      await k.create([
        { apiVersion: 'v1', kind: 'Secret', metadata: { name: `${name}-auth`, namespace: ns }, stringData: { [SERVERS[o.server].secretKey]: o.credential } },
      ]);
      const t0 = Date.now();
      await k.apply(objects);
      const until = Date.now() + 480_000;
      for (;;) {
        const pod = (await k.pods(ns, `app.kubernetes.io/instance=${name}`))[0];
        const ready = pod?.status?.conditions?.some((x: Json) => x.type === 'Ready' && x.status === 'True');
        if (pod && ready) return { name, pod: pod.metadata.name as string, seconds: (Date.now() - t0) / 1000, objects };
        const exited = pod?.status?.containerStatuses?.[0]?.state?.terminated ?? pod?.status?.containerStatuses?.[0]?.lastState?.terminated;
        if (exited || Date.now() > until)
          throw await fail(
            `${o.what}'s pod ${pod?.metadata?.name ?? '(none)'} ${exited ? 'exited' : 'did not listen in 480 s'}`,
            pod ? await k.logs(ns, pod.metadata.name, 60) : '',
          );
        await sleep(3000);
      }
    })());

  const executors = async (pod: string) =>
    (await k.pods(ns, 'spark-role=executor')).filter((p) => p.metadata.ownerReferences?.some((x: Json) => x.name === pod));

  const remove = async () => {
    const pod = started ? await started.then((s) => s.pod).catch(() => undefined) : undefined;
    // gone before scenario 7 checks that no pod runs (the executors are the server pod's)
    await k.run(['-n', ns, 'delete', 'deployment', name, '--cascade=foreground', '--ignore-not-found', '--timeout=120s'], { reject: false });
    await k.run(['-n', ns, 'delete', `service/${name}`, `configmap/${name}-layer`, `secret/${name}-auth`, '--ignore-not-found', '--wait=false'], {
      reject: false,
    });
    for (let i = 0; pod && i < 60 && (await executors(pod)).length; i++) await sleep(2000);
  };

  return { serve, outputs, fail, guard, executors, remove };
}

/** Drop the buckets of the server scenarios of namespace NS. */
export async function dropServerBuckets(c: LocalCluster, ns: string): Promise<void> {
  if (!c.s3) return;
  const secret = readFileSync(c.s3.secretKeyFile, 'utf8').trim();
  for (const server of Object.keys(SERVERS) as ServerName[])
    await s3Request({ ...c.s3, secret }, 'DELETE', `/${serverBucket(ns, server)}`).catch(() => undefined);
}
