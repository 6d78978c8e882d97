/**
 * Pod Security `restricted`, and further a read-only root, for the pods Spark makes: spark8t hands
 * Spark a driver and an executor pod template (Spark's `spark.kubernetes.{driver,executor}.
 * podTemplateFile`) that meet the `restricted` profile (runAsNonRoot, no privilege escalation, every
 * capability dropped, the runtime's seccomp profile) with `readOnlyRootFilesystem: true` and emptyDir
 * volumes where the rock's processes write (/tmp: Spark's and the JVM's scratch, the driver's working
 * directory, pebble's directory; HOME: the ivy cache of `--packages`, Python's and Jupyter's files;
 * SPARK_LOG_DIR, which Spark's daemon scripts test). Pebble writes its state, socket and identity key
 * into $PEBBLE: the container runs it from /tmp/pebble, copied from the image's
 * /var/lib/pebble/default at start (PEBBLE_COPY_ONCE, pebble's own mechanism).
 * Spark mounts its local directories (`spark-local-dir-*`) as emptyDirs itself.
 *
 * A template of the user's own is merged over ours, not used instead of it: the user's values win
 * field by field, volumes and mounts are joined by name and mount path, and every container of the
 * user's template (sidecars and init containers too) gets our container settings under its own, so
 * the pod still meets the profile unless the template says otherwise on purpose.
 * Pure: run.ts reads the user's file and writes ours.
 */

/** The Pod Security level a namespace `create` makes enforces (`none`: no label, the cluster's default). */
export const POD_SECURITY_LEVELS = ['restricted', 'baseline', 'privileged', 'none'] as const;
export type PodSecurityLevel = (typeof POD_SECURITY_LEVELS)[number];
export const POD_SECURITY_ENFORCE = 'pod-security.kubernetes.io/enforce';

export type Role = 'driver' | 'executor';
export const ROLES: readonly Role[] = ['driver', 'executor'];
type Json = Record<string, any>;

export const templateKey = (role: Role) => `spark.kubernetes.${role}.podTemplateFile`;
const containerKey = (role: Role) => `spark.kubernetes.${role}.podTemplateContainerName`;
/** Spark's names for its containers when no template names another. */
const DEFAULT_CONTAINER: Record<Role, string> = { driver: 'spark-kubernetes-driver', executor: 'spark-kubernetes-executor' };

/** The writable paths of a read-only root: emptyDir name → mount path. HOME is the rock's. */
export const WRITABLE: Readonly<Record<string, string>> = { 'spark8t-tmp': '/tmp', 'spark8t-home': '/var/lib/spark', 'spark8t-log': '/var/log/spark' };

/** What `restricted` asks of a container, and a read-only root. */
export const CONTAINER_SECURITY: Json = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  seccompProfile: { type: 'RuntimeDefault' },
};
/** What `restricted` asks of a pod. */
export const POD_SECURITY: Json = { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } };

/** Pebble in a writable copy of the image's directory (its layers, mounted ones included). */
export const PEBBLE_ENV: readonly Json[] = [
  { name: 'PEBBLE', value: '/tmp/pebble' },
  { name: 'PEBBLE_COPY_ONCE', value: '/var/lib/pebble/default' },
];

/** Volumes and mounts for the writable paths (the same for any container of ours). */
export const writableVolumes = (): Json[] => Object.keys(WRITABLE).map((name) => ({ name, emptyDir: {} }));
export const writableMounts = (): Json[] => Object.entries(WRITABLE).map(([name, mountPath]) => ({ name, mountPath }));

/** Our template for ROLE: a pod whose one container is the one Spark fills in. */
export function defaultTemplate(role: Role, containerName: string = DEFAULT_CONTAINER[role]): Json {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    spec: {
      securityContext: structuredClone(POD_SECURITY),
      containers: [
        { name: containerName, env: structuredClone(PEBBLE_ENV), securityContext: structuredClone(CONTAINER_SECURITY), volumeMounts: writableMounts() },
      ],
      volumes: writableVolumes(),
    },
  };
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** OURS with THEIRS over it: objects merged key by key, THEIRS' scalars and other lists win. */
export function deepMerge(ours: unknown, theirs: unknown): unknown {
  if (theirs === undefined) return structuredClone(ours);
  if (!isObject(ours) || !isObject(theirs)) return structuredClone(theirs);
  const out: Json = structuredClone(ours);
  for (const [k, v] of Object.entries(theirs)) out[k] = deepMerge(ours[k], v);
  return out;
}

/** Lists joined by KEY: OURS' entries that THEIRS does not have, then THEIRS' (theirs win on a clash). */
function joinBy(key: string, ours: Json[] | undefined, theirs: Json[] | undefined): Json[] | undefined {
  if (!ours?.length) return theirs;
  const taken = new Set((theirs ?? []).map((e) => e?.[key]));
  return [...ours.filter((e) => !taken.has(e[key])).map((e) => structuredClone(e)), ...(theirs ?? [])];
}

/** A container of the user's template with our settings under its own. */
function mergeContainer(ours: Json, theirs: Json): Json {
  const { name: _n, volumeMounts, env, ...rest } = ours;
  const merged = deepMerge(rest, theirs) as Json;
  merged.env = joinBy('name', env, theirs.env);
  // Mounts clash by path (two mounts of one path are refused by the API server) or by volume name.
  const theirMounts: Json[] = theirs.volumeMounts ?? [];
  const taken = new Set(theirMounts.flatMap((m) => [`p:${m.mountPath}`, `n:${m.name}`]));
  const ourMounts = (volumeMounts as Json[]).filter((m) => !taken.has(`p:${m.mountPath}`) && !taken.has(`n:${m.name}`));
  merged.volumeMounts = [...ourMounts, ...theirMounts];
  return merged;
}

/**
 * THEIRS (the user's template, parsed) merged over our template for ROLE. Spark fills in the container
 * named CONTAINERNAME, else the first: that one takes our container; every other container and init
 * container takes our security settings (not our mounts) under its own.
 */
export function mergeTemplate(role: Role, theirs: unknown, containerName?: string): Json {
  if (!isObject(theirs)) return defaultTemplate(role, containerName);
  const ours = defaultTemplate(role, containerName);
  const ourContainer = ours.spec.containers[0] as Json;
  const spec: Json = isObject(theirs.spec) ? theirs.spec : {};
  const containers: Json[] = Array.isArray(spec.containers) ? spec.containers.filter(isObject) : [];
  let main = containerName ? containers.findIndex((c) => c.name === containerName) : 0;
  if (main < 0 || !containers.length) main = -1;
  const security = (c: Json): Json => ({ ...c, securityContext: deepMerge(CONTAINER_SECURITY, c.securityContext) });
  const mergedContainers =
    main < 0 ? [ourContainer, ...containers.map(security)] : containers.map((c, i) => (i === main ? mergeContainer(ourContainer, c) : security(c)));
  const merged = deepMerge(ours, theirs) as Json;
  merged.spec.containers = mergedContainers;
  if (Array.isArray(spec.initContainers)) merged.spec.initContainers = spec.initContainers.filter(isObject).map(security);
  merged.spec.volumes = joinBy('name', ours.spec.volumes, Array.isArray(spec.volumes) ? spec.volumes : undefined);
  // Volumes of ours no container mounts any more (the user mounted something else there) go.
  const used = new Set(mergedContainers.flatMap((c) => (c.volumeMounts ?? []).map((m: Json) => m.name)));
  const ourNames = new Set(Object.keys(WRITABLE));
  merged.spec.volumes = merged.spec.volumes.filter((v: Json) => !ourNames.has(v.name) || used.has(v.name));
  return merged;
}

/** A template path Spark reads from a local file (no scheme, or file:): only those can be merged. */
export function localTemplatePath(value: string): string | undefined {
  if (value.startsWith('file://')) return value.slice('file://'.length);
  if (value.startsWith('file:')) return value.slice('file:'.length);
  return /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(value) ? undefined : value;
}

export interface TemplatePlan {
  /** The templates to write, by role (JSON, which Spark's YAML reader takes). */
  files: Partial<Record<Role, string>>;
  /** Remote templates (s3a://, http://…): handed to Spark as they are, ours not merged. */
  unmerged: Array<{ role: Role; value: string }>;
}

/**
 * The templates for a submission to Kubernetes: ours, or the user's local one merged over ours.
 * READ returns the parsed contents of a local file (or throws a UserError naming it).
 */
export async function planTemplates(props: ReadonlyMap<string, string>, read: (path: string, role: Role) => unknown): Promise<TemplatePlan> {
  const plan: TemplatePlan = { files: {}, unmerged: [] };
  for (const role of ROLES) {
    const given = props.get(templateKey(role));
    const name = props.get(containerKey(role));
    if (given === undefined || given === '') {
      plan.files[role] = JSON.stringify(defaultTemplate(role, name), null, 1);
      continue;
    }
    const local = localTemplatePath(given);
    if (local === undefined) plan.unmerged.push({ role, value: given });
    else plan.files[role] = JSON.stringify(mergeTemplate(role, await read(local, role), name), null, 1);
  }
  return plan;
}

/**
 * Any pod of the rock (a client pod, a server's Deployment template) with the same settings: its
 * first container takes what Spark's container takes, the others our security settings.
 */
export function restrictedPod<T>(pod: T): T {
  const merged = mergeTemplate('driver', pod);
  // A Deployment's pod template (a PodTemplateSpec) has neither.
  for (const k of ['apiVersion', 'kind']) if (!isObject(pod) || !(k in pod)) delete merged[k];
  return merged as T;
}
