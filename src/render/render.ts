/**
 * Render one line × flavour × risk into files: the rockcraft and snapcraft manifests and the
 * static files the parts dump (entrypoint, pebble service scripts, configs, snap wrappers, hook).
 * Pure: templates are read once by `loadTemplates`; `renderLine` returns data. Writing the build
 * folder and the committed manifests comes last, apart.
 */
import Handlebars from 'handlebars';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile, mkdir, writeFile, chmod } from 'node:fs/promises';
import { dirname, join, posix, relative } from 'node:path';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { AggregateUserError, UserError } from '../lib/errors.ts';
import { projectRoot } from '../lib/paths.ts';
import { writeFileAtomic, replaceDirAtomic } from '../lib/fsx.ts';
import { flavourAvailable, loadMatrix, resolveLine } from '../config/matrix.ts';
import { at, workspace, type Workspace } from '../lib/workspace.ts';
import type { FlavourSpec, Matrix, ResolvedLine } from '../config/types.ts';
import { flavourContext, flavourModules, type FlavourRegistry } from '../flavours/index.ts';
import { compileSchema } from '../lib/schema.ts';
import { hardenScript } from '../lib/hardening.ts';
import { defaultTemplate, ROLES } from '../lib/pod-security.ts';
import { rockcraftSchema, snapcraftSchema } from './schemas.ts';
import { readmeWithCells } from './cells.ts';
import { CDS_PRIME } from '../lib/cds.ts';

const checkRockcraft = compileSchema(rockcraftSchema);
const checkSnapcraft = compileSchema(snapcraftSchema);

export interface RenderedFile {
  /** Path relative to the build folder (`rockcraft.yaml`, `files/rock/opt/spark/entrypoint.sh`, ...). */
  path: string;
  content: string;
  mode: number;
}

export type Templates = Map<string, HandlebarsTemplateDelegate>;

export const TEMPLATE_DIR = join(projectRoot, 'templates');

const hb = Handlebars.create();
hb.registerHelper('eq', (a: unknown, b: unknown) => a === b);

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

export function loadTemplates(dir = TEMPLATE_DIR): Templates {
  const t: Templates = new Map();
  for (const file of walk(dir).sort()) {
    if (!file.endsWith('.hbs')) continue;
    const rel = relative(dir, file);
    try {
      t.set(rel, hb.compile(readFileSync(file, 'utf8'), { noEscape: true, strict: true }));
    } catch (e) {
      throw new UserError('E_TEMPLATE', `template ${rel} does not compile: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return t;
}

/** Ubuntu package names the manifests ask for, per artifact. */
export function packages(r: ResolvedLine): { rock: string[]; snap: string[] } {
  const java = `openjdk-${r.java}-jre-headless`;
  return {
    // libnss-wrapper: a passwd entry for an arbitrary UID (templates/rock/opt/spark/nss-wrapper.sh).
    rock: [java, 'python3', 'tini', 'procps', 'krb5-user', 'libnss3', 'libnss-wrapper', 'bash', 'ca-certificates'],
    snap: [java, 'python3'],
  };
}

const WRAPPERS = [
  { name: 'service-account-registry', shell: false },
  { name: 'spark-submit', shell: false },
  { name: 'spark-shell', shell: true },
  { name: 'pyspark', shell: true },
  { name: 'spark-sql', shell: true },
  // A private CA for the JVMs these start (src/spark8t/certs.ts; the reference snap's import-certificate).
  { name: 'import-certificate', shell: false },
  // Hive's beeline from the line's Spark (SQL over JDBC, to the rock's thrift-server): not spark8t's.
  { name: 'beeline', shell: false, exec: 'opt/spark/bin/beeline' },
];

/** How a service's value is written into the manifest: as it is, or double-quoted where YAML would read it otherwise. */
const yamlScalar = (v: string) => (/^[\w/$.(][^#]*$/.test(v) && !/: |\s$/.test(v) ? v : JSON.stringify(v));

/** A flavour's `services:` from the matrix as the manifest's YAML block (key order as pebble's docs give them). */
export function servicesYaml(services: FlavourSpec['services']): string {
  const out: string[] = [];
  for (const [name, svc] of Object.entries(services ?? {})) {
    out.push(`  ${name}:`);
    for (const key of ['override', 'summary', 'command', 'startup', 'on-success', 'on-failure'] as const) {
      const v = svc[key];
      if (v !== undefined) out.push(`    ${key}: ${yamlScalar(v)}`);
    }
    if (svc.environment) {
      out.push('    environment:');
      for (const [k, v] of Object.entries(svc.environment)) out.push(`      ${k}: ${yamlScalar(v)}`);
    }
  }
  return out.length ? `services:\n${out.join('\n')}\n` : '';
}

/** What every template sees: the cell's values, and under `ext` what its flavour's module adds. */
export function templateContext(r: ResolvedLine, ext: Record<string, unknown> = {}) {
  return {
    project: r.project,
    line: r.line,
    flavour: r.flavour,
    risk: r.risk,
    version: r.version,
    flavourVersion: r.flavourVersion,
    base: r.base ? { image: r.base.image.name, version: r.base.version, build: r.base.paths.build, imageRef: r.base.image.ref } : undefined,
    imageRef: r.image.ref,
    py4j: r.line.py4j,
    packages: packages(r),
    examplesJar: { dir: posix.dirname(r.paths.examplesJar), path: r.paths.examplesJar },
    thriftAuthJar: r.paths.thriftAuthJar,
    apps: WRAPPERS,
    arch: r.arch,
    architectures: r.architectures,
    java: r.java,
    /** Jars compiled at build time target the line's lowest Java, so every variant's run on all of them. */
    lowestJava: Math.min(...r.line.java),
    javaHome: r.javaHome,
    inputs: r.inputs,
    services: servicesYaml(r.flavour.services),
    /** The rock's file-mode rule as shell, over the base (the overlay) and over the primed parts. */
    harden: { overlay: hardenScript('$CRAFT_OVERLAY'), prime: hardenScript('$CRAFT_PRIME') },
    /** The class-data archive's part (src/pack/cds.ts): its override-prime, in cells whose Java has `cds`. */
    cds: r.cds ? { prime: CDS_PRIME } : undefined,
    ext,
  };
}

function run(t: Templates, name: string, ctx: object): string {
  const tpl = t.get(name);
  if (!tpl) throw new UserError('E_TEMPLATE', `template ${name} is missing from templates/`);
  try {
    return tpl(ctx);
  } catch (e) {
    throw new UserError('E_TEMPLATE', `template ${name}: ${(e as Error).message.split('\n')[0]}`, { hint: 'a value it names is missing from the matrix' });
  }
}

/**
 * A layered flavour's build folder: its manifest (`templates/flavours/<name>/rockcraft.yaml.hbs`) and
 * the files its parts dump (`templates/flavours/<name>/rock/...` → `files/rock/...`). Its templates
 * also get `baseDefaults`: the base's spark-defaults.conf rendered for this image, so a flavour
 * that changes the defaults ships the whole file.
 */
export function renderFlavour(r: ResolvedLine, t: Templates, ext: Record<string, unknown> = {}): RenderedFile[] {
  const dir = `flavours/${r.flavour.name}/`;
  const ctx = { ...templateContext(r, ext), baseDefaults: run(t, 'rock/etc/spark8t/conf/spark-defaults.conf.hbs', templateContext(r, ext)) };
  const files: RenderedFile[] = [{ path: 'rockcraft.yaml', content: run(t, `${dir}rockcraft.yaml.hbs`, ctx), mode: 0o644 }];
  for (const name of [...t.keys()].sort()) {
    if (!name.startsWith(`${dir}rock/`)) continue;
    const out = name.slice(dir.length).replace(/\.hbs$/, '');
    files.push({ path: `files/${out}`, content: run(t, name, ctx), mode: out.endsWith('.sh') ? 0o755 : 0o644 });
  }
  validateManifests(files, `${r.line.track}/${r.flavour.name}`, ['rockcraft.yaml']);
  return files;
}

/**
 * spark8t's driver and executor pod templates (Pod Security `restricted`, a read-only root), for
 * Spark run without spark8t: `/etc/spark8t/pod-templates/` in the rock, `$SNAP/etc/…` in the snap.
 * spark8t itself writes the same ones at each submission, merged under the user's own.
 */
export function podTemplateFiles(): RenderedFile[] {
  const header = '# spark8t\'s %s pod template: Pod Security "restricted" and a read-only root (src/lib/pod-security.ts).\n';
  return ['rock', 'snap'].flatMap((a) =>
    ROLES.map((role) => ({
      path: `files/${a}/etc/spark8t/pod-templates/${role}.yaml`,
      content: header.replace('%s', role) + toYaml(defaultTemplate(role)),
      mode: 0o644,
    })),
  );
}

/** Every file of one build folder, validated. */
export function renderLine(r: ResolvedLine, t: Templates, ext: Record<string, unknown> = {}): RenderedFile[] {
  if (r.flavour.over) return renderFlavour(r, t, ext);
  const ctx = templateContext(r, ext);
  const files: RenderedFile[] = [
    { path: 'rockcraft.yaml', content: run(t, 'rockcraft.yaml.hbs', ctx), mode: 0o644 },
    { path: 'snap/snapcraft.yaml', content: run(t, 'snapcraft.yaml.hbs', ctx), mode: 0o644 },
    { path: 'snap/hooks/install', content: run(t, 'snap/hooks/install.hbs', ctx), mode: 0o755 },
  ];
  for (const name of [...t.keys()].sort()) {
    if (!name.startsWith('rock/') && !name.startsWith('snap/etc/')) continue;
    if (name.startsWith('rock/opt/spark/cds/') && !r.cds) continue;
    const out = name.replace(/\.hbs$/, '');
    files.push({ path: `files/${out}`, content: run(t, name, ctx), mode: out.endsWith('.sh') ? 0o755 : 0o644 });
  }
  for (const w of WRAPPERS) files.push({ path: `files/snap/bin/${w.name}`, content: run(t, 'snap/bin/wrapper.hbs', { ...ctx, ...w }), mode: 0o755 });
  files.push(...podTemplateFiles());
  validateManifests(files, `${r.line.track}/${r.flavour.name}`);
  return files;
}

export function validateManifests(files: RenderedFile[], what: string, which: string[] = ['rockcraft.yaml', 'snap/snapcraft.yaml']): void {
  const problems: UserError[] = [];
  for (const [path, schema, tool] of (
    [
      ['rockcraft.yaml', checkRockcraft, 'rockcraft'],
      ['snap/snapcraft.yaml', checkSnapcraft, 'snapcraft'],
    ] as const
  ).filter(([p]) => which.includes(p))) {
    const f = files.find((x) => x.path === path)!;
    let doc: unknown;
    try {
      doc = parseYaml(f.content);
    } catch (e) {
      problems.push(new UserError('E_MANIFEST', `${what} ${path} is not valid YAML: ${(e as Error).message.split('\n')[0]}`));
      continue;
    }
    for (const p of schema(doc)) problems.push(new UserError('E_MANIFEST', `${what} ${path}: ${p} (${tool} would refuse it)`));
  }
  if (problems.length === 1) throw problems[0];
  if (problems.length) throw new AggregateUserError(problems);
}

// Writing: the build folder of a line, the committed manifests.

export const COMMITTED = ['rockcraft.yaml', 'snap/snapcraft.yaml'];

/** Directories the rock wants to exist (owned and moded by the manifest's permissions); a flavour's files are its own. */
function emptyDirs(files: RenderedFile[]): string[] {
  return files.some((f) => f.path === 'snap/snapcraft.yaml') ? ['rock/var/lib/spark', 'rock/var/log/spark', 'rock/etc/spark/conf'] : [];
}

/** Whether the file at `p` holds `content` with permission bits `mode`. */
function fileHolds(p: string, f: { content: string; mode: number }): boolean {
  const st = statSync(p, { throwIfNoEntry: false });
  return !!st?.isFile() && (st.mode & 0o7777) === f.mode && readFileSync(p, 'utf8') === f.content;
}

/**
 * Whether `dir` already holds exactly `files` (content and permission bits) and `dirs`, and nothing
 * else: then a render that changes nothing writes nothing (no fsync, no swap of files/).
 */
export function treeHolds(dir: string, files: Array<{ path: string; content: string; mode: number }>, dirs: string[]): boolean {
  const want = new Map(files.map((f) => [f.path, f]));
  const wantDirs = new Set(dirs);
  for (const f of files) for (let d = dirname(f.path); d !== '.'; d = dirname(d)) wantDirs.add(d);
  let seen = 0;
  const walkTree = (abs: string, rel: string): boolean => {
    for (const e of readdirSync(abs, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      const p = join(abs, e.name);
      if (e.isDirectory()) {
        if (!wantDirs.has(r) || !walkTree(p, r)) return false;
        continue;
      }
      const f = want.get(r);
      if (!f || !e.isFile() || !fileHolds(p, f)) return false;
      seen++;
    }
    return true;
  };
  try {
    return walkTree(dir, '') && seen === want.size && [...wantDirs].every((d) => statSync(join(dir, d), { throwIfNoEntry: false })?.isDirectory());
  } catch {
    return false;
  }
}

/**
 * Write a build folder: manifests, the install hook and files/ (replaced as a whole). inputs/ is left
 * alone. Files that already hold what is rendered are left as they are (a no-op render writes nothing).
 */
export async function writeBuildFolder(dir: string, files: RenderedFile[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const f of files.filter((x) => !x.path.startsWith('files/'))) {
    const p = join(dir, f.path);
    if (fileHolds(p, f)) continue;
    await mkdir(dirname(p), { recursive: true });
    await writeFileAtomic(p, f.content, f.mode);
  }
  const under = files.filter((x) => x.path.startsWith('files/')).map((f) => ({ ...f, path: f.path.slice('files/'.length) }));
  const dirs = emptyDirs(files);
  if (treeHolds(join(dir, 'files'), under, dirs)) return;
  await replaceDirAtomic(join(dir, 'files'), async (tmp) => {
    for (const f of under) {
      const p = join(tmp, f.path);
      await mkdir(dirname(p), { recursive: true });
      await writeFile(p, f.content);
      await chmod(p, f.mode);
    }
    for (const d of dirs) await mkdir(join(tmp, d), { recursive: true });
  });
}

/** What the render step wrote: the build folder and its files (relative paths). */
export interface Rendered {
  dir: string;
  files: string[];
}

/** The render step: the line's build folder (`r.paths.build`) written from the templates. */
export async function render(r: ResolvedLine, ws: Workspace, o: { templates?: Templates; ext?: Record<string, unknown> } = {}): Promise<Rendered> {
  if (!flavourAvailable(r.flavour)) {
    throw new UserError('E_FLAVOUR', `flavour ${r.flavour.name} cannot be built yet: ${r.flavour.reason ?? 'inputs unavailable'}`);
  }
  const files = renderLine(r, o.templates ?? loadTemplates(ws.templates), o.ext);
  const dir = at(ws, r.paths.build);
  await writeBuildFolder(dir, files);
  return { dir, files: files.map((f) => f.path) };
}

/**
 * What the committed manifests must contain: the default line at the default risk, and for each
 * available layered flavour of that line its manifest as `flavours/<name>/rockcraft.yaml`.
 */
export async function committedFiles(matrix: Matrix, t: Templates, registry: FlavourRegistry = flavourModules): Promise<RenderedFile[]> {
  // The committed manifests are the same on every host: the default cell on the matrix's first architecture.
  const arch = matrix.architectures[0]!;
  const r = resolveLine(matrix, { arch });
  const ext = (cell: ResolvedLine) => flavourContext(cell, registry);
  const out = renderLine(r, t, await ext(r)).filter((f) => COMMITTED.includes(f.path));
  for (const name of r.line.flavours) {
    const f = matrix.flavours[name]!;
    if (!f.over || !flavourAvailable(f)) continue;
    const fr = resolveLine(matrix, { flavour: name, arch });
    out.push({ ...renderLine(fr, t, await ext(fr)).find((x) => x.path === 'rockcraft.yaml')!, path: `flavours/${name}/rockcraft.yaml` });
  }
  return out;
}

/** Write the committed top-level manifests (the default line); returns their paths. */
export async function writeCommitted(ws: Workspace, matrix: Matrix, t: Templates): Promise<string[]> {
  const files = [...(await committedFiles(matrix, t)), ...(await readmeCells(ws, matrix))];
  for (const f of files) {
    await mkdir(dirname(join(ws.root, f.path)), { recursive: true });
    await writeFileAtomic(join(ws.root, f.path), f.content, 0o644);
  }
  return files.map((f) => f.path);
}

/** README.md with its table of cells current (none when the checkout's README has no table markers). */
async function readmeCells(ws: Workspace, matrix: Matrix): Promise<RenderedFile[]> {
  const readme = await readFile(join(ws.root, 'README.md'), 'utf8').catch(() => undefined);
  const content = readme === undefined ? undefined : readmeWithCells(readme, matrix);
  return content === undefined ? [] : [{ path: 'README.md', content, mode: 0o644 }];
}

/** The committed manifests that differ from what the matrix and templates produce. */
export async function check(o: { matrix?: string } = {}, ws: Workspace = workspace()): Promise<string[]> {
  const matrix = loadMatrix(o.matrix ?? ws.matrixFile);
  const want = [...(await committedFiles(matrix, loadTemplates(ws.templates))), ...(await readmeCells(ws, matrix))];
  const stale: string[] = [];
  for (const f of want) {
    const have = await readFile(join(ws.root, f.path), 'utf8').catch(() => undefined);
    if (have !== f.content) stale.push(f.path);
  }
  return stale;
}
