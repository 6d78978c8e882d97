/**
 * The built-in snap backend: derives meta/snap.yaml from a rendered snapcraft.yaml as snapcraft
 * does (apps, plugs, hooks, environment), fills a prime tree from the parts (dump parts from the
 * build folder; stage-packages as installed by Debian on top of a minimal base), and packs it
 * with mksquashfs using snapcraft's options and fixed timestamps.
 */
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { chmod, cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { UserError } from '../lib/errors.ts';
import { sweepLeftovers } from '../lib/fsx.ts';
import { inStep } from '../lib/log.ts';
import { rootfsDiff, rootfsPair } from '../lib/tools/mmdebstrap.ts';
import { mksquashfs } from '../lib/tools/squashfs.ts';
import { dirEntries } from './layer.ts';
import { hostArch } from '../config/matrix.ts';
import { organize, planParts, primed, type Part, type PartPlan } from './parts.ts';
import { sha256File } from '../lib/hash.ts';
import { artifactStamp, tmpArtifact } from './oci.ts';
import type { Workspace } from '../lib/workspace.ts';
import { decide, digestOf, makeRecord, readRecord, stepKey, withLock, workspaceLock, writeRecord, type Cell, type StepRecord } from '../lib/state.ts';
import { temporary } from '../lib/interrupt.ts';

export interface SnapcraftYaml {
  name: string;
  version: string;
  summary: string;
  description: string;
  title?: string;
  license?: string;
  base: string;
  grade?: string;
  confinement: string;
  environment?: Record<string, string>;
  plugs?: Record<string, unknown>;
  apps?: Record<string, { command: string; plugs?: string[]; environment?: Record<string, string>; 'command-chain'?: string[] }>;
  hooks?: Record<string, unknown>;
  parts: Record<string, Part>;
}

/** Pure: meta/snap.yaml as snapcraft writes it for our manifests. */
export function deriveSnapYaml(s: SnapcraftYaml, hooks: string[], arch = hostArch()): Record<string, unknown> {
  const apps: Record<string, unknown> = {};
  for (const [name, a] of Object.entries(s.apps ?? {})) {
    apps[name] = {
      command: a.command,
      ...(a['command-chain'] ? { 'command-chain': a['command-chain'] } : {}),
      ...(a.plugs ? { plugs: a.plugs } : {}),
      ...(a.environment ? { environment: a.environment } : {}),
    };
  }
  const hookDefs: Record<string, unknown> = { ...(s.hooks ?? {}) };
  for (const h of hooks) hookDefs[h] ??= {};
  return {
    name: s.name,
    version: s.version,
    summary: s.summary,
    description: s.description,
    ...(s.title ? { title: s.title } : {}),
    ...(s.license ? { license: s.license } : {}),
    architectures: [arch],
    base: s.base,
    apps,
    confinement: s.confinement,
    grade: s.grade ?? 'stable',
    ...(s.environment ? { environment: s.environment } : {}),
    ...(Object.keys(hookDefs).length ? { hooks: hookDefs } : {}),
    ...(s.plugs ? { plugs: s.plugs } : {}),
  };
}

/** Snap format rules snapd applies to meta/snap.yaml (the ones a pack can violate). */
export function checkSnapYaml(y: Record<string, unknown>): string[] {
  const p: string[] = [];
  if (typeof y.name !== 'string' || !/^(?=.*[a-z])[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/.test(y.name) || y.name.includes('--'))
    p.push('name is not a valid snap name');
  if (typeof y.version !== 'string' || !/^[a-zA-Z0-9](?:[a-zA-Z0-9:.+~-]{0,30}[a-zA-Z0-9+~])?$/.test(y.version)) p.push('version is not a valid snap version');
  if (!['strict', 'classic', 'devmode'].includes(y.confinement as string)) p.push('confinement must be strict, classic or devmode');
  for (const [n, a] of Object.entries((y.apps ?? {}) as Record<string, { command?: string }>)) {
    if (!/^[a-zA-Z0-9](?:-?[a-zA-Z0-9])*$/.test(n)) p.push(`app name ${n} is invalid`);
    if (!a.command) p.push(`app ${n} has no command`);
  }
  return p;
}

/** What the built-in backend makes of a snapcraft.yaml and its hooks: data, computed before any work. */
export interface SnapBuildPlan {
  name: string;
  packages: string[];
  parts: PartPlan[];
  /** meta/snap.yaml */
  snapYaml: Record<string, unknown>;
  hooks: string[];
}

/** Pure: the plan; refuses what snapd would refuse and plugins it cannot run. */
export function planSnap(sy: SnapcraftYaml, hooks: string[], where = 'snap/snapcraft.yaml', arch = hostArch()): SnapBuildPlan {
  const { parts, packages } = planParts(sy.parts, where);
  const snapYaml = deriveSnapYaml(sy, hooks, arch);
  const problems = checkSnapYaml(snapYaml);
  if (problems.length) throw new UserError('E_SNAP_YAML', `meta/snap.yaml would be refused: ${problems.join('; ')}`);
  return { name: sy.name, packages, parts, snapYaml, hooks };
}

/**
 * Build the snap at `outFile` unless its record (`build/.stamps/<snap>.state.json`: the inputs, the
 * file's identity and sha256) says it is current. Under the artifact's lock. `java` is the cell's.
 */
export async function buildSnap(
  ws: Workspace,
  buildDir: string,
  outFile: string,
  epoch: number,
  arch = hostArch(),
  java: number | null = null,
  suite?: string,
): Promise<{ artifact: string; sha256: string; reused: boolean }> {
  return withLock(workspaceLock(ws, `pack-${basename(outFile)}`), outFile, () =>
    buildSnapLocked(ws, buildDir, outFile, epoch, { arch, java, ...(suite ? { suite } : {}) }),
  );
}

async function buildSnapLocked(
  ws: Workspace,
  buildDir: string,
  outFile: string,
  epoch: number,
  cell: Cell,
): Promise<{ artifact: string; sha256: string; reused: boolean }> {
  const arch = cell.arch;
  const sy = parseYaml(await readFile(join(buildDir, 'snap', 'snapcraft.yaml'), 'utf8')) as SnapcraftYaml;
  const hooksDir = join(buildDir, 'snap', 'hooks');
  const plan = planSnap(sy, existsSync(hooksDir) ? readdirSync(hooksDir).sort() : [], join(buildDir, 'snap', 'snapcraft.yaml'), arch);
  const { packages, snapYaml, hooks } = plan;

  // Key of everything that goes in: package set, snap.yaml, the staged inputs, part trees, hooks.
  const staged = readRecord(join(buildDir, 'inputs', '.state.json')) as Partial<StepRecord> | null | undefined;
  const h = createHash('sha256');
  for (const part of plan.parts) {
    for (const e of await dirEntries(join(buildDir, part.source), '')) {
      h.update(`${e.path}\0${e.mode}\0${e.size ?? 0}\0${e.linkname ?? ''}`);
      if (e.type === 'file' && !part.source.startsWith('inputs/')) h.update(await readFile(e.source!));
    }
  }
  const hh = createHash('sha256');
  for (const hk of hooks) hh.update(await readFile(join(hooksDir, hk)));
  // Staged inputs carry the key of what they were made from; other files are hashed whole.
  const inputs = {
    manifest: digestOf({ packages, snapYaml, epoch }),
    staged: typeof staged?.key === 'string' ? staged.key : 'no-record',
    parts: h.digest('hex'),
    hooks: hh.digest('hex'),
  };
  const key = stepKey('snap', cell, inputs).slice(0, 32);
  // The prime tree (as big as the snap unpacked) goes whether the build succeeds or not; trees
  // of builds that were killed are swept by the next build (their process is gone).
  const primes = join(ws.cache, 'snap-prime');
  await sweepLeftovers(primes, /^[0-9a-f]{32}\.(\d+)$/);
  const record = artifactStamp(ws, outFile, 'state.json');
  const { decision, record: found } = await decide<{ sha256: string }>(`snap ${basename(outFile)}`, record, 'snap', cell, inputs, {
    legacy: [{ file: artifactStamp(ws, outFile, 'key'), format: 3 }],
  });
  if (!decision.run && found?.data?.sha256) return { artifact: outFile, sha256: found.data.sha256, reused: true };

  const prime = temporary(join(primes, `${key}.${process.pid}`));
  await mkdir(prime, { recursive: true });
  try {
    if (packages.length) {
      await inStep(`snap ${sy.name}: stage-packages ${packages.join(', ')}`, async () => {
        const diff = await rootfsDiff(ws.cache, ...(await rootfsPair(ws.cache, packages, cell)), cell);
        for (const top of ['usr', 'etc', 'lib', 'lib64']) {
          if (existsSync(join(diff, top))) await execa('cp', ['-a', join(diff, top), join(prime, top)]);
        }
        for (const f of ['etc/passwd', 'etc/group', 'etc/shadow', 'etc/gshadow', 'etc/passwd-', 'etc/group-', 'etc/shadow-', 'etc/gshadow-'])
          await rm(join(prime, f), { force: true });
      });
    }
    for (const part of plan.parts) {
      const src = join(buildDir, part.source);
      if (!existsSync(src)) throw new UserError('E_STAGE', `snap part ${part.name}: ${src} does not exist`);
      await inStep(`snap ${sy.name}: part ${part.name}`, async () => {
        for (const e of await dirEntries(src, '')) {
          if (e.type === 'dir') continue;
          const dest = organize(part, e.path);
          if (!primed(part, dest)) continue;
          await mkdir(dirname(join(prime, dest)), { recursive: true });
          if (e.type === 'symlink') await execa('ln', ['-sfn', e.linkname!, join(prime, dest)]);
          else await cp(e.source!, join(prime, dest), { preserveTimestamps: false });
        }
      });
    }
    await mkdir(join(prime, 'meta', 'hooks'), { recursive: true });
    await writeFile(join(prime, 'meta', 'snap.yaml'), toYaml(snapYaml, { lineWidth: 0 }));
    for (const hk of hooks) {
      await cp(join(hooksDir, hk), join(prime, 'meta', 'hooks', hk));
      await chmod(join(prime, 'meta', 'hooks', hk), 0o755);
    }
    await execa('chmod', ['-R', 'go-w', prime]);
    const tmp = tmpArtifact(ws, outFile);
    await mkdir(dirname(outFile), { recursive: true });
    await inStep(`snap ${sy.name}: mksquashfs → ${outFile}`, async () => {
      try {
        await mksquashfs(prime, tmp, epoch);
      } catch (e) {
        await rm(tmp, { force: true });
        throw e;
      }
      await rename(tmp, outFile);
    });
  } finally {
    await rm(prime, { recursive: true, force: true });
  }
  const sha256 = await sha256File(outFile);
  await writeRecord(record, makeRecord(record, 'snap', cell, inputs, [outFile], { sha256 }));
  rmSync(artifactStamp(ws, outFile, 'key'), { force: true });
  return { artifact: outFile, sha256, reused: false };
}
