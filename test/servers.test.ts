import { describe, expect, it } from 'vitest';
import { exposures, serverLayer, serverManifests } from '../src/lib/servers.ts';
import { checkBeeline, unprompt } from '../src/smoke/jdbc.ts';
import { parse } from 'yaml';
import { resolveLine, serviceOn, validateMatrix } from '../src/config/matrix.ts';
import { connectLine } from '../src/smoke/smoke.ts';
import { checkConnect } from '../src/smoke/connect.ts';
import { fixtureMatrix } from './support/fixture.ts';

const spec = { username: 'ada', namespace: 'team-a', image: 'ghcr.io/canonical/charmed-spark:3.5.9-22.04_edge' };

describe('the Thrift JDBC server for one account (lib/servers.ts)', () => {
  it('a layer, a Deployment whose pod runs as the account with the password from its Secret, a ClusterIP Service', () => {
    const [layer, deploy, svc] = serverManifests('thrift-server', spec);
    expect(layer!.kind).toBe('ConfigMap');
    expect(parse(serverLayer('thrift-server')).services).toEqual({
      'thrift-server': { override: 'merge', startup: 'enabled' },
      sparkd: { override: 'merge', startup: 'disabled' },
    });
    expect(deploy!.metadata).toMatchObject({ name: 'thrift-server-ada', namespace: 'team-a' });
    const pod = deploy!.spec.template.spec;
    expect(pod.serviceAccountName).toBe('ada');
    const c = pod.containers[0];
    expect(c.command.slice(0, 9)).toEqual(['/usr/bin/pebble', 'enter', '--verbose', '--args', 'thrift-server', '--username', 'ada', '--namespace', 'team-a']);
    expect(c.command.at(-1)).toBe(';');
    // the password by reference only, never a value in the spec
    const pw = c.env.find((e: { name: string }) => e.name === 'THRIFT_SERVER_PASSWORD');
    expect(pw).toEqual({ name: 'THRIFT_SERVER_PASSWORD', valueFrom: { secretKeyRef: { name: 'thrift-server-ada-auth', key: 'password' } } });
    expect(c.env).toContainEqual({ name: 'THRIFT_SERVER_USER', value: 'ada' });
    // Pod Security restricted, read-only root, writable emptyDirs (the metastore under /var/lib/spark)
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, runAsNonRoot: true, allowPrivilegeEscalation: false });
    expect(c.volumeMounts.map((m: { mountPath: string }) => m.mountPath)).toEqual(expect.arrayContaining(['/tmp', '/var/lib/spark']));
    expect(pod.volumes.filter((v: { emptyDir?: object }) => v.emptyDir).length).toBeGreaterThanOrEqual(2);
    expect(svc!.spec.type).toBe('ClusterIP');
    expect(svc!.spec.selector).toEqual(deploy!.spec.selector.matchLabels);
    expect(exposures(serverManifests('thrift-server', spec))).toEqual([]);
  });
  it('without a Secret the server is open (NONE), said in its environment', () => {
    const c = serverManifests('thrift-server', { ...spec, credentialSecret: null })[1]!.spec.template.spec.containers[0];
    expect(c.env).toContainEqual({ name: 'THRIFT_SERVER_AUTH', value: 'NONE' });
    expect(c.env.some((e: { name: string }) => e.name === 'THRIFT_SERVER_PASSWORD')).toBe(false);
  });
  it('exposures: a NodePort or LoadBalancer Service, externalIPs, a hostPort, hostNetwork', () => {
    const [, deploy, svc] = serverManifests('thrift-server', spec);
    const open = structuredClone(deploy!);
    open.spec.template.spec.hostNetwork = true;
    open.spec.template.spec.containers[0].ports[0].hostPort = 10000;
    expect(exposures([open, { ...svc, spec: { ...svc!.spec, type: 'NodePort', externalIPs: ['192.0.2.1'] } }])).toEqual([
      'Deployment/thrift-server-ada uses hostNetwork',
      'Deployment/thrift-server-ada container thrift-server has hostPort 10000',
      'Service/thrift-server-ada is NodePort',
      'Service/thrift-server-ada has externalIPs',
    ]);
    expect(exposures([{ kind: 'Pod', metadata: { name: 'p' }, spec: { hostNetwork: true, containers: [] } }])).toEqual(['Pod/p uses hostNetwork']);
  });
});

describe("the JDBC scenario's verdict (smoke/jdbc.ts checkBeeline)", () => {
  const good = ['ROWS 3 3 c', 'SNAPSHOTS 2', 'EXIT-NOPASS 2', 'EXIT-WRONG 2', 'EXIT-OTHERUSER 2', 'HISTORY 6'].join('\n');
  it('all right', () => expect(checkBeeline(good)).toEqual([]));
  it("beeline's prompts before a row are not part of it", () => {
    expect(unprompt('0: jdbc:hive2://127.0.0.1:10000/default> ONE 1\n1: jdbc:hive2://h:1/d> 1: jdbc:hive2://h:1/d> ROWS 3 3 c\nplain')).toBe(
      'ONE 1\nROWS 3 3 c\nplain',
    );
    expect(checkBeeline(good.replace('ROWS', '0: jdbc:hive2://thrift-server-jdbcuser:10000/default> ROWS'))).toEqual([]);
  });
  it('names each thing that went wrong', () => {
    expect(checkBeeline(good.replace('ROWS 3 3 c', 'ROWS 2 2 b').replace('EXIT-WRONG 2', 'EXIT-WRONG 0'))).toEqual([
      'the table read back is not 3 rows with max id 3 and kind c (ROWS 2 2 b)',
      'a client with a wrong password was not refused',
    ]);
    expect(checkBeeline('')).toHaveLength(6);
  });
  it("beeline that cannot keep its history (the passwd entry's home) is named", () => {
    const printed = good.replace('HISTORY 6', '[WARN] Failed to create directory: /nonexistent/.beeline\nNo such file or directory\nHISTORY ');
    expect(checkBeeline(printed)).toEqual([
      'beeline could not keep its history (it tried /nonexistent/.beeline)',
      "beeline's history is not in the rock's home (HISTORY )",
    ]);
  });
});

describe('spark-connect: only on lines whose rock has it', () => {
  const m = fixtureMatrix();
  it('a line that marks it unavailable is refused by name with its evidence; a line that has it is served', () => {
    expect(() => serviceOn(m, '7.1', 'spark-connect')).toThrow(
      /Spark 7\.1's rock has no spark-connect service: the 7\.1\.6 distribution carries no spark-connect_2\.12-7\.1\.6\.jar/,
    );
    expect(serviceOn(m, '8.0', 'spark-connect').line.track).toBe('8.0');
    expect(serviceOn(m, '7.1', 'thrift-server').line.track).toBe('7.1');
    expect(() => serviceOn(m, '9.9', 'spark-connect')).toThrow(/no Spark line "9\.9"/);
  });
  it('the matrix refuses an unavailable service that is no service with `needs`', () => {
    const raw = structuredClone(m);
    raw.lines[0]!.unavailableServices = { 'thrift-server': 'x' };
    expect(() => validateMatrix(raw, 'm')).toThrow(/lines\[0\]\.unavailableServices: thrift-server is no service with `needs`/);
  });
  it('its manifests: the token from the Secret by reference, gRPC on 15002, ClusterIP', () => {
    const [, deploy, svc] = serverManifests('spark-connect', spec);
    const c = deploy!.spec.template.spec.containers[0];
    expect(c.command.slice(3, 5)).toEqual(['--args', 'spark-connect']);
    expect(c.env).toContainEqual({ name: 'SPARK_CONNECT_AUTHENTICATE_TOKEN', valueFrom: { secretKeyRef: { name: 'spark-connect-ada-auth', key: 'token' } } });
    expect(c.ports).toEqual([{ containerPort: 15002, name: 'grpc' }]);
    expect(svc!.spec).toMatchObject({ type: 'ClusterIP', ports: [{ port: 15002, targetPort: 15002, name: 'grpc' }] });
    expect(serverManifests('spark-connect', { ...spec, credentialSecret: null })[1]!.spec.template.spec.containers[0].env).toContainEqual({
      name: 'SPARK_CONNECT_AUTH',
      value: 'NONE',
    });
  });
});

describe('the connect scenarios: where they run and their verdict', () => {
  const m = fixtureMatrix();
  const road = { run: async () => ({ packed: { artifact: 'a.rock' } }) } as never;
  it("on the cell's line when its rock has spark-connect, else on the newest line that has", async () => {
    const loaded: string[] = [];
    const load = async (p: { ref: string }) => loaded.push(p.ref);
    const on72 = connectLine(m, resolveLine(m, { line: '7.2' }), road, load)!;
    expect(on72.track).toBe('8.0');
    expect(await on72.image()).toBe(resolveLine(m, { line: '8.0' }).image.ref);
    expect(loaded).toEqual([resolveLine(m, { line: '8.0' }).image.ref]);
    // its own line's rock is already on the node: not loaded again
    expect(connectLine(m, resolveLine(m, { line: '8.0' }), road, load)!.track).toBe('8.0');
    const none = structuredClone(m);
    for (const l of none.lines) l.unavailableServices = { 'spark-connect': 'no server' };
    expect(connectLine(none, resolveLine(none, { line: '7.2' }), road, load)).toBeUndefined();
  });
  it('checkConnect names what is wrong', () => {
    const good = {
      sessions: 2,
      sum: 499500,
      sql: 42,
      small: 499999500000,
      table: '3 3',
      snapshots: 2,
      a_views: ['only_a'],
      b_views: ['only_b'],
      hosts: ['sc-exec-1/10.0.0.5'],
    };
    expect(checkConnect(good, ['spark-connect-connuser-abc-sc-exec-1'])).toEqual([]);
    expect(checkConnect({ ...good, b_views: ['only_a', 'only_b'] }, ['x-sc-exec-1'])).toEqual([
      'temporary views leak between sessions: A sees ["only_a"], B sees ["only_a","only_b"]',
    ]);
    expect(checkConnect({ ...good, hosts: ['spark-connect-pod/10.0.0.9'] }, ['x-sc-exec-1'])[0]).toMatch(
      /^tasks ran on spark-connect-pod, not on the server's executor pods/,
    );
    expect(checkConnect({ ...good, small: 1 }, ['x-sc-exec-1'])).toEqual(['SELECT sum(id) AS s FROM range(1000000) gave 1, not 499999500000']);
  });
});
