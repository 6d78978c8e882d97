/**
 * Running the artifacts without Docker: the rock with podman on runc (crun and podman's default
 * ulimits fail on this kind of host: see the containers.conf written here), the snap mounted (or
 * unpacked) and run with the environment snapd would give it.
 */
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { containersConf, execCommand, logsCommand, podman, removeCommand, runCommand } from '../lib/tools/podman.ts';
import { lastLine, run } from '../lib/tools/run.ts';
import { loadArchive } from '../lib/tools/skopeo-registry.ts';
import { mountSquashfs, unsquashfs } from '../lib/tools/squashfs.ts';
import { removeTree, unmountUnder } from '../lib/mounts.ts';
import { log } from '../lib/log.ts';
import { hostArch } from '../config/matrix.ts';

export { containersConf };

export class RockRunner {
  constructor(readonly image: string) {}

  static async load(archive: string, name: string): Promise<RockRunner> {
    const r = new RockRunner(`localhost/${name}`);
    await loadArchive(archive, r.image, { CONTAINERS_CONF: containersConf() });
    return r;
  }

  /** podman run --rm with host networking; `entrypoint` overrides pebble. */
  run(args: string[], opts: { entrypoint?: string; volumes?: string[]; envs?: Record<string, string>; timeout?: number } = {}) {
    return podman(runCommand(this.image, args, { ...opts, rm: true }), { timeoutMs: opts.timeout ?? 600_000 });
  }

  /** Start detached; `args` reach the entrypoint (pebble's entrypoint service). */
  async start(name: string, opts: { volumes?: string[]; envs?: Record<string, string>; args?: string[] } = {}): Promise<void> {
    await podman(removeCommand(name));
    const { args = [], ...spec } = opts;
    const r = await podman(runCommand(this.image, args, { ...spec, name, detach: true }));
    if (r.exitCode !== 0) throw new Error(`podman run ${name} failed: ${lastLine(r.stderr)}`);
  }

  exec(name: string, cmd: string[], opts: { timeout?: number } = {}) {
    return podman(execCommand(name, cmd), { timeoutMs: opts.timeout ?? 600_000 });
  }

  logs(name: string) {
    return podman(logsCommand(name));
  }

  remove(name: string) {
    return podman(removeCommand(name));
  }
}

/** The environment snapd gives an app, from meta/snap.yaml (pure). */
export function snapEnvironment(
  snapYaml: { name: string; architectures?: string[]; environment?: Record<string, string>; apps?: Record<string, { environment?: Record<string, string> }> },
  app: string | undefined,
  dirs: { snap: string; data: string; common: string; userData: string; userCommon: string; realHome: string },
  hostPath: string,
): Record<string, string> {
  const env: Record<string, string> = {
    SNAP: dirs.snap,
    SNAP_NAME: snapYaml.name,
    SNAP_INSTANCE_NAME: snapYaml.name,
    SNAP_REVISION: 'x1',
    SNAP_ARCH: snapYaml.architectures?.[0] ?? hostArch(),
    SNAP_DATA: dirs.data,
    SNAP_COMMON: dirs.common,
    SNAP_USER_DATA: dirs.userData,
    SNAP_USER_COMMON: dirs.userCommon,
    SNAP_REAL_HOME: dirs.realHome,
    HOME: dirs.userData,
    PATH: `${dirs.snap}/usr/sbin:${dirs.snap}/usr/bin:${dirs.snap}/sbin:${dirs.snap}/bin:${hostPath}`,
  };
  const expand = (v: string) => v.replace(/\$\{?(\w+)\}?/g, (w, k: string) => env[k] ?? w);
  for (const [k, v] of Object.entries(snapYaml.environment ?? {})) env[k] = expand(v);
  for (const [k, v] of Object.entries((app && snapYaml.apps?.[app]?.environment) ?? {})) env[k] = expand(v);
  return env;
}

export class SnapRunner {
  readonly yaml: {
    name: string;
    architectures?: string[];
    environment?: Record<string, string>;
    apps: Record<string, { command: string; 'command-chain'?: string[]; environment?: Record<string, string> }>;
  };
  constructor(
    readonly root: string,
    readonly dirs: { snap: string; data: string; common: string; userData: string; userCommon: string; realHome: string },
  ) {
    this.yaml = parse(readFileSync(join(root, 'meta', 'snap.yaml'), 'utf8'));
  }

  /** Whether `root` is the snap mounted read-only (as snapd has it) rather than an unpacked copy. */
  mounted = false;

  /**
   * The snap at `work/snap`: mounted read-only where this process may mount (root, loop devices), as
   * snapd does, else unpacked with unsquashfs (a writable copy: a write into $SNAP goes unnoticed
   * there). `close()` takes the mount down; the caller removes `work`.
   */
  static async open(snapFile: string, work: string, o: { unpack?: boolean } = {}): Promise<SnapRunner> {
    const root = join(work, 'snap');
    await removeTree(root);
    mkdirSync(root, { recursive: true });
    // `unpack` (default: SPARKCRAFT_SNAP_UNPACK=1) skips the mount, as a host that may not mount would.
    const unpack = o.unpack ?? process.env.SPARKCRAFT_SNAP_UNPACK === '1';
    const m = unpack ? { ok: false as const, why: 'unpack asked for (SPARKCRAFT_SNAP_UNPACK=1)' } : await mountSquashfs(snapFile, root);
    if (!m.ok) {
      log.info(`unpacking the snap (not mounted: ${m.why})`);
      rmSync(root, { recursive: true, force: true });
      await unsquashfs(snapFile, root);
    }
    const dirs = {
      snap: root,
      data: join(work, 'var/snap/data'),
      common: join(work, 'var/snap/common'),
      realHome: join(work, 'home'),
      userData: join(work, 'home/snap/x1'),
      userCommon: join(work, 'home/snap/common'),
    };
    for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
    const s = new SnapRunner(root, dirs);
    s.mounted = m.ok;
    return s;
  }

  async close(): Promise<void> {
    if (this.mounted) await unmountUnder(this.root);
    this.mounted = false;
  }

  env(app?: string): Record<string, string> {
    return snapEnvironment(this.yaml, app, this.dirs, process.env.PATH ?? '/usr/bin:/bin');
  }

  /**
   * The snap installed for a user of this host: its install hook run, and KUBECONFIG as that user's
   * `~/.kube/config` (what the dot-kube-config plug lets the snap read).
   */
  async asHostUser(kubeconfig: string): Promise<void> {
    await this.hook('install');
    mkdirSync(join(this.dirs.realHome, '.kube'), { recursive: true });
    copyFileSync(kubeconfig, join(this.dirs.realHome, '.kube', 'config'));
  }

  hook(name: string) {
    return run([join(this.root, 'meta', 'hooks', name), []], { env: this.env(), extendEnv: false });
  }

  /** `spark-client.<app> args`: command-chain entries, then the command, as snapd runs them. */
  app(app: string, args: string[], opts: { input?: string; timeout?: number; cwd?: string } = {}) {
    const a = this.yaml.apps[app];
    if (!a) throw new Error(`snap has no app ${app}`);
    const [cmd, ...cmdArgs] = a.command.split(' ');
    const chain = (a['command-chain'] ?? []).map((c) => join(this.root, c));
    const argv = [...chain, join(this.root, cmd!), ...cmdArgs, ...args];
    return run([argv[0]!, argv.slice(1)], { env: this.env(app), extendEnv: false, input: opts.input ?? '', timeoutMs: opts.timeout ?? 600_000, cwd: opts.cwd });
  }
}
