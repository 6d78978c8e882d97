/**
 * The local Kubernetes (scripts/local-k8s.sh) as a typed value. `start` writes
 * `$LOCAL_K8S_DIR/cluster.json`; this module starts it when asked and reads that file, so no caller
 * parses the script's `export` lines.
 */
import { createHash } from 'node:crypto';
import { ArchiveError, readArchiveImage, type ArchiveImage } from './oci-archive.ts';
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from './errors.ts';
import { cacheDir, projectRoot } from './paths.ts';

export interface LocalNode {
  name: string;
  /** The node's InternalIP: a /32 on lo while the cluster runs. */
  ip: string;
  podCidr: string;
  serviceCidr: string;
  /** CoreDNS's Service address. */
  dnsIp: string;
  containerdSocket: string;
  ctrPath: string;
}

/** The S3 server that runs with the node (scripts/local-s3.sh); the secret only in its file. */
export interface LocalS3 {
  /** For the host: http://127.0.0.1:PORT. */
  endpoint: string;
  /** For pods: http://<node address>:PORT. */
  podEndpoint: string;
  /** HTTPS for pods and the host: https://<node address>:PORT+4, its certificate signed by `caFile`'s CA (absent in older descriptions). */
  tlsEndpoint?: string;
  /** The PEM certificate of the CA made at the S3 server's start. */
  caFile?: string;
  region: string;
  accessKey: string;
  /** A 0600 file holding the secret key. */
  secretKeyFile: string;
}

export interface LocalCluster {
  apiUrl: string;
  k8sVersion: string;
  adminKubeconfig: string;
  restrictedKubeconfig: string;
  restrictedNamespace: string;
  stateDir: string;
  kubectlPath: string;
  /** null for an API-only instance (LOCAL_K8S_NODE=0): pods stay Pending. */
  node: LocalNode | null;
  /** null without a node or with LOCAL_K8S_S3=0. */
  s3: LocalS3 | null;
}

export const localK8sScript = join(projectRoot, 'scripts', 'local-k8s.sh');

/** The instance's directory, as the script computes it. */
export function clusterDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.LOCAL_K8S_DIR || join(cacheDir(env), 'local-k8s');
}

const STRINGS = ['apiUrl', 'k8sVersion', 'adminKubeconfig', 'restrictedKubeconfig', 'restrictedNamespace', 'stateDir', 'kubectlPath'] as const;
const NODE_STRINGS = ['name', 'ip', 'podCidr', 'serviceCidr', 'dnsIp', 'containerdSocket', 'ctrPath'] as const;
const S3_STRINGS = ['endpoint', 'podEndpoint', 'region', 'accessKey', 'secretKeyFile'] as const;

/** Validate the parsed cluster.json (pure). */
export function parseCluster(text: string, source = 'cluster.json'): LocalCluster {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new UserError('E_CLUSTER', `${source} is not JSON: ${(e as Error).message}`);
  }
  const bad = (what: string) => new UserError('E_CLUSTER', `${source}: ${what}`);
  if (typeof v !== 'object' || v === null) throw bad('not an object');
  const o = v as Record<string, unknown>;
  for (const k of STRINGS) if (typeof o[k] !== 'string' || o[k] === '') throw bad(`${k} missing`);
  let node: LocalNode | null = null;
  if (o.node !== null) {
    if (typeof o.node !== 'object' || o.node === undefined) throw bad('node missing');
    const n = o.node as Record<string, unknown>;
    for (const k of NODE_STRINGS) if (typeof n[k] !== 'string' || n[k] === '') throw bad(`node.${k} missing`);
    node = Object.fromEntries(NODE_STRINGS.map((k) => [k, n[k]])) as unknown as LocalNode;
  }
  // "s3" is absent in descriptions written before the S3 server ran with the node.
  let s3: LocalS3 | null = null;
  if (o.s3 !== null && o.s3 !== undefined) {
    if (typeof o.s3 !== 'object') throw bad('s3 is not an object');
    const x = o.s3 as Record<string, unknown>;
    for (const k of S3_STRINGS) if (typeof x[k] !== 'string' || x[k] === '') throw bad(`s3.${k} missing`);
    s3 = Object.fromEntries(S3_STRINGS.map((k) => [k, x[k]])) as unknown as LocalS3;
    if (typeof x.tlsEndpoint === 'string' && x.tlsEndpoint && typeof x.caFile === 'string' && x.caFile)
      Object.assign(s3, { tlsEndpoint: x.tlsEndpoint, caFile: x.caFile });
  }
  return { ...(Object.fromEntries(STRINGS.map((k) => [k, o[k]])) as Omit<LocalCluster, 'node' | 's3'>), node, s3 };
}

/** Read the description `start` wrote; an error with the fix when there is none. */
export function readCluster(env: NodeJS.ProcessEnv = process.env): LocalCluster {
  const file = join(clusterDir(env), 'cluster.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new UserError('E_CLUSTER', `no local cluster description at ${file}`);
  }
  return parseCluster(text, file);
}

/** Start the local cluster (idempotent: a running one is kept) and describe it. */
export async function startCluster(opts: { env?: NodeJS.ProcessEnv; quiet?: boolean } = {}): Promise<LocalCluster> {
  const env = { ...process.env, ...opts.env };
  await execa('bash', [localK8sScript, 'start'], { env, stdio: ['ignore', opts.quiet ? 'ignore' : 'inherit', 'inherit'] });
  return readCluster(env);
}

/** The manifest digest of an oci-archive's one image (read in place by readArchiveImage; one line naming the archive when it is not one). */
export async function archiveDigest(archive: string): Promise<string> {
  try {
    return readArchiveImage(archive).manifestDigest;
  } catch (e) {
    if (e instanceof ArchiveError) throw new UserError('E_IMAGE', `${archive} is not a readable oci-archive: ${e.message.slice(0, 200)}`);
    throw e;
  }
}

/**
 * Put an oci-archive on the node as REF (what pods name, with imagePullPolicy IfNotPresent/Never),
 * as `ctr images import` does for a user; skipped when REF already holds that manifest.
 * Returns whether it imported.
 */
export async function importImage(c: LocalCluster, archive: string, ref: string): Promise<boolean> {
  const ctr = ctrOf(c);
  const want = await archiveDigest(archive);
  const have = (await ctr(['images', 'ls', `name==${ref}`])).stdout
    .split('\n')
    .slice(1)
    .find((l) => l.startsWith(`${ref} `));
  if (have?.includes(want)) return false;
  // The archive names its image by a tag only; import under a temporary base name, then tag it.
  const base = `import.local/sparkcraft-${process.pid}`;
  const { stdout } = await ctr(['images', 'import', '--base-name', base, '--digests', archive]);
  const imported = [...stdout.matchAll(/unpacking (\S+) \(/g)].map((m) => m[1]!);
  const src = imported.find((n) => n.startsWith(base)) ?? imported[0];
  if (!src) throw new UserError('E_IMAGE', `ctr images import named no image from ${archive}`, { hint: stdout.slice(0, 200) });
  await ctr(['images', 'tag', '--force', src, ref]);
  for (const n of imported) await ctr(['images', 'rm', n]).catch(() => undefined);
  return true;
}

export const localRegistryScript = join(projectRoot, 'scripts', 'local-registry.sh');
const sparkcraftScript = join(projectRoot, 'scripts', 'sparkcraft.sh');

/** The rock on the local registry: what a pod names (by tag) and the manifest digest pushed. */
export interface RegistryImage {
  /** `127.0.0.1:PORT/sparkcraft/<name>:<tag>` */
  ref: string;
  digest: string;
  /** The digests of its layers (from the archive pushed). */
  layers: string[];
  /** The chain IDs of its layers, bottom first: the names of their unpacked snapshots on a node. */
  chainIds: string[];
  /** An image index: each platform's manifest digest (empty for one image). */
  platforms: Array<{ arch: string; digest: string }>;
  /** The manifest digest of the node's own platform (of an index: the one the node should pull). */
  manifest: string;
  /** How long publish:rock took (push and verify). */
  seconds: number;
}

/**
 * Push the rock to the local TLS registry as a user does (`npm run publish:rock -- --registry …
 * --yes`), and make the node trust it: the registry (scripts/local-registry.sh; LOCAL_REGISTRY_STATE
 * and LOCAL_REGISTRY_PORT choose the instance) is started, then the cluster's `start` again, which
 * writes containerd's hosts.toml (its CA) and the registry's credentials into containerd's config and
 * restarts containerd when they changed. `--force`: the local registry is a test registry, a rebuilt
 * rock may replace the immutable tag there. The tag pods name is the line's first moving tag.
 */
/**
 * publish:rock of the line's rocks (`artifacts`: one per architecture of the matrix, the node's first;
 * several are one image index) to the local TLS registry, unsigned.
 */
export async function publishToLocalRegistry(o: { artifacts: string[]; line: string; imageRef: string; env?: NodeJS.ProcessEnv }): Promise<RegistryImage> {
  const env = { ...process.env, ...o.env };
  await execa('bash', [join(projectRoot, 'scripts', 'setup.d', '55-registry.sh')], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  await execa('bash', [localRegistryScript, 'start'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const vars: Record<string, string> = {};
  for (const m of (await execa('bash', [localRegistryScript, 'env'], { env })).stdout.matchAll(/^export (\w+)=(.*)$/gm)) vars[m[1]!] = m[2]!;
  await execa('bash', [localK8sScript, 'start'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
  const tag = o.imageRef.slice(o.imageRef.lastIndexOf(':') + 1);
  const t = Date.now();
  const { stdout } = await execa(
    'bash',
    [
      sparkcraftScript,
      'publish',
      'rock',
      '--line',
      o.line,
      '--registry',
      `${vars.LOCAL_REGISTRY}/sparkcraft`,
      '--registry-cert-dir',
      vars.LOCAL_REGISTRY_CERT_DIR!,
      ...o.artifacts.flatMap((a) => ['--artifact', a]),
      '--force',
      '--yes',
      '--json',
      // what this checks is the pull; signing is test/sign.test.ts's (publish refuses --yes without a key)
      '--no-sign',
    ],
    { env: { ...env, REGISTRY_USER: vars.REGISTRY_USER, REGISTRY_PASSWORD: vars.REGISTRY_PASSWORD }, stderr: 'inherit' },
  );
  const seconds = (Date.now() - t) / 1000;
  const out = JSON.parse(stdout) as {
    plan?: { index: { platforms: Array<{ arch: string; digest: string }> } | null };
    result?: { repository: string; digest: string; pushed: Array<{ tag: string }>; verified: Array<{ ref: string; digest: string }> };
  };
  const res = out.result;
  // A tag the registry already holds at this digest is verified, not pushed again (a re-run).
  const there = res?.pushed.some((p) => p.tag === tag) || res?.verified.some((v) => v.ref === `${res.repository}:${tag}` && v.digest === res.digest);
  if (!res || !there)
    throw new UserError('E_PUBLISH', `publish:rock neither pushed nor verified the tag ${tag} on ${vars.LOCAL_REGISTRY}`, { hint: stdout.slice(0, 300) });
  const platforms = (out.plan?.index?.platforms ?? []).map((p) => ({ arch: p.arch, digest: p.digest }));
  // The node's platform: its manifest, layers and their snapshots' names, from one read of its archive.
  const img = readArchiveImage(o.artifacts[0]!);
  return { ref: `${res.repository}:${tag}`, digest: res.digest, platforms, manifest: img.manifestDigest, ...imageLayers(img), seconds };
}

/** The layer digests of an oci-archive's (first) image, and the chain IDs of their snapshots. */
export async function archiveLayers(archive: string): Promise<{ layers: string[]; chainIds: string[] }> {
  return imageLayers(readArchiveImage(archive));
}

function imageLayers(img: ArchiveImage): { layers: string[]; chainIds: string[] } {
  return { layers: manifestLayers(img.manifest), chainIds: chainIds(img.config.rootfs?.diff_ids ?? []) };
}

/** The OCI chain IDs of a stack of layers given their diff IDs, bottom first (pure). */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIds)
    out.push(
      out.length
        ? `sha256:${createHash('sha256')
            .update(`${out[out.length - 1]} ${d}`)
            .digest('hex')}`
        : d,
    );
  return out;
}

/** The layer digests a manifest lists; [] for anything else (an index, a config). Pure. */
export function manifestLayers(doc: unknown): string[] {
  const layers = (doc as { layers?: Array<{ digest?: unknown }> } | null)?.layers;
  return Array.isArray(layers) ? layers.map((l) => l.digest).filter((d): d is string => typeof d === 'string') : [];
}

/** `ctr` in the node's k8s.io namespace. */
/** Which of DIGESTS the node's content store holds (manifests, configs, layers). */
export async function nodeHolds(c: LocalCluster, digests: string[]): Promise<string[]> {
  const have = new Set((await ctrOf(c)(['content', 'ls', '-q'])).stdout.split('\n').map((d) => d.trim()));
  return digests.filter((d) => have.has(d));
}

function ctrOf(c: LocalCluster) {
  if (!c.node) throw new UserError('E_CLUSTER', 'the local cluster has no node (LOCAL_K8S_NODE=0)');
  const n = c.node;
  return (args: string[]) => execa(n.ctrPath, ['--address', n.containerdSocket, '--namespace', 'k8s.io', ...args]);
}

/**
 * Drop every image on the node that holds any layer of IMG (and, with garbage collection done, that
 * content), so that the next pull of it fetches every layer: not only the names of its manifest, but
 * also older builds of the rock, which share most layers (a rock is reproducible layer by layer) and
 * would otherwise keep them (a "pull" then fetched a manifest in 100 ms). Returns the names removed
 * and how many of its layers stay unpacked (their snapshots held by containers).
 */
export async function evictImage(
  c: LocalCluster,
  img: Pick<RegistryImage, 'digest' | 'layers' | 'chainIds'>,
  o: { deletedPodsOf?: string } = {},
): Promise<{ names: string[]; unpackedLeft: number }> {
  const ctr = ctrOf(c);
  // The containers of pods already deleted from NAMESPACE, which the kubelet's garbage collection
  // would remove within a minute; a container with a task (running) is never touched.
  if (o.deletedPodsOf) {
    const ids = (await ctr(['containers', 'ls', '-q', `labels."io.kubernetes.pod.namespace"==${o.deletedPodsOf}`])).stdout.split('\n').filter(Boolean);
    const withTask = new Set((await ctr(['tasks', 'ls', '-q'])).stdout.split('\n').filter(Boolean));
    for (const id of ids.filter((i) => !withTask.has(i))) await ctr(['containers', 'rm', id]).catch(() => undefined);
  }
  const wanted = new Set(img.layers);
  const byDigest = new Map<string, string[]>();
  for (const f of (await ctr(['images', 'ls'])).stdout
    .split('\n')
    .slice(1)
    .map((l) => l.split(/\s+/))
    .filter((f) => f[0] && f[2])) {
    byDigest.set(f[2]!, [...(byDigest.get(f[2]!) ?? []), f[0]!]);
  }
  const layersOf = async (digest: string, depth = 0): Promise<string[]> => {
    const doc = JSON.parse((await ctr(['content', 'get', digest]).catch(() => ({ stdout: 'null' }))).stdout) as {
      manifests?: Array<{ digest: string }>;
    } | null;
    if (doc?.manifests && depth < 2) return (await Promise.all(doc.manifests.map((m) => layersOf(m.digest, depth + 1)))).flat();
    return manifestLayers(doc);
  };
  const names: string[] = [];
  for (const [digest, refs] of byDigest) {
    if (digest === img.digest || (await layersOf(digest)).some((l) => wanted.has(l))) names.push(...refs);
  }
  if (names.length) await ctr(['images', 'rm', '--sync', ...names]);
  const left = (await ctr(['content', 'ls', '-q'])).stdout.split('\n').filter((d) => wanted.has(d.trim()));
  if (left.length)
    throw new UserError(
      'E_IMAGE',
      `${left.length} layer(s) of ${img.digest} stayed in the node's content store after every image holding them was removed (${left[0]})`,
      { hint: 'a lease or another namespace holds them: ctr -n k8s.io leases ls' },
    );
  // A layer whose snapshot is still unpacked (a container of the image exists) is not fetched again
  // by the next pull (containerd skips it): the caller says so instead of claiming a full pull.
  const snaps = new Set(
    (await ctr(['snapshots', 'ls'])).stdout
      .split('\n')
      .slice(1)
      .map((l) => l.split(/\s+/)[0]!),
  );
  return { names, unpackedLeft: img.chainIds.filter((id) => snaps.has(id)).length };
}

/** Give the image SRC (present on the node) the name REF too. */
export async function tagImage(c: LocalCluster, src: string, ref: string): Promise<void> {
  await ctrOf(c)(['images', 'tag', '--force', src, ref]);
}

/** The kubelet's pull time for a pod's image, from its `Pulled` event ("Successfully pulled image … in 1m2.5s …"); null if none. */
export function pulledSeconds(messages: string[]): number | null {
  for (const m of messages) {
    const d = m.match(/^Successfully pulled image "[^"]+" in ((?:[\d.]+(?:h|ms|µs|us|ns|m|s))+)/)?.[1];
    if (d) return goDuration(d);
  }
  return null;
}

/** A Go duration string (`1m2.5s`, `812ms`) in seconds (pure). */
export function goDuration(s: string): number {
  let total = 0;
  for (const [, n, u] of s.matchAll(/([\d.]+)(h|ms|µs|us|ns|m|s)/g)) {
    total += Number(n) * { h: 3600, m: 60, s: 1, ms: 1e-3, µs: 1e-6, us: 1e-6, ns: 1e-9 }[u as 'h']!;
  }
  return total;
}
