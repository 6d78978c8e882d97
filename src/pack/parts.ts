/**
 * Parts as craft-parts runs them, shared by the rock and the snap backends: which parts are built
 * (dump and nil only), where a source file lands (`organize`: a `"*": dir/` entry places the whole
 * source under dir/, other entries rename paths of the source) and whether it is primed (`prime` globs).
 */
import { UserError } from '../lib/errors.ts';
import { fnmatch } from './layer.ts';

export interface Permission {
  path?: string;
  owner?: number;
  group?: number;
  mode?: string;
}

/** A part of a rockcraft.yaml or snapcraft.yaml (the keys our manifests use). */
export interface Part {
  plugin: string;
  source?: string;
  organize?: Record<string, string>;
  permissions?: Permission[];
  prime?: string[];
  'stage-packages'?: string[];
  'build-packages'?: string[];
  'override-build'?: string;
  'overlay-script'?: string;
  'override-prime'?: string;
  after?: string[];
}

export interface PartPlan {
  name: string;
  source: string;
  prefix: string; // where the source's top level lands (from `organize: {"*": dir/}`)
  renames: Record<string, string>;
  permissions: Permission[];
  prime?: string[];
  /** A nil part's override-build (run on the host by scriptlet.ts), with what it needs. */
  build?: { script: string; packages: string[]; after: string[] };
}

/** Pure: the parts to build, in manifest order, and every stage-package (sorted, once). */
export function planParts(parts: Record<string, Part>, where: string, map: (pkg: string) => string = (p) => p): { parts: PartPlan[]; packages: string[] } {
  const packages: string[] = [];
  const out: PartPlan[] = [];
  for (const [name, p] of Object.entries(parts)) {
    for (const pkg of p['stage-packages'] ?? []) packages.push(map(pkg));
    if (p.plugin === 'nil' && !p['override-build']) continue;
    if (p.plugin === 'dump' && p['override-build'])
      throw new UserError(
        'E_UNSUPPORTED',
        `${where}: part ${name} overrides the dump plugin's build; the built-in backend runs override-build on nil parts only`,
      );
    if (p.plugin !== 'dump' && p.plugin !== 'nil')
      throw new UserError('E_UNSUPPORTED', `${where}: part ${name} uses plugin ${p.plugin}; the built-in backend runs dump and nil parts`);
    if (!p.source) throw new UserError('E_MANIFEST', `${where}: part ${name} has no source`);
    let prefix = '';
    const renames: Record<string, string> = {};
    for (const [from, to] of Object.entries(p.organize ?? {})) {
      if (from === '*' && to.endsWith('/')) prefix = to.replace(/\/+$/, '');
      else renames[from] = to;
    }
    const build = p['override-build'] ? { script: p['override-build'], packages: (p['build-packages'] ?? []).map(map), after: p.after ?? [] } : undefined;
    out.push({ name, source: p.source, prefix, renames, permissions: p.permissions ?? [], prime: p.prime, ...(build ? { build } : {}) });
  }
  return { parts: out, packages: [...new Set(packages)].sort() };
}

/** Where `rel` (a path of the part's source; '' is its top) lands in the image. */
export function organize(part: PartPlan, rel: string): string {
  let path = rel;
  for (const [from, to] of Object.entries(part.renames)) if (path === from || path.startsWith(`${from}/`)) path = to + path.slice(from.length);
  return part.prefix ? (path ? `${part.prefix}/${path}` : part.prefix) : path;
}

/** Whether a landed path is primed: no `prime` list, or a glob matches it or lies below it. */
export function primed(part: PartPlan, path: string): boolean {
  return !part.prime || part.prime.some((g) => fnmatch(g, path) || g.startsWith(`${path}/`));
}
