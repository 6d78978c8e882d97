/**
 * The registry session publish and verify share: credentials in a private auth file (credentials.ts),
 * the CA directory, the retry policy, registry errors translated into one line each, and the
 * environment cosign runs in. I/O (writes the auth file; runs what it is given with retries).
 */
import { UserError } from '../lib/errors.ts';
import { log } from '../lib/log.ts';
import { RetriesExhausted, withRetry, type RetryPolicy } from '../lib/retry.ts';
import { SkopeoError, type RegistryAccess } from '../lib/tools/skopeo-registry.ts';
import { credentialsFromEnv, writeAuthFile, type RegistryCredentials } from './credentials.ts';

/** The registry session: credentials in an auth file, retry policy, error translation. */
export class RegistrySession {
  readonly host: string;
  readonly creds: RegistryCredentials | null;
  readonly certDir: string | undefined;
  readonly retry: RetryPolicy;
  private auth: Awaited<ReturnType<typeof writeAuthFile>> | undefined;

  constructor(host: string, env: NodeJS.ProcessEnv, certDir: string | undefined, retry: RetryPolicy) {
    this.host = host;
    this.creds = credentialsFromEnv(host, env);
    this.certDir = certDir;
    this.retry = retry;
  }
  get credentialsSource(): string {
    return this.creds ? `${this.creds.source} (user ${this.creds.username})` : 'anonymous';
  }
  async access(): Promise<RegistryAccess> {
    this.auth ??= await writeAuthFile(this.host, this.creds);
    return {
      ...(this.auth.path ? { authfile: this.auth.path } : {}),
      ...(this.certDir ? { certDir: this.certDir } : {}),
      env: this.auth.env,
    };
  }
  /** The environment cosign runs in: the private auth directory, the CA, the key and password. */
  async cosignEnv(env: NodeJS.ProcessEnv): Promise<NodeJS.ProcessEnv> {
    const a = await this.access();
    return {
      ...a.env,
      ...(this.certDir ? { SSL_CERT_DIR: this.certDir } : {}),
      COSIGN_KEY: env.COSIGN_KEY,
      COSIGN_PASSWORD: env.COSIGN_PASSWORD ?? '',
    };
  }
  async close(): Promise<void> {
    await this.auth?.dispose();
    this.auth = undefined;
  }
  /** Run a registry operation with bounded retries on network errors and 5xx. */
  async call<T>(what: string, op: (a: RegistryAccess) => Promise<T>, policy = this.retry): Promise<{ value: T; attempts: number }> {
    const a = await this.access();
    try {
      return await withRetry(
        () => op(a),
        policy,
        (e) => e instanceof SkopeoError && e.retryable,
        ({ attempt, error, delayMs }) =>
          log.warn(
            `${what}: attempt ${attempt}/${policy.attempts} failed (${error instanceof Error ? error.message : String(error)}); retrying in ${delayMs} ms`,
          ),
      );
    } catch (e) {
      throw this.translate(what, e);
    }
  }
  translate(what: string, e: unknown): unknown {
    const last = e instanceof RetriesExhausted ? e.last : e;
    const tries = e instanceof RetriesExhausted ? ` after ${e.attempts} attempts` : '';
    if (!(last instanceof SkopeoError)) return e;
    const src = this.creds ? this.creds.source : 'no credentials (anonymous)';
    switch (last.kind) {
      case 'auth':
        return last.status === 403
          ? new UserError('E_REGISTRY_DENIED', `${this.host} denied ${what} (403 forbidden) for ${src}`)
          : new UserError('E_REGISTRY_AUTH', `${this.host} rejected the credentials for ${what} (401 unauthorized; from ${src})`);
      case 'tls':
        return new UserError('E_REGISTRY_TLS', `TLS verification of ${this.host} failed during ${what}: ${lastLine(last)}`);
      case 'network':
      case 'server':
        return new UserError('E_REGISTRY_UNAVAILABLE', `${what} failed${tries} (${last.kind}${last.status ? ` ${last.status}` : ''}): ${lastLine(last)}`, {
          hint: `check that ${this.host} is reachable and retry`,
        });
      default:
        return new UserError('E_REGISTRY', `${what} failed: ${lastLine(last)}`);
    }
  }
}

function lastLine(e: SkopeoError): string {
  return e.message.replace(/^skopeo \S+ failed \([^)]*\): /, '');
}
