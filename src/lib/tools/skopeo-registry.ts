/**
 * skopeo, for talking to OCI registries (the OCI distribution protocol): read a manifest digest, copy an
 * oci-archive to a registry tag. Commands are `[cli, args]` data built by pure functions (printed in
 * dry runs, asserted in tests) and run by one wrapper; skopeo's failures are translated into a kind
 * (`auth`, `network`, `server`, `notfound`, `tls`, `other`) in one place.
 *
 * Credentials never enter an argument list: callers pass an authfile path (0600, see
 * src/publish/credentials.ts). `loadArchive` is the one local transport we use (into podman's storage).
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mask } from '../secrets.ts';
import { run as runTool, type Command } from './run.ts';
import { temporary } from '../interrupt.ts';

export { formatCommand, type Command } from './run.ts';

export const SKOPEO = 'skopeo';

export interface RegistryAccess {
  /** containers-auth.json file with the credentials (mode 0600); absent = anonymous. */
  authfile?: string;
  /** Directory of CA certificates (`*.crt`) trusted for this registry. */
  certDir?: string;
  /** Extra environment for skopeo (tests point HOME/XDG_RUNTIME_DIR away from user auth files). */
  env?: NodeJS.ProcessEnv;
}

export type FailureKind = 'auth' | 'network' | 'server' | 'notfound' | 'tls' | 'other';

export class SkopeoError extends Error {
  readonly kind: FailureKind;
  readonly status: number | undefined;
  readonly command: Command;
  readonly stderrTail: string;
  constructor(kind: FailureKind, command: Command, stderr: string, status?: number) {
    const line = lastErrorLine(stderr);
    super(`skopeo ${command[1][0] ?? ''} failed (${kind}${status ? ` ${status}` : ''}): ${line}`);
    this.name = 'SkopeoError';
    this.kind = kind;
    this.status = status;
    this.command = command;
    this.stderrTail = stderr.slice(-2000);
  }
  get retryable(): boolean {
    return this.kind === 'network' || this.kind === 'server';
  }
}

/** The useful part of skopeo's `time=... level=fatal msg="..."` line. */
export function lastErrorLine(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const last = lines.at(-1) ?? '';
  const m = /msg="((?:[^"\\]|\\.)*)"/.exec(last);
  const msg = m ? m[1]!.replace(/\\"/g, '"') : last;
  return mask(msg).slice(0, 500);
}

/** Classify a skopeo failure from its stderr (pure; tested on real skopeo messages). */
export function classifyFailure(stderr: string): { kind: FailureKind; status?: number } {
  const s = stderr;
  if (/unauthorized|authentication required|invalid username\/password|incorrect username or password|status(?: code)?:? 401\b/i.test(s))
    return { kind: 'auth', status: 401 };
  if (/\bdenied\b|forbidden|status(?: code)?:? 403\b|requested access to the resource is denied/i.test(s)) return { kind: 'auth', status: 403 };
  if (/x509:|certificate signed by unknown authority|certificate is not valid|tls: failed to verify/i.test(s)) return { kind: 'tls' };
  const st =
    /(?:unexpected HTTP status|status code|HTTP status):? (5\d\d)\b/i.exec(s) ??
    /\b(5\d\d) (?:Internal Server Error|Bad Gateway|Service Unavailable|Gateway Timeout)/i.exec(s);
  if (st) return { kind: 'server', status: Number(st[1]) };
  if (/manifest unknown|name unknown|\bnot found\b|NAME_UNKNOWN|MANIFEST_UNKNOWN/i.test(s)) return { kind: 'notfound', status: 404 };
  if (
    /connection reset|broken pipe|\bEOF\b|i\/o timeout|connection refused|TLS handshake timeout|use of closed network connection|server misbehaving|no such host|network is unreachable|timeout awaiting|context deadline exceeded|http2: |server closed|connection was closed/i.test(
      s,
    )
  )
    return { kind: 'network' };
  return { kind: 'other' };
}

function accessArgs(prefix: '' | 'dest-' | 'src-', a: RegistryAccess): string[] {
  const out: string[] = [];
  if (a.authfile) out.push(`--${prefix}authfile`, a.authfile);
  if (a.certDir) out.push(`--${prefix}cert-dir`, a.certDir);
  return out;
}

/** `skopeo inspect --raw docker://REF` — the manifest exactly as the registry stores it. */
export function inspectRawCommand(ref: string, a: RegistryAccess): Command {
  return [SKOPEO, ['inspect', '--raw', ...accessArgs('', a), `docker://${ref}`]];
}

/**
 * `skopeo copy --preserve-digests oci-archive:FILE docker://REF`: blobs the registry already has are
 * skipped, the manifest is written unchanged (or the copy fails), the pushed digest goes to digestFile.
 */
export function copyArchiveCommand(file: string, ref: string, a: RegistryAccess & { digestFile?: string }): Command {
  const args = ['copy', '--preserve-digests', ...accessArgs('dest-', a)];
  if (a.digestFile) args.push('--digestfile', a.digestFile);
  args.push(`oci-archive:${file}`, `docker://${ref}`);
  return [SKOPEO, args];
}

/**
 * `skopeo copy --all --preserve-digests oci:DIR:NAME docker://REF`: an OCI layout's image index with
 * every image it names, each pushed unchanged (the index's digest is the layout's).
 */
export function copyLayoutCommand(dir: string, name: string, ref: string, a: RegistryAccess & { digestFile?: string }): Command {
  const args = ['copy', '--all', '--preserve-digests', ...accessArgs('dest-', a)];
  if (a.digestFile) args.push('--digestfile', a.digestFile);
  args.push(`oci:${dir}:${name}`, `docker://${ref}`);
  return [SKOPEO, args];
}

/** `skopeo copy docker://REF oci:DIR` — pull an image back (tests, verification). */
export function pullToLayoutCommand(ref: string, dir: string, tag: string, a: RegistryAccess): Command {
  return [SKOPEO, ['copy', '--preserve-digests', ...accessArgs('src-', a), `docker://${ref}`, `oci:${dir}:${tag}`]];
}

export function sha256Digest(bytes: string | Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export async function run(c: Command, opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<string> {
  const r = await runTool(c, { ...(opts.env ? { env: opts.env } : {}), timeoutMs: opts.timeoutMs ?? 15 * 60_000 });
  if (r.exitCode === 0 && !r.timedOut) return r.stdout;
  if (r.missing) throw new SkopeoError('other', c, `skopeo not found on PATH (install it: bash scripts/setup.sh registry)`);
  const stderr = r.stderr || `exit ${r.exitCode}`;
  const { kind, status } = r.timedOut ? { kind: 'network' as const, status: undefined } : classifyFailure(stderr);
  throw new SkopeoError(kind, c, stderr, status);
}

/** Digest of the manifest stored under REF, or null when the tag does not exist. */
export async function remoteDigest(ref: string, a: RegistryAccess): Promise<string | null> {
  const raw = await remoteManifest(ref, a);
  return raw === null ? null : sha256Digest(raw);
}

/** The manifest (or image index) stored under REF exactly as the registry holds it, or null when absent. */
export async function remoteManifest(ref: string, a: RegistryAccess): Promise<string | null> {
  try {
    return await run(inspectRawCommand(ref, a), { env: a.env });
  } catch (e) {
    if (e instanceof SkopeoError && e.kind === 'notfound') return null;
    throw e;
  }
}

/** Push FILE to REF; returns the digest skopeo reports for the pushed manifest. */
export async function pushArchive(file: string, ref: string, a: RegistryAccess): Promise<string> {
  return pushWith((digestFile) => copyArchiveCommand(file, ref, { ...a, digestFile }), a);
}

/** Push the layout's image index NAME (and every image it names) to REF; returns the pushed index's digest. */
export async function pushLayout(dir: string, name: string, ref: string, a: RegistryAccess): Promise<string> {
  return pushWith((digestFile) => copyLayoutCommand(dir, name, ref, { ...a, digestFile }), a);
}

async function pushWith(command: (digestFile: string) => Command, a: RegistryAccess): Promise<string> {
  const tmp = temporary(await fs.mkdtemp(path.join(os.tmpdir(), 'sparkcraft-digest-')));
  const digestFile = path.join(tmp, 'digest');
  try {
    await run(command(digestFile), { env: a.env });
    return (await fs.readFile(digestFile, 'utf8')).trim();
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

/** `skopeo copy -q oci-archive:FILE containers-storage:IMAGE` — an archive into podman's image storage. */
export function loadArchiveCommand(file: string, image: string): Command {
  return [SKOPEO, ['copy', '-q', `oci-archive:${file}`, `containers-storage:${image}`]];
}

export async function loadArchive(file: string, image: string, env: NodeJS.ProcessEnv): Promise<void> {
  await run(loadArchiveCommand(file, image), { env });
}
