/**
 * Kubeconfig resolution: which server, which CA, which credentials. Pure where it can be
 * (`resolveKubeconfig` works on parsed documents); file reading and exec plugins at the edges.
 *
 * Supported: KUBECONFIG lists (first file wins per key, as kubectl merges), --kubeconfig,
 * --context, --master (pick the cluster whose server URL matches), client certificates and keys
 * (files or -data), bearer tokens, tokenFile, exec credential plugins (client.authentication.k8s.io
 * v1 and v1beta1, as EKS uses), insecure-skip-tls-verify, and in-cluster service-account credentials.
 */
import { readFileSync, existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { UserError } from '../../lib/errors.ts';
import { registerSecret } from '../../lib/secrets.ts';

/** Bun's native YAML parser in the executable (0.15 ms against 5 ms for the yaml package there). */
const nativeYaml = (globalThis as { Bun?: { YAML?: { parse(text: string): unknown } } }).Bun?.YAML;
let parseYaml: ((text: string) => unknown) | undefined = nativeYaml ? (text) => nativeYaml.parse(text) : undefined;

/** Load the YAML parser (the yaml package outside Bun) before loadCredentials; start-up pays only for what it uses. */
export async function prepareKubeconfigParser(): Promise<void> {
  parseYaml ??= (await import('yaml')).parse;
}

export interface NamedEntry<T> {
  name: string;
  value: T;
}
interface RawCluster {
  server?: string;
  'certificate-authority'?: string;
  'certificate-authority-data'?: string;
  'insecure-skip-tls-verify'?: boolean;
  'tls-server-name'?: string;
}
interface RawExec {
  command: string;
  args?: string[];
  env?: Array<{ name: string; value: string }> | null;
  apiVersion?: string;
  interactiveMode?: string;
}
interface RawUser {
  'client-certificate'?: string;
  'client-certificate-data'?: string;
  'client-key'?: string;
  'client-key-data'?: string;
  token?: string;
  tokenFile?: string;
  username?: string;
  password?: string;
  exec?: RawExec;
}
interface RawContext {
  cluster: string;
  user?: string;
  namespace?: string;
}
export interface RawKubeconfig {
  /** `where`: the file and path of the entry, for errors about its fields. */
  clusters: Array<{ name: string; cluster: RawCluster; base: string; where?: string }>;
  users: Array<{ name: string; user: RawUser; base: string }>;
  contexts: Array<{ name: string; context: RawContext }>;
  currentContext?: string;
}

/** What a client needs to talk to one API server. Secrets are registered for masking. */
export interface Credentials {
  server: string;
  namespace: string;
  contextName: string | undefined;
  ca?: Buffer;
  insecure: boolean;
  tlsServerName?: string;
  cert?: Buffer;
  key?: Buffer;
  token?: string;
  basic?: { username: string; password: string };
  /** The kubeconfig file this came from (handed to Spark as KUBECONFIG); none in a pod. */
  sourceFile?: string;
  /**
   * The context used, when it is not the kubeconfig's current-context (--context, or --master
   * choosing another): Spark must be told (spark.kubernetes.context), or it authenticates as
   * current-context's user.
   */
  sparkContext?: string;
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The kubeconfig files to read: --kubeconfig, else $KUBECONFIG (a list), else ~/.kube/config. */
export function kubeconfigFiles(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string[] {
  if (explicit) return [explicit];
  const fromEnv = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  if (fromEnv.length) return fromEnv;
  return [resolve(env.HOME ?? homedir(), '.kube', 'config')];
}

/** What a value is, for an error message (never the value itself: it may be a credential). */
function typeName(v: unknown): string {
  if (v === undefined || v === null) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `a ${typeof v}`;
}

/** Type checks of one kubeconfig document; every failure names the file and the field's path. */
class Fields {
  constructor(readonly file: string) {}
  bad(path: string, want: string, v: unknown): UserError {
    return new UserError('E_KUBECONFIG', `kubeconfig ${this.file}: ${path} must be ${want} (it is ${typeName(v)})`);
  }
  /** A list, or nothing (kubectl writes `users: null`). */
  list(v: unknown, path: string): unknown[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw this.bad(path, 'a list', v);
    return v;
  }
  mapping(v: unknown, path: string, optional = false): Record<string, unknown> {
    if (optional && (v === undefined || v === null)) return {};
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw this.bad(path, 'a mapping', v);
    return v as Record<string, unknown>;
  }
  /** Optional scalar fields of a mapping. */
  scalars(o: Record<string, unknown>, path: string, strings: readonly string[], booleans: readonly string[] = []): void {
    for (const k of strings) if (o[k] !== undefined && o[k] !== null && typeof o[k] !== 'string') throw this.bad(`${path}.${k}`, 'a string', o[k]);
    for (const k of booleans) if (o[k] !== undefined && o[k] !== null && typeof o[k] !== 'boolean') throw this.bad(`${path}.${k}`, 'true or false', o[k]);
  }
  /** A named entry (`{name, <field>}`): its name (undefined when it has none) and its checked body. */
  entry(v: unknown, path: string, field: string, optionalBody: boolean): { name?: string; body: Record<string, unknown> } {
    const e = this.mapping(v, path);
    if (e.name !== undefined && e.name !== null && typeof e.name !== 'string') throw this.bad(`${path}.name`, 'a string', e.name);
    return { name: (e.name as string | undefined) || undefined, body: this.mapping(e[field], `${path}.${field}`, optionalBody) };
  }
  cluster(c: Record<string, unknown>, path: string): RawCluster {
    this.scalars(c, path, ['server', 'certificate-authority', 'certificate-authority-data', 'tls-server-name', 'proxy-url'], ['insecure-skip-tls-verify']);
    return c as RawCluster;
  }
  user(u: Record<string, unknown>, path: string): RawUser {
    this.scalars(u, path, ['client-certificate', 'client-certificate-data', 'client-key', 'client-key-data', 'token', 'tokenFile', 'username', 'password']);
    if (u.exec !== undefined && u.exec !== null) {
      const p = `${path}.exec`;
      const x = this.mapping(u.exec, p);
      if (typeof x.command !== 'string' || !x.command) throw this.bad(`${p}.command`, 'a string', x.command);
      this.scalars(x, p, ['apiVersion', 'interactiveMode']);
      this.list(x.args, `${p}.args`).forEach((a, i) => {
        if (typeof a !== 'string') throw this.bad(`${p}.args[${i}]`, 'a string', a);
      });
      this.list(x.env, `${p}.env`).forEach((e, i) => {
        const m = this.mapping(e, `${p}.env[${i}]`);
        for (const k of ['name', 'value']) if (typeof m[k] !== 'string') throw this.bad(`${p}.env[${i}].${k}`, 'a string', m[k]);
      });
    }
    return u as RawUser;
  }
  context(x: Record<string, unknown>, path: string): RawContext {
    this.scalars(x, path, ['cluster', 'user', 'namespace']);
    return x as unknown as RawContext;
  }
}

/**
 * Merge parsed kubeconfig documents the way kubectl does: the first definition of a name wins.
 * Each field is type-checked on the way: a wrong type is one error naming the file and its path.
 */
export function mergeKubeconfigs(docs: Array<{ doc: unknown; file: string }>): RawKubeconfig {
  const out: RawKubeconfig = { clusters: [], users: [], contexts: [] };
  const seen = { c: new Set<string>(), u: new Set<string>(), x: new Set<string>() };
  for (const { doc, file } of docs) {
    if (doc === null || doc === undefined) continue;
    if (typeof doc !== 'object' || Array.isArray(doc)) throw new UserError('E_KUBECONFIG', `kubeconfig ${file} is not a YAML mapping`);
    const d = doc as Record<string, unknown>;
    const f = new Fields(file);
    const base = dirname(resolve(file));
    f.list(d.clusters, 'clusters').forEach((v, i) => {
      const path = `clusters[${i}]`;
      const { name, body } = f.entry(v, path, 'cluster', true);
      const cluster = f.cluster(body, `${path}.cluster`);
      if (name && !seen.c.has(name)) seen.c.add(name), out.clusters.push({ name, cluster, base, where: `kubeconfig ${file}: ${path}` });
    });
    f.list(d.users, 'users').forEach((v, i) => {
      const path = `users[${i}]`;
      const { name, body } = f.entry(v, path, 'user', true);
      const user = f.user(body, `${path}.user`);
      if (name && !seen.u.has(name)) seen.u.add(name), out.users.push({ name, user, base });
    });
    f.list(d.contexts, 'contexts').forEach((v, i) => {
      const path = `contexts[${i}]`;
      const { name, body } = f.entry(v, path, 'context', false);
      const context = f.context(body, `${path}.context`);
      if (name && !seen.x.has(name)) seen.x.add(name), out.contexts.push({ name, context });
    });
    const cc = d['current-context'];
    if (cc !== undefined && cc !== null && typeof cc !== 'string') throw f.bad('current-context', 'a string', cc);
    if (out.currentContext === undefined && typeof cc === 'string' && cc) out.currentContext = cc;
  }
  return out;
}

function normaliseServer(url: string): string {
  return url
    .replace(/^k8s:\/\//, '')
    .replace(/\/+$/, '')
    .toLowerCase();
}

export interface Selection {
  context?: string;
  master?: string;
}

/**
 * Choose context, cluster and user. `--context` wins; otherwise `--master` selects the first
 * context whose cluster's server matches; otherwise current-context.
 */
export function selectContext(cfg: RawKubeconfig, sel: Selection, where: string) {
  let ctxName = sel.context;
  if (!ctxName && sel.master) {
    const want = normaliseServer(sel.master);
    const match = cfg.contexts.find((x) => {
      const c = cfg.clusters.find((k) => k.name === x.context?.cluster);
      return c?.cluster.server !== undefined && normaliseServer(c.cluster.server) === want;
    });
    if (!match) {
      throw new UserError('E_KUBECONFIG', `no context in ${where} has a cluster with server ${sel.master}`, {
        hint: 'pass --context, or a --master URL exactly as written in the kubeconfig',
      });
    }
    ctxName = match.name;
  }
  ctxName ??= cfg.currentContext;
  if (!ctxName) {
    throw new UserError('E_KUBECONFIG', `${where} names no current-context`, { hint: 'pass --context NAME' });
  }
  const ctx = cfg.contexts.find((x) => x.name === ctxName);
  if (!ctx)
    throw new UserError('E_KUBECONFIG', `context "${ctxName}" not found in ${where}`, {
      hint: `known contexts: ${cfg.contexts.map((c) => c.name).join(', ') || 'none'}`,
    });
  if (!ctx.context.cluster) throw new UserError('E_KUBECONFIG', `context "${ctxName}" in ${where} names no cluster`);
  const cluster = cfg.clusters.find((c) => c.name === ctx.context.cluster);
  if (!cluster?.cluster.server) {
    throw new UserError('E_KUBECONFIG', `cluster "${ctx.context.cluster}" of context "${ctxName}" has no server in ${where}`);
  }
  const user = cfg.users.find((u) => u.name === ctx.context.user);
  return { ctxName, ctx: ctx.context, cluster, user };
}

function readMaybe(base: string, file: string | undefined, data: string | undefined, what: string): Buffer | undefined {
  if (data) return Buffer.from(data, 'base64');
  if (!file) return undefined;
  const p = isAbsolute(file) ? file : resolve(base, file);
  try {
    return readFileSync(p);
  } catch {
    throw new UserError('E_KUBECONFIG', `cannot read ${what} file ${p}`, { hint: 'check the path in your kubeconfig' });
  }
}

/** Run an exec credential plugin (EKS `aws eks get-token`, gke-gcloud-auth-plugin, ...). */
export function runExecPlugin(exec: RawExec, base: string, env: NodeJS.ProcessEnv = process.env): { token?: string; cert?: Buffer; key?: Buffer } {
  const apiVersion = exec.apiVersion ?? 'client.authentication.k8s.io/v1';
  const childEnv: NodeJS.ProcessEnv = { ...env };
  for (const e of exec.env ?? []) childEnv[e.name] = e.value;
  childEnv.KUBERNETES_EXEC_INFO = JSON.stringify({ apiVersion, kind: 'ExecCredential', spec: { interactive: false } });
  const cmd = exec.command.includes('/') && !isAbsolute(exec.command) ? resolve(base, exec.command) : exec.command;
  const r = spawnSync(cmd, exec.args ?? [], { env: childEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
  if (r.error) {
    throw new UserError('E_EXEC_PLUGIN', `credential plugin "${exec.command}" could not run: ${(r.error as NodeJS.ErrnoException).code ?? r.error.message}`, {
      hint: 'install it or fix users[].user.exec.command in the kubeconfig',
    });
  }
  if (r.status !== 0) {
    const last = (r.stderr ?? '').trim().split('\n').pop() ?? '';
    throw new UserError('E_EXEC_PLUGIN', `credential plugin "${exec.command}" exited with ${r.status}${last ? `: ${last}` : ''}`);
  }
  let out: { status?: { token?: string; clientCertificateData?: string; clientKeyData?: string } };
  try {
    out = JSON.parse(r.stdout);
  } catch {
    throw new UserError('E_EXEC_PLUGIN', `credential plugin "${exec.command}" did not print an ExecCredential JSON`, { hint: `expected ${apiVersion}` });
  }
  const st = out.status ?? {};
  if (st.token) registerSecret(st.token);
  return {
    token: st.token,
    cert: st.clientCertificateData ? Buffer.from(st.clientCertificateData) : undefined,
    key: st.clientKeyData ? Buffer.from(st.clientKeyData) : undefined,
  };
}

/** Turn a merged kubeconfig + selection into credentials. */
export function resolveCredentials(cfg: RawKubeconfig, sel: Selection, where: string, sourceFile?: string, env: NodeJS.ProcessEnv = process.env): Credentials {
  const { ctxName, ctx, cluster, user } = selectContext(cfg, sel, where);
  const c = cluster.cluster;
  let url: URL | undefined;
  try {
    url = new URL(c.server!);
  } catch {
    /* refused below */
  }
  if (url?.protocol !== 'https:' && url?.protocol !== 'http:') {
    throw new UserError('E_KUBECONFIG', `${cluster.where ?? `cluster "${cluster.name}" in ${where}`}.cluster.server is not an http(s) URL`, {
      hint: 'write it as https://HOST:PORT',
    });
  }
  const creds: Credentials = {
    server: c.server!.replace(/\/+$/, ''),
    namespace: ctx.namespace || 'default',
    contextName: ctxName,
    ca: readMaybe(cluster.base, c['certificate-authority'], c['certificate-authority-data'], 'certificate-authority'),
    insecure: c['insecure-skip-tls-verify'] === true,
    tlsServerName: c['tls-server-name'],
    sourceFile,
    sparkContext: ctxName !== cfg.currentContext ? ctxName : undefined,
  };
  const u = user?.user ?? {};
  const base = user?.base ?? cluster.base;
  creds.cert = readMaybe(base, u['client-certificate'], u['client-certificate-data'], 'client-certificate');
  creds.key = readMaybe(base, u['client-key'], u['client-key-data'], 'client-key');
  if (u.token) creds.token = u.token;
  else if (u.tokenFile) creds.token = readMaybe(base, u.tokenFile, undefined, 'tokenFile')!.toString('utf8').trim();
  if (u.username && u.password) creds.basic = { username: u.username, password: u.password };
  if (u.exec && !creds.token && !creds.cert) {
    const got = runExecPlugin(u.exec, base, env);
    creds.token = got.token;
    creds.cert ??= got.cert;
    creds.key ??= got.key;
  }
  if (creds.token) registerSecret(creds.token);
  if (creds.basic) registerSecret(creds.basic.password);
  return creds;
}

/** In-cluster credentials from the pod's service account, when running inside Kubernetes. */
export function inClusterCredentials(env: NodeJS.ProcessEnv = process.env, dir = SA_DIR): Credentials | undefined {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port || !existsSync(`${dir}/token`)) return undefined;
  const token = readFileSync(`${dir}/token`, 'utf8').trim();
  registerSecret(token);
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return {
    server: `https://${hostPart}:${port}`,
    namespace: existsSync(`${dir}/namespace`) ? readFileSync(`${dir}/namespace`, 'utf8').trim() : 'default',
    contextName: undefined,
    ca: existsSync(`${dir}/ca.crt`) ? readFileSync(`${dir}/ca.crt`) : undefined,
    insecure: false,
    token,
  };
}

/**
 * Read files, merge, resolve. Falls back to in-cluster credentials when no kubeconfig exists, unless
 * one was named by --kubeconfig.
 */
export function loadCredentials(opts: { kubeconfig?: string; context?: string; master?: string }, env: NodeJS.ProcessEnv = process.env): Credentials {
  const files = kubeconfigFiles(opts.kubeconfig, env);
  // A file named on the command line must be there: falling back to another (a pod's service
  // account) would run as someone else. Missing $KUBECONFIG entries are skipped, as kubectl does.
  if (opts.kubeconfig && !existsSync(opts.kubeconfig)) {
    throw new UserError('E_KUBECONFIG', `kubeconfig ${opts.kubeconfig} (given by --kubeconfig) does not exist`, {
      hint: 'check the path; without --kubeconfig, $KUBECONFIG or ~/.kube/config is read',
    });
  }
  const present = files.filter((f) => existsSync(f));
  if (present.length === 0) {
    const ic = inClusterCredentials(env);
    if (ic) {
      if (opts.master) ic.server = opts.master.replace(/^k8s:\/\//, '').replace(/\/+$/, '');
      return ic;
    }
    throw new UserError('E_KUBECONFIG', `no kubeconfig found (looked at ${files.join(', ')})`, {
      hint: 'pass --kubeconfig FILE or set KUBECONFIG',
    });
  }
  const docs = present.map((file) => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new UserError('E_KUBECONFIG', `cannot read kubeconfig ${file}: ${(e as NodeJS.ErrnoException).code}`, { hint: 'check permissions' });
    }
    if (!parseYaml) throw new Error('internal: loadCredentials before prepareKubeconfigParser()');
    try {
      return { doc: parseYaml(text), file };
    } catch (e) {
      throw new UserError('E_KUBECONFIG', `kubeconfig ${file} is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
    }
  });
  const where = present.length === 1 ? present[0]! : `kubeconfig files ${present.join(', ')}`;
  return resolveCredentials(
    mergeKubeconfigs(docs),
    { context: opts.context, master: opts.master },
    where,
    present.length === 1 ? present[0] : present.join(delimiter),
    env,
  );
}
