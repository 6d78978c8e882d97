/**
 * spark-submit, spark-shell, pyspark and spark-sql: build the merged configuration from the six
 * levels, write it to a private temporary properties file, and run Spark with an argument array
 * (no shell), forwarding signals and exiting with Spark's status.
 */
import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, homedir } from 'node:os';
import { isatty } from 'node:tty';
import { join } from 'node:path';
import { describeError, UserError } from '../../lib/errors.ts';
import { log } from '../../lib/log.ts';
import { mask } from '../../lib/secrets.ts';
import { KubeClient } from '../kube/client.ts';
import type { Credentials } from '../kube/kubeconfig.ts';
import { applyLogLevel, connect } from '../kube/options.ts';
import { resolveAccount } from '../registry/account.ts';
import { expandVars, formatProperties, mergeLevels, parseConfArgs, readProperties, type Props } from '../conf/properties.ts';
import { secretsByReference } from '../conf/secret-refs.ts';
import { rpcAuth } from '../conf/rpc-auth.ts';
import { AUTH_SECRET_ENV_KEY, AUTH_SECRET_KEY, authSecretName } from '../registry/manifests.ts';
import { planTemplates, templateKey, type Role, type TemplatePlan } from '../../lib/pod-security.ts';
import { parseWrapperArgs, type WrapperArgs } from './args.ts';
import { driverOutcome, planDriverWatch, unreadableOutcome, type DriverRef, type PodState, type Seen } from './driver.ts';
import { pysparkStdinEnv } from './stdin.ts';
import { nssWrapper, type Anonymous } from './nss.ts';
import { descendants } from '../../lib/procs.ts';

export const WRAPPERS = ['spark-submit', 'spark-shell', 'pyspark', 'spark-sql'] as const;
export type WrapperTool = (typeof WRAPPERS)[number];

export interface Env {
  sparkHome: string;
  sparkConfs: string;
  userData: string;
  envConfFile: string | undefined;
}

export function sparkEnv(env: NodeJS.ProcessEnv = process.env): Env {
  const sparkHome = env.SPARK_HOME ?? '/opt/spark';
  return {
    sparkHome,
    sparkConfs: env.SPARK_CONFS ?? join(sparkHome, 'conf'),
    userData: env.SPARK_USER_DATA ?? env.HOME ?? homedir(),
    envConfFile: env.SPARK_CLIENT_ENV_CONF || undefined,
  };
}

/** The six levels, lowest priority first (pure apart from reading the named files). */
export function configurationLevels(
  tool: WrapperTool,
  e: Env,
  account: Props,
  args: Pick<WrapperArgs, 'propertiesFile' | 'conf'>,
  env: NodeJS.ProcessEnv = process.env,
): Props[] {
  const defaults = join(e.sparkConfs, 'spark-defaults.conf');
  return [
    existsSync(defaults) ? readProperties(defaults, env) : new Map(),
    tool === 'spark-shell' ? new Map([['spark.driver.extraJavaOptions', `-Dscala.shell.histfile=${e.userData}/.scala_history`]]) : new Map(),
    account,
    e.envConfFile ? readProperties(expandVars(e.envConfFile, env), env) : new Map(),
    args.propertiesFile ? readProperties(expandVars(args.propertiesFile, env), env) : new Map(),
    parseConfArgs(args.conf, env),
  ];
}

/** The local address the cluster can reach us on: a UDP socket "connected" to the API host. */
export async function detectDriverHost(server: string): Promise<string | undefined> {
  const u = new URL(server);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
  const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((res, rej) => {
      sock.once('error', rej);
      sock.connect(port, host, () => res());
    });
    return sock.address().address;
  } catch {
    log.debug(`driver host detection failed for ${host}:${port}`);
    return undefined;
  } finally {
    sock.close();
  }
}

export interface Plan {
  command: string;
  args: string[];
  props: Props;
  env: Record<string, string>;
  /** Cluster mode, waiting for the application: the driver pod whose final state is our status. */
  driver?: DriverRef & { creds: Credentials };
  /** The pod templates to write next to the properties (src/lib/pod-security.ts); absent for local[N]. */
  templates?: TemplatePlan;
  /** Client mode with RPC authentication: the secret the local driver reads from a private file. */
  driverAuthSecret?: Buffer;
}

/** A user's pod template, parsed (YAML or JSON); one line naming the file when it is not a Pod. */
async function readTemplate(path: string, role: Role): Promise<unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UserError('E_POD_TEMPLATE', `${templateKey(role)}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? describeError(e)}`);
  }
  let doc: unknown;
  try {
    doc = (await import('yaml')).parse(text);
  } catch (e) {
    throw new UserError('E_POD_TEMPLATE', `${templateKey(role)}: ${path} is not YAML: ${describeError(e).split('\n')[0]}`);
  }
  if (doc !== null && (typeof doc !== 'object' || Array.isArray(doc) || ((doc as { kind?: unknown }).kind ?? 'Pod') !== 'Pod')) {
    throw new UserError('E_POD_TEMPLATE', `${templateKey(role)}: ${path} is not a Pod manifest`);
  }
  return doc;
}

/** Everything but running: the command, its arguments and the merged properties. */
export async function planWrapper(
  tool: WrapperTool,
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<Plan & { propsFileArgIndex: number }> {
  const a = parseWrapperArgs(argv, tool);
  applyLogLevel(a.logLevel);
  const e = sparkEnv(env);
  const command = join(e.sparkHome, 'bin', tool);
  if (!existsSync(command)) throw new UserError('E_SPARK_HOME', `${command} not found`);
  // `--master local[N]` runs Spark locally: no cluster, no account (handy for trying a job).
  if (a.master && /^local(\[[^\]]*\])?$/.test(a.master)) {
    const props = mergeLevels(configurationLevels(tool, e, new Map(), a, env));
    const args = ['--master', a.master, '--properties-file', ''];
    return { command, args: [...args, ...a.rest], props, env: {}, propsFileArgIndex: 3 };
  }
  const { kube, kubeconfigPath } = await connect(a, env);
  let account: Awaited<ReturnType<typeof resolveAccount>>;
  try {
    account = await resolveAccount(kube, { username: a.username, namespace: a.namespace, ignoreIntegrationHub: a.ignoreIntegrationHub }, env);
  } finally {
    kube.close();
  }
  // The context spark8t used goes with the account's properties (as its namespace does).
  const context = kube.creds.sparkContext;
  const accountLevel = context ? new Map([...account.props, ['spark.kubernetes.context', context]]) : account.props;
  let props = mergeLevels(configurationLevels(tool, e, accountLevel, a, env));
  if (tool !== 'spark-submit') {
    const host = await detectDriverHost(kube.server);
    if (host) props = mergeLevels([new Map([['spark.driver.host', host]]), props]);
    if (!props.has('spark.driver.host')) {
      throw new UserError('E_DRIVER_HOST', 'Please specify spark.driver.host configuration property');
    }
  }
  let driver: Plan['driver'];
  // cluster: Spark's driver runs in a pod, not in the JVM started here.
  const mode = tool === 'spark-submit' && (a.deployMode ?? 'cluster') === 'cluster' ? 'cluster' : 'client';
  if (mode === 'cluster') {
    const watch = planDriverWatch(props, a.rest);
    props = watch.props;
    if (watch.driver) driver = { ...watch.driver, creds: kube.creds };
  }
  // Secret-looking Hadoop properties of the account go by reference (conf/secret-refs.ts).
  const byRef = secretsByReference(props, account.stored, mode);
  if (byRef.refused.length) {
    throw new UserError(
      'E_SECRET_AT_SUBMIT',
      `${byRef.refused.join(', ')} given at submit time would be written into the driver's ConfigMap, which every account of namespace ${account.namespace} may read`,
      {
        hint: `store it in the account (an administrator runs service-account-registry add-config --username ${account.name} --namespace ${account.namespace}), from where it reaches the pods by reference; or run in client mode`,
      },
    );
  }
  props = byRef.props;
  // Spark's RPC authenticated with the account's secret, by file (conf/rpc-auth.ts).
  let driverAuthSecret: Buffer | undefined;
  if (account.authSecret) {
    const auth = rpcAuth(props, authSecretName(account.name), AUTH_SECRET_KEY, AUTH_SECRET_ENV_KEY, mode);
    props = auth.props;
    if (auth.localFile) driverAuthSecret = account.authSecret;
  } else
    log.debug(`account ${account.namespace}:${account.name} has no RPC secret (service-account-registry upgrade makes one): Spark's RPC is not authenticated`);
  // Pod Security `restricted` and a read-only root for Spark's pods, under the user's own templates.
  const templates = await planTemplates(props, readTemplate);
  for (const u of templates.unmerged)
    log.warn(`${templateKey(u.role)}=${u.value} is not a local file: Spark uses it as it is, without spark8t's restricted settings`);
  if (byRef.referenced.length) log.debug(`by reference to the account's Secret: ${byRef.referenced.join(', ')}`);
  const args = ['--master', `k8s://${kube.server}`];
  if (tool === 'spark-submit') args.push('--deploy-mode', a.deployMode ?? 'cluster');
  args.push('--properties-file', '');
  const propsFileArgIndex = args.length - 1;
  args.push(...a.rest);
  const childEnv: Record<string, string> = { ...byRef.env };
  if (kubeconfigPath) childEnv.KUBECONFIG = kubeconfigPath;
  return { command, args, props, env: childEnv, propsFileArgIndex, driver, templates, driverAuthSecret };
}

/** How often the driver pod is read while Spark waits for it (what was last seen, if it disappears). */
const DRIVER_POLL_MS = 3000;

/**
 * Reads the driver pod while Spark runs and keeps the last state seen: when the pod is deleted
 * under Spark (which then exits 0), that is all there is to say what happened to it.
 */
class DriverWatch {
  seen?: Seen;
  readonly kube: KubeClient;
  private timer?: NodeJS.Timeout;
  private inflight: Promise<void> = Promise.resolve();
  private stopped = false;
  constructor(readonly driver: NonNullable<Plan['driver']>) {
    this.kube = new KubeClient(driver.creds);
    this.schedule(1000);
  }
  private schedule(ms: number): void {
    this.timer = setTimeout(() => {
      this.inflight = this.poll().finally(() => {
        if (!this.stopped) this.schedule(DRIVER_POLL_MS);
      });
    }, ms);
    this.timer.unref();
  }
  private async poll(): Promise<void> {
    try {
      const pod = (await this.kube.find('Pod', this.driver.name, this.driver.namespace)) as PodState | undefined;
      if (pod) this.seen = { pod, at: new Date() };
    } catch (e) {
      log.debug(`reading the driver pod failed: ${describeError(e)}`);
    }
  }
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.inflight;
  }
}

/**
 * Spark has finished waiting for the driver: read the pod and turn its final state, or what was
 * last seen of it, into our status (driver.ts decides).
 */
async function driverResult(watch: DriverWatch, sparkStatus: number): Promise<number> {
  const { driver } = watch;
  await watch.stop();
  if (sparkStatus !== 0) return sparkStatus;
  const context = driver.creds.sparkContext ? ` --context ${driver.creds.sparkContext}` : '';
  let outcome: ReturnType<typeof driverOutcome>;
  try {
    const pod = (await watch.kube.find('Pod', driver.name, driver.namespace)) as PodState | undefined;
    outcome = driverOutcome(sparkStatus, driver, pod, context, watch.seen);
  } catch (e) {
    outcome = unreadableOutcome(driver, watch.seen, describeError(e), context);
  }
  if (outcome.message) process.stderr.write(mask(`error: ${outcome.message}`) + '\n');
  return outcome.status;
}

/**
 * This process's UID when it has no passwd entry (`getent passwd` finds none) and nss_wrapper is
 * installed (the rock has it); undefined otherwise, and off Linux.
 */
function anonymousUser(): Anonymous | undefined {
  if (process.platform !== 'linux' || typeof process.getuid !== 'function' || typeof process.getgid !== 'function') return undefined;
  const uid = process.getuid();
  const passwd = existsSync('/etc/passwd') ? readFileSync('/etc/passwd', 'utf8') : '';
  // Known to /etc/passwd, the usual case: no process to start. Otherwise NSS (LDAP, sssd) may know it.
  if (passwd.split('\n').some((l) => l.split(':')[2] === String(uid))) return undefined;
  const found = spawnSync('getent', ['passwd', String(uid)], { stdio: 'ignore' });
  if (found.error || found.status !== 2) return undefined; // known, or no getent to ask
  let lib: string | undefined;
  try {
    lib = readdirSync('/usr/lib')
      .filter((d) => d.endsWith('-linux-gnu'))
      .map((d) => join('/usr/lib', d, 'libnss_wrapper.so'))
      .find((f) => existsSync(f));
  } catch {
    return undefined;
  }
  if (!lib) return undefined;
  const group = existsSync('/etc/group') ? readFileSync('/etc/group', 'utf8') : '';
  return { uid, gid: process.getgid(), home: process.env.HOME || '/', passwd, group, lib };
}

export async function runWrapper(tool: WrapperTool, argv: readonly string[]): Promise<number> {
  const plan = await planWrapper(tool, argv);
  // A script on stdin runs as typed in the shell, with `spark` and `sc` defined (stdin.ts).
  if (tool === 'pyspark') Object.assign(plan.env, pysparkStdinEnv(isatty(0), plan.props, process.env));
  if (tool === 'spark-shell') {
    const hist = join(sparkEnv().userData, '.scala_history');
    try {
      if (!existsSync(hist)) writeFileSync(hist, '', { flag: 'a' });
    } catch {
      /* the shell works without history */
    }
  }
  // The properties (they may hold credentials): private, and gone when Spark is.
  const dir = mkdtempSync(join(tmpdir(), 'spark8t-conf-'));
  let watch: DriverWatch | undefined;
  try {
    for (const [role, text] of Object.entries(plan.templates?.files ?? {}) as Array<[Role, string]>) {
      const tpl = join(dir, `${role}-pod-template.json`);
      writeFileSync(tpl, text, { mode: 0o600 });
      plan.props.set(templateKey(role), tpl);
    }
    if (plan.driverAuthSecret) {
      const f = join(dir, 'rpc-secret');
      writeFileSync(f, plan.driverAuthSecret, { mode: 0o600 });
      plan.props.set('spark.authenticate.secret.driver.file', f);
    }
    const anonymous = anonymousUser();
    if (anonymous) {
      const nss = nssWrapper(anonymous, dir, process.env.LD_PRELOAD);
      for (const [name, text] of Object.entries(nss.files)) writeFileSync(join(dir, name), text, { mode: 0o600 });
      Object.assign(plan.env, nss.env);
      log.debug(`UID ${anonymous.uid} has no passwd entry: Spark gets one through nss_wrapper`);
    }
    const file = join(dir, 'spark.conf');
    writeFileSync(file, formatProperties(plan.props), { mode: 0o600 });
    plan.args[plan.propsFileArgIndex] = file;
    log.debug(`${plan.command} ${plan.args.join(' ')}`);
    let signalled = false;
    if (plan.driver) watch = new DriverWatch(plan.driver);
    const status = await new Promise<number>((resolveExit, reject) => {
      const child = spawn(plan.command, plan.args, { stdio: 'inherit', env: { ...process.env, ...plan.env } });
      // A signal sent to us alone (a supervisor's SIGTERM) reaches Spark's whole process tree, as
      // one sent to the terminal's process group would: the JVM now, its children (the Python
      // runner of a PySpark app) once the JVM has gone, if they are still there.
      let pending: { sig: NodeJS.Signals; pids: number[] } | undefined;
      const forward = (sig: NodeJS.Signals) => () => {
        signalled = true;
        if (child.pid) pending = { sig, pids: descendants(child.pid) };
        child.kill(sig);
      };
      const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as NodeJS.Signals[]).map((s) => [s, forward(s)] as const);
      for (const [s, h] of handlers) process.on(s, h);
      child.on('error', (err) => reject(new UserError('E_SPAWN', `cannot run ${plan.command}: ${err.message}`)));
      child.on('exit', (code, signal) => {
        for (const [s, h] of handlers) process.off(s, h);
        for (const pid of pending?.pids ?? []) {
          try {
            process.kill(pid, pending!.sig);
          } catch {
            /* already gone */
          }
        }
        resolveExit(code ?? (signal ? 128 + (osSignal(signal) ?? 1) : 1));
      });
    });
    // Stopped by a signal: Spark stopped waiting, the driver has no final state yet.
    return watch && !signalled ? await driverResult(watch, status) : status;
  } finally {
    await watch?.stop();
    watch?.kube.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function osSignal(sig: NodeJS.Signals): number | undefined {
  return ({ SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[sig];
}
