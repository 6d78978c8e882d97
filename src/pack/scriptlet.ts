/**
 * A nil part's `override-build`, run on the host as craft-parts runs it: `bash -euo pipefail` in a
 * copy of the part's source, with CRAFT_PART_INSTALL to fill and CRAFT_STAGE holding the parts it
 * comes `after`. Its build-packages must be installed on the host (setup installs them). The
 * install tree is cached by the hash of everything that goes in: the script, the source and stage
 * trees, the build-packages' versions and SOURCE_DATE_EPOCH (passed on only when the build's
 * environment sets it, as rockcraft's managed build instance does not).
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { UserError } from '../lib/errors.ts';
import { sweepLeftovers } from '../lib/fsx.ts';
import { cacheLock, decide, digestOf, FORMATS, makeRecord, stepKey, withLock, writeRecord, type Cell } from '../lib/state.ts';
import { hostArch } from '../lib/arch.ts';
import { temporary } from '../lib/interrupt.ts';

/** The scriptlet record format (lib/state.ts FORMATS.scriptlet): in every install tree's key. */
export const SCRIPTLET_FORMAT = FORMATS.scriptlet;
const RECORD = '.state.json';

export interface ScriptletPart {
  name: string;
  /** The part's source directory. */
  source: string;
  script: string;
  packages: string[];
  /** The trees the script finds under $CRAFT_STAGE: each at its place (`opt/spark`, or '' for the top). */
  stage: Array<{ at: string; dir: string }>;
}

export interface ScriptletRun {
  install: string;
  cached: boolean;
  key: string;
}

/** Versions of installed Debian packages; a missing one is an error naming all that are missing. */
export async function hostPackages(part: string, names: string[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const missing: string[] = [];
  for (const n of names) {
    const r = await execa('dpkg-query', ['-W', '-f', '${Status}\t${Version}', n], { reject: false });
    const [status, version] = r.stdout.split('\t');
    if (r.exitCode === 0 && status === 'install ok installed' && version) out[n] = version;
    else missing.push(n);
  }
  if (missing.length) throw new UserError('E_TOOL', `part ${part} needs the build-packages ${missing.join(', ')} on this host`);
  return out;
}

/**
 * Run (or reuse) the part's build; `treeKey` gives the content key of a directory; `root` holds the
 * cache (`<cache>/parts`; its lock is under `<cache>/locks`). The install tree is keyed by the record format, the cell and every input; its record
 * (`.state.json`, written before the tree is renamed into place) is what makes it count as built.
 */
export async function runScriptlet(
  p: ScriptletPart,
  env: { sourceDateEpoch?: string; project: string; version: string },
  treeKey: (dir: string) => Promise<string>,
  cell: Cell,
  root: string,
): Promise<ScriptletRun> {
  const tools = await hostPackages(p.name, p.packages);
  const stageKeys = await Promise.all(p.stage.map(async (s) => [s.at, await treeKey(s.dir)]));
  const inputs = { script: digestOf(p.script), source: await treeKey(p.source), stage: digestOf(stageKeys), tools: digestOf(tools), env: digestOf(env) };
  const key = stepKey('scriptlet', cell, inputs).slice(0, 32);
  const dest = join(root, `${p.name}-${key}`);
  // Under a cache lock: concurrent builds run one part's build once.
  return withLock(cacheLock(dirname(root), `part-${p.name}-${key}`), `part ${p.name}'s build`, async () => {
    if (!(await decide(`override-build ${p.name}`, join(dest, RECORD), 'scriptlet', cell, inputs)).decision.run)
      return { install: join(dest, 'install'), cached: true, key };
    await buildInto(p, env, cell, root, dest, async (tmp) => writeRecord(join(tmp, RECORD), makeRecord(join(tmp, RECORD), 'scriptlet', cell, inputs)));
    return { install: join(dest, 'install'), cached: false, key };
  });
}

async function buildInto(
  p: ScriptletPart,
  env: { sourceDateEpoch?: string; project: string; version: string },
  cell: Cell,
  root: string,
  dest: string,
  record: (tmp: string) => Promise<void>,
): Promise<void> {
  await mkdir(root, { recursive: true });
  await sweepLeftovers(root, /\.tmp-(\d+)$/);
  const tmp = temporary(`${dest}.tmp-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  try {
    const build = join(tmp, 'build');
    const install = join(tmp, 'install');
    const stage = join(tmp, 'stage');
    await cp(p.source, build, { recursive: true });
    await mkdir(install, { recursive: true });
    await mkdir(stage, { recursive: true });
    for (const s of p.stage) {
      const names = s.at ? [s.at] : await readdir(s.dir);
      for (const n of names) {
        const at = join(stage, n);
        if (existsSync(at)) continue;
        await mkdir(dirname(at), { recursive: true });
        await symlink(s.at ? s.dir : join(s.dir, n), at);
      }
    }
    // stdin closed: bash reads bashrc when its stdin is a socket (as node's pipes are).
    const r = await execa('bash', ['--norc', '--noprofile', '-euo', 'pipefail', '-c', p.script], {
      cwd: build,
      stdin: 'ignore',
      extendEnv: false,
      reject: false,
      all: true,
      env: {
        PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        HOME: tmp,
        LANG: 'C.UTF-8',
        ...(env.sourceDateEpoch ? { SOURCE_DATE_EPOCH: env.sourceDateEpoch } : {}),
        CRAFT_PROJECT_NAME: env.project,
        CRAFT_PROJECT_VERSION: env.version,
        CRAFT_PART_NAME: p.name,
        CRAFT_PART_SRC: p.source,
        CRAFT_PART_BUILD: build,
        CRAFT_PART_INSTALL: install,
        CRAFT_STAGE: stage,
        // As rockcraft sets them: the scriptlet runs on this host, for the cell's architecture.
        CRAFT_ARCH_BUILD_ON: hostArch(),
        CRAFT_ARCH_BUILD_FOR: cell.arch,
      },
    });
    if (r.exitCode !== 0) {
      const last = (r.all ?? '').trim().split('\n').slice(-3).join(' | ');
      throw new UserError('E_BUILD', `part ${p.name}: override-build failed with status ${r.exitCode}: ${last}`);
    }
    await rm(build, { recursive: true, force: true });
    await rm(stage, { recursive: true, force: true });
    await record(tmp);
    if (existsSync(dest)) await rm(dest, { recursive: true, force: true });
    await rename(tmp, dest);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
