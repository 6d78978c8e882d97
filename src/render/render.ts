/**
 * Render one line × flavour × risk into files: the rockcraft and snapcraft manifests and the
 * static files the parts dump (entrypoint, pebble service scripts, configs, snap wrappers, hook).
 * Pure: templates are read once by `loadTemplates`; `renderLine` returns data; writing is in cli.ts.
 */
import Handlebars from 'handlebars';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { AggregateUserError, UserError } from '../lib/errors.ts';
import { projectRoot } from '../lib/paths.ts';
import type { Matrix, ResolvedLine } from '../config/types.ts';
import { validate } from './schema.ts';
import { rockcraftSchema, snapcraftSchema } from './schemas.ts';
import { examplesJar } from '../build/examples.ts';

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
  const java = `openjdk-${r.line.java}-jre-headless`;
  return {
    rock: [java, 'python3', 'tini', 'procps', 'krb5-user', 'libnss3', 'bash', 'ca-certificates'],
    snap: [java, 'python3'],
  };
}

const WRAPPERS = [
  { name: 'service-account-registry', shell: false },
  { name: 'spark-submit', shell: false },
  { name: 'spark-shell', shell: true },
  { name: 'pyspark', shell: true },
  { name: 'spark-sql', shell: true },
];

export function templateContext(m: Matrix, r: ResolvedLine) {
  return {
    project: m.project,
    line: r.line,
    flavour: r.flavour,
    risk: r.risk,
    version: r.flavour.tagVersion ? `${r.line.spark}-${r.flavour.tagVersion}` : r.line.spark,
    imageRef: r.image.ref,
    py4j: r.line.py4j,
    packages: packages(r),
    examplesJar: examplesJar(r.line),
    apps: WRAPPERS,
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

/** Every file of one build folder, validated. */
export function renderLine(m: Matrix, r: ResolvedLine, t: Templates): RenderedFile[] {
  const ctx = templateContext(m, r);
  const files: RenderedFile[] = [
    { path: 'rockcraft.yaml', content: run(t, 'rockcraft.yaml.hbs', ctx), mode: 0o644 },
    { path: 'snap/snapcraft.yaml', content: run(t, 'snapcraft.yaml.hbs', ctx), mode: 0o644 },
    { path: 'snap/hooks/install', content: run(t, 'snap/hooks/install.hbs', ctx), mode: 0o755 },
  ];
  for (const name of [...t.keys()].sort()) {
    if (!name.startsWith('rock/') && !name.startsWith('snap/etc/')) continue;
    const out = name.replace(/\.hbs$/, '');
    files.push({ path: `files/${out}`, content: run(t, name, ctx), mode: out.endsWith('.sh') ? 0o755 : 0o644 });
  }
  for (const w of WRAPPERS) files.push({ path: `files/snap/bin/${w.name}`, content: run(t, 'snap/bin/wrapper.hbs', { ...ctx, ...w }), mode: 0o755 });
  validateManifests(files, `${r.line.track}/${r.flavour.name}`);
  return files;
}

export function validateManifests(files: RenderedFile[], what: string): void {
  const problems: UserError[] = [];
  for (const [path, schema, tool] of [['rockcraft.yaml', rockcraftSchema, 'rockcraft'], ['snap/snapcraft.yaml', snapcraftSchema, 'snapcraft']] as const) {
    const f = files.find((x) => x.path === path)!;
    let doc: unknown;
    try {
      doc = parseYaml(f.content);
    } catch (e) {
      problems.push(new UserError('E_MANIFEST', `${what} ${path} is not valid YAML: ${(e as Error).message.split('\n')[0]}`));
      continue;
    }
    for (const p of validate(doc, schema)) problems.push(new UserError('E_MANIFEST', `${what} ${path}: ${p} (${tool} would refuse it)`));
  }
  if (problems.length === 1) throw problems[0];
  if (problems.length) throw new AggregateUserError(problems);
}
