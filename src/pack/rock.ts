/**
 * The built-in rock backend: executes a rendered rockcraft.yaml (the subset our manifests use)
 * into an OCI archive. Plan first (pure, from the manifest), then apply (bootstrap, layers, archive).
 *
 * Layers: 1 Debian base (minbase) · 2 runtime packages · one per dump part (spark, extra-jars,
 * spark8t + pebble, config) · the class-data archive in a cds cell (pack/cds.ts) · users, pebble
 * layer. Ubuntu is not reachable here, so the base is Debian bookworm; the image labels say so. Every layer's entries are written under the rock's
 * file-mode rule (lib/hardening.ts): no setuid or setgid path, nothing world-writable but /tmp.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { UserError } from '../lib/errors.ts';
import { inStep } from '../lib/log.ts';
import { rootfs, rootfsDiff, rootfsKey, rootfsPair, SUITE } from '../lib/tools/mmdebstrap.ts';
import { headRevision, lastChange } from '../lib/tools/git.ts';
import { HARDENING, hardenScript, hardenedMode } from '../lib/hardening.ts';
import { hostArch } from '../config/matrix.ts';
import { buildLayer, dirEntries, fnmatch, type LayerBlob } from './layer.ts';
import { organize, planParts, primed, type Part, type PartPlan } from './parts.ts';

export type { PartPlan } from './parts.ts';
import { artifactStamp, assembleImage, writeOciArchive, type Image } from './oci.ts';
import {
  changedInputs,
  decide,
  digestOf,
  FORMATS,
  makeRecord,
  note,
  readRecord,
  stepKey,
  withLock,
  workspaceLock,
  writeRecord,
  type Cell,
  type StepRecord,
} from '../lib/state.ts';
import type { TarEntry } from './tar.ts';
import { runScriptlet } from './scriptlet.ts';
import { trainInLayers } from './cds.ts';
import { CDS_DIR, CDS_PRIME_SCRIPT } from '../lib/cds.ts';
import type { Workspace } from '../lib/workspace.ts';

/** The layer record format (lib/state.ts FORMATS.layer): in every layer key. */
export const FORMAT = FORMATS.layer;

/** What the archive's record (`build/.stamps/<rock>.state.json`) keeps besides the manifest: its layers, each layer step's inputs. */
interface RockData {
  layers: string[];
  steps: Record<string, Record<string, string>>;
}
type RockRecord = StepRecord<RockData>;

/** The layer steps of one build: the inputs each had the last time (from the archive's record) and now. */
interface LayerSteps {
  cell: Cell;
  /** The layer cache's root (the workspace's cache). */
  cache: string;
  prev: Record<string, Record<string, string>>;
  now: Record<string, Record<string, string>>;
}

/** The record of the rock at `outFile` (whatever its format: only its layer steps are read). */
function rockRecordFile(ws: Workspace, outFile: string): string {
  return artifactStamp(ws, outFile, 'state.json');
}

function layerSteps(ws: Workspace, outFile: string, cell: Cell): LayerSteps {
  const r = readRecord(rockRecordFile(ws, outFile)) as Partial<RockRecord> | null | undefined;
  return { cell, cache: ws.cache, prev: r?.data?.steps ?? {}, now: {} };
}

/** Pure: why a layer was not found in the cache, from its inputs the last time. */
export function layerMissReason(prev: Record<string, string> | undefined, now: Record<string, string>): string {
  if (!prev) return 'not in the layer cache (no earlier build of this artifact here)';
  const changed = changedInputs(prev, now);
  return changed.length ? `input changed: ${changed.join(', ')}` : 'not in the layer cache (trimmed, removed, or of another record format)';
}

/** Pure: a layer's entries under the rock's file-mode rule (lib/hardening.ts): no setuid/setgid, o+w only on /tmp. */
export function hardenEntries(entries: TarEntry[]): TarEntry[] {
  return entries.map((e) => {
    const mode = hardenedMode(e.path, e.type, e.mode);
    return mode === e.mode ? e : { ...e, mode };
  });
}

/**
 * One layer step: its key is the layer record format, the cell, every named input and the file-mode
 * rule its entries are written under (`hardening`); built unless the cache holds it. Its decision
 * (with the input that changed) goes into the journal.
 */
async function layerStep(
  steps: LayerSteps,
  name: string,
  label: string,
  comment: string,
  inputs: Record<string, string>,
  entries: () => Promise<TarEntry[]>,
  mtime: number,
  step: <T>(what: string, fn: () => Promise<T>) => Promise<T>,
): Promise<LayerBlob & { cached: boolean }> {
  const named = { ...inputs, hardening: HARDENING };
  const key = `l${FORMAT}-${name}-${stepKey('layer', steps.cell, named).slice(0, 32)}`;
  const l = await step(label, () => buildLayer(steps.cache, key, comment, async () => hardenEntries(await entries()), mtime));
  steps.now[name] = named;
  note({ step: `layer ${name}`, run: !l.cached, reason: l.cached ? `cached (${key})` : layerMissReason(steps.prev[name], named) });
  return l;
}

export interface RockManifest {
  name: string;
  version: string;
  base: string;
  summary: string;
  description: string;
  license: string;
  'run-user'?: string;
  'entrypoint-service'?: string;
  environment?: Record<string, string>;
  services?: Record<string, Record<string, unknown>>;
  parts: Record<string, Part>;
}

/** Ubuntu package names that differ in Debian bookworm (none of ours today; kept as one table). */
export const UBUNTU_TO_DEBIAN: Record<string, string> = {};

export const RUN_USERS: Record<string, { uid: number; name: string }> = { _daemon_: { uid: 584792, name: '_daemon_' } };

/** What the built-in backend makes of a rockcraft.yaml (not the publish step's plan). */
export interface RockBuildPlan {
  name: string;
  version: string;
  packages: string[];
  parts: PartPlan[];
  env: Record<string, string>;
  user?: { uid: number; name: string };
  entrypoint: string[];
  pebbleLayer: string;
  labels: Record<string, string>;
  /** The part that makes the class-data archive (pack/cds.ts), when the manifest has one. */
  cds?: string;
}

/**
 * The scripts of rockcraft's overlay and prime steps a manifest may carry for the built-in backend:
 * the rock's file-mode rule (lib/hardening.ts) as the template renders it, which this backend
 * applies to every layer itself. Any other is refused.
 */
export const HARDEN_SCRIPTS = {
  'overlay-script': [...hardenScript('$CRAFT_OVERLAY'), ''].join('\n'),
  'override-prime': ['craftctl default', ...hardenScript('$CRAFT_PRIME'), ''].join('\n'),
} as const;

/** Pure: what the manifest asks for, as data. Unsupported constructs are refused by name. */
export function planRock(m: RockManifest, where = 'rockcraft.yaml', suite = SUITE): RockBuildPlan {
  let cds: string | undefined;
  for (const [name, p] of Object.entries(m.parts))
    for (const k of ['overlay-script', 'override-prime'] as const) {
      if (k === 'override-prime' && p[k] === CDS_PRIME_SCRIPT && p.plugin === 'nil' && !p.source) {
        cds = name;
        continue;
      }
      if (p[k] !== undefined && p[k] !== HARDEN_SCRIPTS[k])
        throw new UserError('E_UNSUPPORTED', `${where}: part ${name} has an ${k} the built-in backend does not run (only the file-mode rule's)`, {
          hint: 'install rockcraft and use --backend craft',
        });
    }
  const { parts, packages } = planParts(m.parts, where, (pkg) => UBUNTU_TO_DEBIAN[pkg] ?? pkg);
  const user = m['run-user'] ? RUN_USERS[m['run-user']] : undefined;
  if (m['run-user'] && !user) throw new UserError('E_MANIFEST', `${where}: run-user ${m['run-user']} is not one rockcraft knows`);
  const svc = m['entrypoint-service'];
  if (svc && !m.services?.[svc]) throw new UserError('E_MANIFEST', `${where}: entrypoint-service ${svc} is not a service`);
  return {
    name: m.name,
    version: m.version,
    packages,
    parts,
    env: m.environment ?? {},
    user,
    entrypoint: svc ? ['/usr/bin/pebble', 'enter', '--verbose', '--args', svc] : ['/usr/bin/pebble', 'enter', '--verbose'],
    pebbleLayer: toYaml({ summary: `${m.name} services`, description: `Services of the ${m.name} rock.`, services: m.services ?? {} }),
    labels: {
      'org.opencontainers.image.title': m.name,
      'org.opencontainers.image.version': m.version,
      'org.opencontainers.image.description': m.summary,
      'org.opencontainers.image.licenses': m.license,
      'org.opencontainers.image.base.name': `debian:${suite}`,
      'io.sparkcraft.base-note': `built by the sparkcraft built-in backend on Debian ${suite}; rockcraft would use ${m.base}`,
    },
    ...(cds ? { cds } : {}),
  };
}

/** Apply a part's organize, prime and permissions to its entries (paths already under the part's prefix). */
export function applyPart(entries: TarEntry[], part: PartPlan): Array<TarEntry & { inherit?: boolean }> {
  const out: Array<TarEntry & { inherit?: boolean }> = [];
  const under = (p: string) => (!part.prefix ? p : p === part.prefix ? '' : p.startsWith(`${part.prefix}/`) ? p.slice(part.prefix.length + 1) : p);
  for (const e of entries) {
    const path = organize(part, under(e.path));
    if (!primed(part, path)) continue;
    const ent: TarEntry & { inherit?: boolean } = { ...e, path };
    let matched = false;
    for (const perm of part.permissions) {
      if (perm.path !== undefined && !fnmatch(perm.path, path)) continue;
      matched = true;
      if (perm.owner !== undefined) ent.uid = perm.owner;
      if (perm.group !== undefined) ent.gid = perm.group;
      if (perm.mode !== undefined && ent.type !== 'symlink') ent.mode = parseInt(perm.mode, 8);
    }
    // A directory that only leads to this part's files (/opt, /etc, /opt/spark for the config
    // part) keeps the metadata the layers below gave it (see inheritDirs).
    if (ent.type === 'dir' && part.permissions.length > 0 && !matched) ent.inherit = true;
    out.push(ent);
  }
  return out.sort((a, b) => (Buffer.from(a.path) < Buffer.from(b.path) ? -1 : 1));
}

export type DirMeta = Map<string, { mode: number; uid: number; gid: number }>;

/**
 * Overlay file systems take a directory's metadata from the topmost layer that has it, and a
 * runtime creates missing parents as root 0755. So every ancestor of a layer's entries is written,
 * with the metadata the layers below gave it (or root 0755 when new).
 */
export function inheritDirs(entries: Array<TarEntry & { inherit?: boolean }>, below: DirMeta): TarEntry[] {
  const byPath = new Map(entries.map((e) => [e.path, e]));
  const out: TarEntry[] = [];
  for (const e of entries) {
    const parts = e.path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const anc = parts.slice(0, i).join('/');
      if (!byPath.has(anc)) {
        const m = below.get(anc) ?? { mode: 0o755, uid: 0, gid: 0 };
        const d = { path: anc, type: 'dir' as const, ...m };
        byPath.set(anc, d);
        out.push(d);
      }
    }
    if (e.inherit && below.has(e.path)) {
      const { inherit: _i, ...rest } = e;
      out.push({ ...rest, ...below.get(e.path)! });
    } else {
      const { inherit: _i, ...rest } = e;
      out.push(rest);
    }
  }
  return out.sort((a, b) => (Buffer.from(a.path) < Buffer.from(b.path) ? -1 : a.path === b.path ? 0 : 1));
}

/**
 * The key stage recorded for a staged input tree (`inputs/.state.json`, data.trees: the hash of
 * what it was made from); undefined for any other folder, or a stage record of another format.
 */
function stagedKey(dir: string): string | undefined {
  if (!dir.includes('/inputs/')) return undefined;
  const r = readRecord(join(dir, '..', '.state.json')) as Partial<StepRecord<{ trees?: Record<string, string> }>> | null | undefined;
  if (r?.kind !== 'stage' || r.format !== FORMATS.stage) return undefined;
  const k = r.data?.trees?.[dir.split('/inputs/').pop()!];
  return k ? `inputs:${k}` : undefined;
}

export async function treeKey(dir: string): Promise<string> {
  const staged = stagedKey(dir);
  if (staged) return staged;
  // Otherwise names, sizes and modes of every file, and the content of small ones.
  const h = createHash('sha256');
  for (const e of await dirEntries(dir, '')) {
    h.update(`${e.path}\0${e.type}\0${e.mode}\0${e.uid}\0${e.size ?? 0}\0${e.linkname ?? ''}\0`);
    if (e.type === 'file') {
      const st = statSync(e.source!);
      h.update(st.size < 1 << 20 ? readFileSync(e.source!) : `${st.mtimeMs}`);
    }
  }
  return h.digest('hex');
}

/** What a part's override-build sees: its source, and under $CRAFT_STAGE the dump parts it comes after. */
export function scriptletOf(part: PartPlan, plan: RockBuildPlan, buildDir: string) {
  const stage = part.build!.after.map((n) => {
    const d = plan.parts.find((x) => x.name === n);
    if (!d) throw new UserError('E_MANIFEST', `part ${part.name} comes after ${n}, which is not a part the built-in backend stages`);
    if (Object.keys(d.renames).length || d.prime || d.build)
      throw new UserError('E_UNSUPPORTED', `part ${part.name} comes after ${n}, whose renames, prime filter or build the built-in backend does not stage`, {
        hint: 'install rockcraft and use --backend craft',
      });
    return { at: d.prefix, dir: join(buildDir, d.source) };
  });
  return { name: part.name, source: join(buildDir, part.source), script: part.build!.script, packages: part.build!.packages, stage };
}

/**
 * Write the image to `outFile` as an oci-archive unless the archive there already holds this manifest:
 * its record (`build/.stamps/<file>.state.json`) names the manifest digest and vouches for the
 * archive's identity (size, mtime, inode). Records the layers (what trimLayerCache keeps) and each
 * layer step's inputs (what `--explain` compares with next time). Returns whether it was reused.
 */
async function writeArchiveUnlessCurrent(
  ws: Workspace,
  image: Parameters<typeof writeOciArchive>[1],
  outFile: string,
  mtime: number,
  step: <T>(what: string, fn: () => Promise<T>) => Promise<T>,
  steps: LayerSteps,
  layers: LayerBlob[],
): Promise<boolean> {
  const record = rockRecordFile(ws, outFile);
  const inputs = { manifest: image.manifestDigest };
  const { decision } = await decide(`archive ${basename(outFile)}`, record, 'rock', steps.cell, inputs, {
    legacy: [{ file: artifactStamp(ws, outFile, 'digest'), format: 1 }],
  });
  if (decision.run) await step(`writing ${outFile}`, () => writeOciArchive(ws, image, outFile, mtime));
  const data: RockData = { layers: layers.map((l) => l.key), steps: steps.now };
  await writeRecord(record, makeRecord(record, 'rock', steps.cell, inputs, [outFile], data));
  for (const old of ['digest', 'layers']) rmSync(artifactStamp(ws, outFile, old), { force: true });
  return !decision.run;
}

/**
 * One layer per part, in manifest order (after: is honoured by that order in our manifests). Its key
 * is what it will contain: entry metadata plus a content key of the source tree. `below` holds the
 * directories the layers under these have written (updated as layers are added).
 */
export async function partLayers(
  ws: Workspace,
  plan: RockBuildPlan,
  buildDir: string,
  below: DirMeta,
  mtime: number,
  step: <T>(what: string, fn: () => Promise<T>) => Promise<T>,
  steps: LayerSteps,
): Promise<Array<LayerBlob & { cached: boolean }>> {
  const out: Array<LayerBlob & { cached: boolean }> = [];
  for (const part of plan.parts) {
    const src = join(buildDir, part.source);
    if (!existsSync(src)) throw new UserError('E_STAGE', `part ${part.name}: ${src} does not exist`);
    let inputs: Record<string, string>;
    let entries: () => Promise<TarEntry[]>;
    if (part.build) {
      // A built part's tree is keyed by what it was built from (the scriptlet's key: script, source,
      // stage, tools), so a cached layer is found without walking the tree (a wheel closure is ~10k files).
      const run = await step(`part ${part.name}: override-build`, () =>
        runScriptlet(
          scriptletOf(part, plan, buildDir),
          { sourceDateEpoch: ws.sourceDateEpoch === undefined ? undefined : String(ws.sourceDateEpoch), project: plan.name, version: plan.version },
          treeKey,
          steps.cell,
          join(ws.cache, 'parts'),
        ),
      );
      const from = run.install;
      const under = new Map(below);
      const dirs = [...under]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([p, m]) => `${p}\0${m.mode}\0${m.uid}\0${m.gid}`)
        .join('\n');
      inputs = {
        built: run.key,
        part: digestOf({ prefix: part.prefix, renames: part.renames, permissions: part.permissions, prime: part.prime }),
        below: createHash('sha256').update(dirs).digest('hex'),
        mtime: String(mtime),
      };
      entries = async () =>
        inheritDirs(applyPart(await dirEntries(from, part.prefix, { owner: { uid: 0, gid: 0 }, includeRoot: Boolean(part.prefix) }), part), under);
    } else {
      const list = inheritDirs(applyPart(await dirEntries(src, part.prefix, { owner: { uid: 0, gid: 0 }, includeRoot: Boolean(part.prefix) }), part), below);
      const meta = list.map((e) => `${e.path}\0${e.type}\0${e.mode}\0${e.uid}\0${e.gid}\0${e.linkname ?? ''}`).join('\n');
      inputs = { meta: createHash('sha256').update(meta).digest('hex'), tree: await treeKey(src), mtime: String(mtime) };
      entries = async () => list;
    }
    const l = await layerStep(steps, `part-${part.name}`, `part ${part.name}`, `part ${part.name}`, inputs, entries, mtime, step);
    out.push(l);
    for (const [p, m] of Object.entries(l.dirs)) below.set(p, m);
  }
  return out;
}

/**
 * The class-data archive's layer (pack/cds.ts): train.sh run in the root of the layers below; keyed by
 * those layers' contents (their diff ids) and the part's script, so it is trained again only when a
 * jar, the JDK or the script changes.
 */
async function cdsLayer(
  ws: Workspace,
  part: string,
  layers: LayerBlob[],
  below: DirMeta,
  mtime: number,
  step: <T>(what: string, fn: () => Promise<T>) => Promise<T>,
  steps: LayerSteps,
): Promise<LayerBlob & { cached: boolean }> {
  let out: string | undefined;
  const inputs = { below: digestOf(layers.map((l) => l.diffId)), script: digestOf(CDS_PRIME_SCRIPT), mtime: String(mtime) };
  try {
    const l = await layerStep(
      steps,
      `part-${part}`,
      `part ${part}: class-data training`,
      `part ${part} (class-data sharing archive)`,
      inputs,
      async () => {
        out = await trainInLayers(layers, steps.cell, join(ws.cache, 'parts'));
        return inheritDirs(await dirEntries(out, CDS_DIR, { owner: { uid: 0, gid: 0 }, includeRoot: true }), below);
      },
      mtime,
      step,
    );
    for (const [p, m] of Object.entries(l.dirs)) below.set(p, m);
    return l;
  } finally {
    if (out) rmSync(out, { recursive: true, force: true });
  }
}

export interface RockBuild {
  artifact: string;
  image: Image;
  layers: Array<LayerBlob & { cached: boolean }>;
  reused: boolean;
}

/**
 * The time every file of a layer gets: 1980-01-01T00:00:02Z (the earliest a jar's zip entries can hold, as the
 * spark-examples scriptlet writes its jar), or the build's epoch when that is earlier (SOURCE_DATE_EPOCH clamps file
 * times, never raises them). Not the commit time: a layer's bytes and cache key then depend on its own inputs
 * only, so a matrix or lock edit leaves the Debian root, the runtime packages and every other unchanged part one
 * identical layer, shared between the lines, flavours and releases of one base. The image's `created` and the
 * archive keep the build's epoch.
 */
export const LAYER_EPOCH = 315532802;
export const layerTime = (epoch: number): number => Math.min(LAYER_EPOCH, epoch);

/** What a rock is built with: the build's epoch (the image's created time), the labels, and the cell (architecture, Java). */
export interface RockMeta {
  epoch: number;
  revision: string;
  source: string;
  arch?: string;
  /** The cell's Java version (the resolved line's `java`). */
  java?: number;
  /** The cell's Debian suite (the resolved line's `debianSuite`). */
  suite?: string;
}

const cellOfMeta = (meta: RockMeta): Cell => ({ arch: meta.arch ?? hostArch(), java: meta.java ?? null, ...(meta.suite ? { suite: meta.suite } : {}) });

/** Under the artifact's lock: concurrent builds of one rock write dist/ and its record one at a time. */
export async function buildRock(ws: Workspace, buildDir: string, outFile: string, meta: RockMeta): Promise<RockBuild> {
  return withLock(workspaceLock(ws, `pack-${basename(outFile)}`), outFile, () => buildRockLocked(ws, buildDir, outFile, meta));
}

async function buildRockLocked(ws: Workspace, buildDir: string, outFile: string, meta: RockMeta): Promise<RockBuild> {
  const cell = cellOfMeta(meta);
  const steps = layerSteps(ws, outFile, cell);
  const manifest = parseYaml(await readFile(join(buildDir, 'rockcraft.yaml'), 'utf8')) as RockManifest;
  const plan = planRock(manifest, join(buildDir, 'rockcraft.yaml'), meta.suite);
  const mtime = layerTime(meta.epoch);
  const layers: Array<LayerBlob & { cached: boolean }> = [];
  const step = <T>(what: string, fn: () => Promise<T>) => inStep(`rock ${plan.name}: ${what}`, fn);

  // 1-2: Debian base and the runtime packages, as two layers (both roots made at once if missing).
  let roots: Promise<[string, string]> | undefined;
  const bothRoots = () => (roots ??= rootfsPair(ws.cache, plan.packages, cell));
  const baseKey = rootfsKey('minbase', [], cell);
  const fullKey = rootfsKey('minbase', plan.packages, cell);
  layers.push(
    await layerStep(
      steps,
      'base',
      'base layer',
      `debian ${cell.suite ?? SUITE} minbase`,
      { rootfs: baseKey, mtime: String(mtime) },
      async () => dirEntries((await bothRoots())[0], ''),
      mtime,
      step,
    ),
  );
  layers.push(
    await layerStep(
      steps,
      'runtime',
      'runtime packages layer',
      `packages: ${plan.packages.join(' ')}`,
      { rootfs: fullKey, base: baseKey, mtime: String(mtime) },
      async () => {
        const [base, full] = await bothRoots();
        return dirEntries(await rootfsDiff(ws.cache, base, full, cell), '', { skip: (r) => r === 'var/cache/apt' || r.startsWith('var/log/') });
      },
      mtime,
      step,
    ),
  );

  const below: DirMeta = new Map();
  const remember = (l: LayerBlob) => {
    for (const [p, m] of Object.entries(l.dirs)) below.set(p, m);
  };
  layers.forEach(remember);

  layers.push(...(await partLayers(ws, plan, buildDir, below, mtime, step, steps)));
  if (plan.cds) layers.push(await cdsLayer(ws, plan.cds, layers, below, mtime, step, steps));

  // Users, pebble and its layer: the rock's own additions.
  const full = await rootfs(ws.cache, 'minbase', plan.packages, cell);
  const pebbleBin = join(buildDir, 'inputs', 'pebble', 'pebble');
  if (!existsSync(pebbleBin)) throw new UserError('E_STAGE', `${pebbleBin} is missing`);
  let passwd = readFileSync(join(full, 'etc/passwd'), 'utf8');
  let group = readFileSync(join(full, 'etc/group'), 'utf8');
  if (plan.user && !passwd.split('\n').some((l) => l.startsWith(`${plan.user!.name}:`))) {
    passwd += `${plan.user.name}:x:${plan.user.uid}:${plan.user.uid}::/nonexistent:/usr/bin/false\n`;
    group += `${plan.user.name}:x:${plan.user.uid}:\n`;
  }
  const uid = plan.user?.uid ?? 0;
  const extra: TarEntry[] = [
    { path: 'etc/group', type: 'file', mode: 0o644, uid: 0, gid: 0, data: Buffer.from(group) },
    { path: 'etc/passwd', type: 'file', mode: 0o644, uid: 0, gid: 0, data: Buffer.from(passwd) },
    { path: 'usr/bin/pebble', type: 'file', mode: 0o755, uid: 0, gid: 0, source: pebbleBin, size: statSync(pebbleBin).size },
    { path: 'var/lib/pebble', type: 'dir', mode: 0o755, uid: 0, gid: 0 },
    { path: 'var/lib/pebble/default', type: 'dir', mode: 0o755, uid, gid: uid },
    { path: 'var/lib/pebble/default/layers', type: 'dir', mode: 0o755, uid, gid: uid },
    { path: `var/lib/pebble/default/layers/001-${plan.name}.yaml`, type: 'file', mode: 0o644, uid: 0, gid: 0, data: Buffer.from(plan.pebbleLayer) },
  ];
  const extraEntries = inheritDirs(extra, below);
  layers.push(
    await layerStep(
      steps,
      'rock',
      'pebble and users layer',
      'users, pebble and its service layer',
      {
        extra: digestOf(extra.map((e) => ({ ...e, data: e.data?.toString() }))),
        pebble: stagedKey(dirname(pebbleBin)) ?? createHash('sha256').update(readFileSync(pebbleBin)).digest('hex'),
        dirs: digestOf(extraEntries.map((e) => [e.path, e.mode, e.uid, e.gid])),
        mtime: String(mtime),
      },
      async () => extraEntries,
      mtime,
      step,
    ),
  );

  const created = new Date(meta.epoch * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
  const env = { ...plan.env };
  const image = assembleImage(
    layers,
    {
      architecture: meta.arch ?? hostArch(),
      created,
      user: plan.user ? `${plan.user.uid}:${plan.user.uid}` : '0:0',
      env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      entrypoint: plan.entrypoint,
      cmd: [],
      workingDir: '/',
      labels: {
        ...plan.labels,
        'org.opencontainers.image.created': created,
        'org.opencontainers.image.revision': meta.revision,
        'org.opencontainers.image.source': meta.source,
      },
    },
    plan.version,
  );
  // Unchanged: the archive already holds this manifest.
  const reused = await writeArchiveUnlessCurrent(ws, image, outFile, meta.epoch, step, steps, layers);
  return { artifact: outFile, image, layers, reused };
}

/**
 * A layered flavour (`over:` in the matrix): the base rock's image, its layers byte for byte, then
 * one layer per part of the flavour's manifest and, when it has services, its pebble layer
 * (`002-<name>.yaml`, merged over the base's by pebble). Environment: the base's with the
 * flavour's on top; entrypoint: the flavour's entrypoint-service, else the base's.
 */
export async function buildFlavourRock(ws: Workspace, base: RockBuild, buildDir: string, outFile: string, meta: RockMeta): Promise<RockBuild> {
  return withLock(workspaceLock(ws, `pack-${basename(outFile)}`), outFile, () => buildFlavourRockLocked(ws, base, buildDir, outFile, meta));
}

async function buildFlavourRockLocked(ws: Workspace, base: RockBuild, buildDir: string, outFile: string, meta: RockMeta): Promise<RockBuild> {
  const cell = cellOfMeta(meta);
  const steps = layerSteps(ws, outFile, cell);
  const manifest = parseYaml(await readFile(join(buildDir, 'rockcraft.yaml'), 'utf8')) as RockManifest;
  const plan = planRock(manifest, join(buildDir, 'rockcraft.yaml'), meta.suite);
  const mtime = layerTime(meta.epoch);
  const step = <T>(what: string, fn: () => Promise<T>) => inStep(`rock ${plan.name}: ${what}`, fn);
  // The base's config: ours, or (--base-archive) rockcraft's, where any of these may be absent.
  const parsed = JSON.parse(base.image.config.toString()) as {
    config?: { User?: string; Env?: string[]; Entrypoint?: string[]; Labels?: Record<string, string> };
  };
  const baseConfig = {
    config: {
      User: parsed.config?.User ?? '',
      Env: parsed.config?.Env ?? [],
      Entrypoint: parsed.config?.Entrypoint ?? [],
      Labels: parsed.config?.Labels ?? {},
    },
  };
  const below: DirMeta = new Map();
  for (const l of base.image.layers) for (const [p, m] of Object.entries(l.dirs)) below.set(p, m);
  const layers: Array<LayerBlob & { cached: boolean }> = [...base.layers];
  layers.push(...(await partLayers(ws, plan, buildDir, below, mtime, step, steps)));
  if (Object.keys(manifest.services ?? {}).length) {
    const uid = plan.user?.uid ?? 0;
    const extra: TarEntry[] = [
      { path: `var/lib/pebble/default/layers/002-${plan.name}.yaml`, type: 'file', mode: 0o644, uid: 0, gid: 0, data: Buffer.from(plan.pebbleLayer) },
    ];
    const entries = inheritDirs(extra, below);
    const inputs = { entries: digestOf(entries.map((e) => ({ ...e, data: e.data?.toString() }))), uid: String(uid), mtime: String(mtime) };
    layers.push(await layerStep(steps, 'flavour', 'pebble layer', `pebble layer of ${plan.name}`, inputs, async () => entries, mtime, step));
  }
  const env = new Map(baseConfig.config.Env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)] as const));
  for (const [k, v] of Object.entries(plan.env)) env.set(k, v);
  const created = new Date(meta.epoch * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
  const image = assembleImage(
    layers,
    {
      architecture: meta.arch ?? hostArch(),
      created,
      user: baseConfig.config.User,
      env: [...env].map(([k, v]) => `${k}=${v}`),
      entrypoint: manifest['entrypoint-service'] ? plan.entrypoint : baseConfig.config.Entrypoint,
      cmd: [],
      workingDir: '/',
      labels: {
        ...baseConfig.config.Labels,
        ...plan.labels,
        // A base labelled by rockcraft names itself as ref.name: the flavour names itself there too.
        ...('org.opencontainers.image.ref.name' in baseConfig.config.Labels ? { 'org.opencontainers.image.ref.name': plan.name } : {}),
        'org.opencontainers.image.created': created,
        'org.opencontainers.image.revision': meta.revision,
        'org.opencontainers.image.source': meta.source,
        'org.opencontainers.image.base.digest': base.image.manifestDigest,
        // The base's name: rockcraft labels it as ref.name (its title may be a human one), we as the title.
        'io.sparkcraft.layered-over':
          baseConfig.config.Labels['org.opencontainers.image.ref.name'] ?? baseConfig.config.Labels['org.opencontainers.image.title'] ?? '',
      },
    },
    plan.version,
  );
  const reused = await writeArchiveUnlessCurrent(ws, image, outFile, meta.epoch, step, steps, layers);
  return { artifact: outFile, image, layers, reused };
}

/** Layer keys the rocks in the workspace's dist/ are made of (their records, in this format): what trimLayerCache keeps. */
export function layersInUse(ws: Workspace): Set<string> {
  if (!existsSync(ws.stamps)) return new Set();
  const keys = new Set<string>();
  for (const n of readdirSync(ws.stamps).filter((x) => x.endsWith('.state.json'))) {
    const r = readRecord(join(ws.stamps, n)) as Partial<RockRecord> | null | undefined;
    if (r?.kind !== 'rock' || r.format !== FORMATS.rock || !existsSync(join(ws.dist, n.slice(0, -'.state.json'.length)))) continue;
    for (const k of r.data?.layers ?? []) keys.add(k);
  }
  return keys;
}

/**
 * Revision (HEAD) and the build's epoch (the image's created time; files get layerTime of it): SOURCE_DATE_EPOCH
 * when set (the workspace's), else the commit time of the last change to matrix.yaml or the lock file.
 */
export async function gitRevision(root: string, sourceDateEpoch: number | undefined): Promise<{ revision: string; epoch: number }> {
  const revision = (await headRevision(root)) ?? 'unknown';
  const epoch = sourceDateEpoch ?? (await lastChange(root, ['matrix.yaml', 'sparkcraft.lock.json']));
  return { revision, epoch };
}
