/** kubectl against a kubeconfig: objects as JSON, a self-contained (flattened) kubeconfig. */
import { lastLine, run, type Command } from './run.ts';

export interface Kubectl {
  /** The kubectl executable. */
  kubectl: string;
  kubeconfig: string;
}

export const getJsonCommand = (k: Kubectl, args: string[]): Command => [k.kubectl, ['--kubeconfig', k.kubeconfig, ...args, '-o', 'json']];
export const flattenCommand = (k: Kubectl): Command => [k.kubectl, ['--kubeconfig', k.kubeconfig, 'config', 'view', '--flatten', '--minify']];

async function ok(k: Kubectl, c: Command): Promise<string> {
  const r = await run(c);
  if (r.exitCode !== 0) throw new Error(`kubectl ${c[1].slice(2).join(' ')} failed: ${lastLine(r.stderr)}`);
  return r.stdout;
}

/** `kubectl <args> -o json`, parsed. */
export async function getJson(k: Kubectl, args: string[]): Promise<any> {
  return JSON.parse(await ok(k, getJsonCommand(k, args)));
}

/** The kubeconfig with its certificates inline, for a reader without the files it names. */
export function flatten(k: Kubectl): Promise<string> {
  return ok(k, flattenCommand(k));
}
