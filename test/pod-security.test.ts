/**
 * spark8t's pod templates (src/lib/pod-security.ts): what `restricted` asks of Spark's pods,
 * a read-only root with writable emptyDirs, and a user's template merged over ours. That the API
 * server admits the pods in a namespace enforcing `restricted`, and Spark runs in them, is the
 * cluster scenarios' part (src/smoke/cluster.ts: their namespace enforces it).
 */
import { describe, expect, it } from 'vitest';
import { defaultTemplate, localTemplatePath, mergeTemplate, planTemplates, restrictedPod, templateKey } from '../src/lib/pod-security.ts';

type Json = Record<string, any>;

/**
 * The checks of Kubernetes' Pod Security `restricted` profile (v1.26+) that a template can fail,
 * written from the profile's table: each failing check by name.
 */
function restrictedViolations(pod: Json): string[] {
  const out: string[] = [];
  const spec = pod.spec ?? {};
  const containers: Json[] = [...(spec.containers ?? []), ...(spec.initContainers ?? [])];
  if (spec.hostNetwork || spec.hostPID || spec.hostIPC) out.push('host namespaces');
  for (const v of spec.volumes ?? []) if (v.hostPath) out.push(`hostPath volume ${v.name}`);
  const podSc = spec.securityContext ?? {};
  for (const c of containers) {
    const sc = c.securityContext ?? {};
    if (sc.privileged) out.push(`${c.name}: privileged`);
    if (sc.allowPrivilegeEscalation !== false) out.push(`${c.name}: allowPrivilegeEscalation != false`);
    const drop: string[] = sc.capabilities?.drop ?? [];
    if (!drop.includes('ALL')) out.push(`${c.name}: capabilities not dropping ALL`);
    for (const a of sc.capabilities?.add ?? []) if (a !== 'NET_BIND_SERVICE') out.push(`${c.name}: adds ${a}`);
    if ((sc.runAsNonRoot ?? podSc.runAsNonRoot) !== true) out.push(`${c.name}: runAsNonRoot != true`);
    if ((sc.runAsUser ?? podSc.runAsUser) === 0) out.push(`${c.name}: runAsUser 0`);
    const seccomp = sc.seccompProfile?.type ?? podSc.seccompProfile?.type;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') out.push(`${c.name}: seccompProfile ${seccomp}`);
    for (const p of c.ports ?? []) if (p.hostPort) out.push(`${c.name}: hostPort`);
  }
  return out;
}

describe("spark8t's pod templates", () => {
  it('ours meet restricted, with a read-only root and emptyDirs at /tmp, HOME and the log dir; the container is the one Spark fills in', () => {
    for (const role of ['driver', 'executor'] as const) {
      const t = defaultTemplate(role);
      expect(restrictedViolations(t)).toEqual([]);
      const c = t.spec.containers[0];
      expect(c.name).toBe(`spark-kubernetes-${role}`);
      expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
      expect(c.volumeMounts.map((m: Json) => m.mountPath).sort()).toEqual(['/tmp', '/var/lib/spark', '/var/log/spark']);
      const mounted = new Set(c.volumeMounts.map((m: Json) => m.name));
      expect(t.spec.volumes.filter((v: Json) => mounted.has(v.name)).every((v: Json) => v.emptyDir)).toBe(true);
    }
    // The checker itself refuses what restricted refuses (so the line above can fail).
    expect(restrictedViolations({ spec: { containers: [{ name: 'c' }] } })).toEqual([
      'c: allowPrivilegeEscalation != false',
      'c: capabilities not dropping ALL',
      'c: runAsNonRoot != true',
      'c: seccompProfile undefined',
    ]);
  });

  it("a user's template is merged over ours: their labels, containers, volumes and values win, ours fill the rest", () => {
    const theirs = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { labels: { team: 'a' } },
      spec: {
        nodeSelector: { disk: 'ssd' },
        containers: [
          {
            name: 'main',
            env: [{ name: 'X', value: '1' }],
            volumeMounts: [{ name: 'data', mountPath: '/data' }],
            securityContext: { readOnlyRootFilesystem: false },
          },
          { name: 'sidecar', image: 'busybox' },
        ],
        initContainers: [{ name: 'init', image: 'busybox' }],
        volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'd' } }],
      },
    };
    const m = mergeTemplate('executor', theirs);
    expect(m.metadata.labels).toEqual({ team: 'a' });
    expect(m.spec.nodeSelector).toEqual({ disk: 'ssd' });
    expect(m.spec.securityContext).toEqual({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    const [main, side] = m.spec.containers;
    // Spark fills in the first container when none is named: it keeps its name and takes ours.
    expect(main.name).toBe('main');
    // Environment joined by name: pebble's directory (ours), then theirs.
    expect(main.env).toEqual([
      { name: 'PEBBLE', value: '/tmp/pebble' },
      { name: 'PEBBLE_COPY_ONCE', value: '/var/lib/pebble/default' },
      { name: 'X', value: '1' },
    ]);
    expect(mergeTemplate('driver', { spec: { containers: [{ env: [{ name: 'PEBBLE', value: '/run/p' }] }] } }).spec.containers[0].env).toEqual([
      { name: 'PEBBLE_COPY_ONCE', value: '/var/lib/pebble/default' },
      { name: 'PEBBLE', value: '/run/p' },
    ]);
    expect(main.securityContext.readOnlyRootFilesystem).toBe(false); // theirs, on purpose
    expect(main.securityContext.capabilities).toEqual({ drop: ['ALL'] });
    expect(main.volumeMounts.map((x: Json) => x.mountPath)).toEqual(['/tmp', '/var/lib/spark', '/var/log/spark', '/data']);
    // Sidecars and init containers: our security settings, not our mounts.
    expect(side.securityContext.allowPrivilegeEscalation).toBe(false);
    expect(side.volumeMounts).toBeUndefined();
    expect(m.spec.initContainers[0].securityContext.runAsNonRoot).toBe(true);
    expect(m.spec.volumes.map((v: Json) => v.name)).toEqual(['spark8t-tmp', 'spark8t-home', 'spark8t-log', 'data']);
    expect(restrictedViolations(m)).toEqual([]);
    // The user's object is not changed.
    expect(theirs.spec.containers[0]!.volumeMounts).toHaveLength(1);
  });

  it('a mount of their own at /tmp replaces ours, and our unused volume goes; podTemplateContainerName picks the container', () => {
    const theirs = {
      spec: {
        containers: [
          { name: 'first', image: 'x' },
          { name: 'spark', volumeMounts: [{ name: 'scratch', mountPath: '/tmp' }] },
        ],
        volumes: [{ name: 'scratch', emptyDir: { medium: 'Memory' } }],
      },
    };
    const m = mergeTemplate('driver', theirs, 'spark');
    const spark = m.spec.containers.find((c: Json) => c.name === 'spark');
    expect(spark.volumeMounts).toEqual([
      { name: 'spark8t-home', mountPath: '/var/lib/spark' },
      { name: 'spark8t-log', mountPath: '/var/log/spark' },
      { name: 'scratch', mountPath: '/tmp' },
    ]);
    expect(m.spec.containers[0].volumeMounts).toBeUndefined();
    expect(m.spec.volumes.map((v: Json) => v.name)).toEqual(['spark8t-home', 'spark8t-log', 'scratch']);
    // A template with no container (or without the named one) gets ours first.
    const bare = mergeTemplate('driver', { metadata: { annotations: { a: 'b' } } });
    expect(bare.spec.containers.map((c: Json) => c.name)).toEqual(['spark-kubernetes-driver']);
    expect(bare.metadata.annotations).toEqual({ a: 'b' });
  });

  it("restrictedPod: a pod keeps its kind; a Deployment's pod template (no apiVersion, no kind) gets none", () => {
    const pod = restrictedPod({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'main', image: 'x' }] } });
    expect(pod).toMatchObject({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } });
    expect(restrictedViolations(pod)).toEqual([]);
    const tpl = restrictedPod({ metadata: { labels: { app: 'h' } }, spec: { containers: [{ name: 'h' }] } });
    expect(Object.keys(tpl).sort()).toEqual(['metadata', 'spec']);
    expect(restrictedViolations(tpl)).toEqual([]);
  });

  it('planTemplates: ours when none is given, the merge for a local file (file: too), remote ones handed on as they are', async () => {
    const read = (path: string) => ({ spec: { containers: [{ name: 'c', env: [{ name: 'FROM', value: path }] }] } });
    const none = await planTemplates(new Map(), read);
    expect(Object.keys(none.files).sort()).toEqual(['driver', 'executor']);
    expect(JSON.parse(none.files.driver!)).toEqual(defaultTemplate('driver'));
    const given = await planTemplates(
      new Map([
        [templateKey('driver'), 'file:///etc/t.yaml'],
        [templateKey('executor'), 's3a://bucket/exec.yaml'],
      ]),
      read,
    );
    expect(JSON.parse(given.files.driver!).spec.containers[0].env).toContainEqual({ name: 'FROM', value: '/etc/t.yaml' });
    expect(given.files.executor).toBeUndefined();
    expect(given.unmerged).toEqual([{ role: 'executor', value: 's3a://bucket/exec.yaml' }]);
    expect(localTemplatePath('/a/b.yaml')).toBe('/a/b.yaml');
    expect(localTemplatePath('file:b.yaml')).toBe('b.yaml');
    expect(localTemplatePath('http://x/y')).toBeUndefined();
  });
});
