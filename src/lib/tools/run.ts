/**
 * The one runner of external tools. A command is data, `[cli, args]` (never a shell string), built by
 * the pure functions of each tool's module (podman.ts, squashfs.ts, git.ts, kubectl.ts, skopeo-registry.ts,
 * snapcraft-store.ts, mmdebstrap.ts, go.ts); `formatCommand` shows one (dry runs, logs) masked.
 */
import { execa } from 'execa';
import { mask } from '../secrets.ts';

export type Command = readonly [cli: string, args: readonly string[]];

/** Shown in dry runs and logs: the command with secrets masked (there are none in argv by design). */
export function formatCommand(c: Command): string {
  return mask([c[0], ...c[1]].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' '));
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Add `env` to the environment (default) or give the tool only `env`. */
  extendEnv?: boolean;
  timeoutMs?: number;
  input?: string;
  /** Let the tool write to our terminal instead of capturing its output. */
  inherit?: boolean;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** The tool is not installed. */
  missing: boolean;
  timedOut: boolean;
}

/** Run a command to its end; never throws for the tool's own failure (the caller words it). */
export async function run(c: Command, o: RunOptions = {}): Promise<RunResult> {
  const r = await execa(c[0], [...c[1]], {
    reject: false,
    ...(o.cwd ? { cwd: o.cwd } : {}),
    ...(o.env ? { env: o.env } : {}),
    extendEnv: o.extendEnv ?? true,
    // The output exactly as written (a manifest's bytes are hashed).
    stripFinalNewline: false,
    ...(o.timeoutMs ? { timeout: o.timeoutMs } : {}),
    ...(o.inherit ? { stdio: 'inherit' as const } : o.input !== undefined ? { input: o.input } : { stdin: 'ignore' as const }),
  });
  const missing = (r as { code?: string }).code === 'ENOENT' || (/\bENOENT\b/.test(String(r.message ?? '')) && r.exitCode === undefined);
  return {
    exitCode: r.exitCode ?? (missing ? 127 : 1),
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? '') || (r.exitCode === undefined ? String(r.message ?? '') : ''),
    missing,
    timedOut: Boolean(r.timedOut),
  };
}

/** The last non-empty line of a tool's stderr (what a one-line error quotes). */
export function lastLine(text: string): string {
  return text.trim().split('\n').filter(Boolean).pop() ?? '';
}
