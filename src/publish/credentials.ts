/**
 * Registry credentials from the environment, handed to skopeo through a containers-auth.json file
 * (mode 0600 in a private 0700 temporary directory, removed afterwards) — never on a command line,
 * never logged (every value is registered with the secret masker first).
 *
 * Order: REGISTRY_USER + REGISTRY_PASSWORD; then, for ghcr.io, GITHUB_TOKEN (user GITHUB_ACTOR, or
 * `x-access-token`); otherwise anonymous.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { registerSecret } from '../lib/secrets.ts';
import { temporary } from '../lib/interrupt.ts';

export interface RegistryCredentials {
  username: string;
  password: string;
  /** Which environment variables they came from (for the plan; never the values). */
  source: string;
}

/** Pure: pick the credentials for `host` from an environment. */
export function credentialsFromEnv(host: string, env: NodeJS.ProcessEnv): RegistryCredentials | null {
  const user = env.REGISTRY_USER;
  const pass = env.REGISTRY_PASSWORD;
  if (pass) registerSecret(pass);
  if (env.GITHUB_TOKEN) registerSecret(env.GITHUB_TOKEN);
  if (user && pass) return { username: user, password: pass, source: 'REGISTRY_USER/REGISTRY_PASSWORD' };
  if (registryHostIsGhcr(host) && env.GITHUB_TOKEN) {
    return { username: env.GITHUB_ACTOR || 'x-access-token', password: env.GITHUB_TOKEN, source: 'GITHUB_TOKEN' };
  }
  return null;
}

export function registryHostIsGhcr(host: string): boolean {
  return host === 'ghcr.io' || host.endsWith('.ghcr.io');
}

/** Pure: the containers-auth.json document. */
export function authFileContent(host: string, c: RegistryCredentials): string {
  const auth = Buffer.from(`${c.username}:${c.password}`).toString('base64');
  registerSecret(auth);
  return JSON.stringify({ auths: { [host]: { auth } } }) + '\n';
}

export interface AuthFile {
  /** The auth file, absent for anonymous access. */
  path: string | undefined;
  /** Environment for skopeo: a private HOME/XDG_RUNTIME_DIR so no ambient auth file is consulted. */
  env: NodeJS.ProcessEnv;
  dispose(): Promise<void>;
}

/**
 * Write the auth file (0600, in a private 0700 directory; also its config.json for DOCKER_CONFIG readers)
 * for `host`, or none for anonymous access,
 * and an environment in which skopeo sees only it (no REGISTRY_AUTH_FILE, ~/.docker/config.json or
 * $XDG_RUNTIME_DIR/containers/auth.json of the user, and none of the secret variables).
 */
export async function writeAuthFile(host: string, c: RegistryCredentials | null): Promise<AuthFile> {
  const dir = temporary(await fs.mkdtemp(path.join(os.tmpdir(), 'sparkcraft-auth-')));
  await fs.chmod(dir, 0o700);
  let file: string | undefined;
  if (c) {
    file = path.join(dir, 'auth.json');
    const fh = await fs.open(file, 'wx', 0o600);
    try {
      await fh.writeFile(authFileContent(host, c));
    } finally {
      await fh.close();
    }
    // The same document as DOCKER_CONFIG's config.json, for tools that read only that (cosign).
    await fs.link(file, path.join(dir, 'config.json'));
  }
  const env: NodeJS.ProcessEnv = {
    HOME: dir,
    XDG_RUNTIME_DIR: dir,
    DOCKER_CONFIG: dir,
    REGISTRY_AUTH_FILE: undefined,
    REGISTRY_PASSWORD: undefined,
    GITHUB_TOKEN: undefined,
    SNAPCRAFT_STORE_CREDENTIALS: undefined,
  };
  return { path: file, env, dispose: () => fs.rm(dir, { recursive: true, force: true }) };
}
