/**
 * cosign (github.com/sigstore/cosign/v2, built by scripts/setup.d/65-cosign.sh): sign an image digest,
 * attach in-toto attestations (SPDX SBOM, SLSA v1 provenance), verify both against a public key.
 * Commands are `[cli, args]` data built by pure functions (printed in dry runs, asserted in tests) and run
 * by one wrapper; cosign's failures are translated into a kind in one place.
 *
 * Keys: a file path, or `env://COSIGN_KEY` (the PEM in the environment); the password only ever
 * travels as COSIGN_PASSWORD in cosign's environment. Keyless (OIDC, Fulcio + Rekor) is for CI.
 * Registry credentials reach cosign as a docker config.json in a private DOCKER_CONFIG directory
 * (src/publish/credentials.ts), a private CA as SSL_CERT_DIR.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { UserError } from '../errors.ts';
import { cacheDir, projectRoot } from '../paths.ts';
import { mask } from '../secrets.ts';
import { run as runTool, type Command } from './run.ts';

export { formatCommand, type Command } from './run.ts';

export const COSIGN_VERSION = 'v2.6.5';

/** The pinned cosign in the cache (built by the setup part when missing). */
export function cosignPath(): string {
  return process.env.SPARKCRAFT_COSIGN || join(cacheDir(), 'bin', `cosign-${COSIGN_VERSION}`);
}

/** Build cosign when it is not there yet (idempotent; quiet when present). */
export async function ensureCosign(): Promise<string> {
  const bin = cosignPath();
  if (existsSync(bin)) return bin;
  const r = await execa('bash', [join(projectRoot, 'scripts/setup.d/65-cosign.sh')], { reject: false, stdin: 'ignore', stdout: 'ignore', stderr: 'inherit' });
  if (r.exitCode !== 0 || !existsSync(bin)) {
    throw new UserError('E_TOOL', `cosign ${COSIGN_VERSION} could not be built`, { hint: 'run bash scripts/setup.d/65-cosign.sh and read its error' });
  }
  return bin;
}

/** How to sign: a key (file or environment) or keyless OIDC. */
export type SigningKey = { kind: 'file'; path: string } | { kind: 'env'; variable: string } | { kind: 'keyless' };

function keyArg(k: SigningKey): string[] {
  if (k.kind === 'file') return ['--key', k.path];
  if (k.kind === 'env') return ['--key', `env://${k.variable}`];
  return [];
}

/** With a key, nothing goes to the public transparency log (a private key is its own root of trust). */
function tlogArgs(k: SigningKey): string[] {
  return k.kind === 'keyless' ? [] : ['--tlog-upload=false'];
}

/** `cosign sign --key K --tlog-upload=false --yes REPO@DIGEST` (always by digest). */
export function signCommand(ref: string, key: SigningKey, bin = 'cosign'): Command {
  return [bin, ['sign', ...keyArg(key), ...tlogArgs(key), '--yes', ref]];
}

/** `cosign attest --type T --predicate FILE --replace …`: one attestation of that type replaces the last. */
export function attestCommand(ref: string, key: SigningKey, type: string, predicateFile: string, bin = 'cosign'): Command {
  return [bin, ['attest', ...keyArg(key), ...tlogArgs(key), '--type', type, '--predicate', predicateFile, '--replace', '--yes', ref]];
}

/**
 * Whom to trust: a public key (key-signed images; no transparency log, as they were signed), or a
 * keyless signer's identity (the certificate's subject, exact or a regexp, and the OIDC issuer; cosign
 * then checks the Fulcio chain and the Rekor entry through Sigstore's public trust root).
 */
export type Verifier = { kind: 'key'; publicKey: string } | { kind: 'identity'; identity?: string; identityRegexp?: string; issuer: string };

function verifierArgs(v: Verifier): string[] {
  if (v.kind === 'key') return ['--key', v.publicKey, '--insecure-ignore-tlog=true'];
  return [
    ...(v.identity ? ['--certificate-identity', v.identity] : []),
    ...(v.identityRegexp ? ['--certificate-identity-regexp', v.identityRegexp] : []),
    '--certificate-oidc-issuer',
    v.issuer,
  ];
}

/** How a verifier is named in messages. */
export function describeVerifier(v: Verifier): string {
  return v.kind === 'key' ? v.publicKey : `identity ${v.identity ?? `~${v.identityRegexp}`} (issuer ${v.issuer})`;
}

/** `cosign verify --key PUB --insecure-ignore-tlog=true REF` (or by identity): the verified simple-signing payloads as JSON. */
export function verifyCommand(ref: string, v: Verifier | string, bin = 'cosign'): Command {
  const verifier: Verifier = typeof v === 'string' ? { kind: 'key', publicKey: v } : v;
  return [bin, ['verify', ...verifierArgs(verifier), '--output', 'json', ref]];
}

/** `cosign verify-attestation --type T …`: one verified DSSE envelope per line. */
export function verifyAttestationCommand(ref: string, v: Verifier | string, type: string, bin = 'cosign'): Command {
  const verifier: Verifier = typeof v === 'string' ? { kind: 'key', publicKey: v } : v;
  return [bin, ['verify-attestation', ...verifierArgs(verifier), '--type', type, ref]];
}

/** `cosign public-key --key K`: the public half of a signing key (PEM on stdout). */
export function publicKeyCommand(key: SigningKey, bin = 'cosign'): Command {
  return [bin, ['public-key', ...keyArg(key)]];
}

export type CosignFailureKind =
  | 'identity'
  | 'no-signature'
  | 'bad-signature'
  | 'claims'
  | 'no-attestation'
  | 'key'
  | 'password'
  | 'auth'
  | 'denied'
  | 'tls'
  | 'network'
  | 'other';

export class CosignError extends Error {
  readonly kind: CosignFailureKind;
  readonly command: Command;
  readonly detail: string;
  constructor(kind: CosignFailureKind, command: Command, stderr: string) {
    const detail = cosignErrorLine(stderr);
    super(`cosign ${command[1][0] ?? ''} failed (${kind}): ${detail}`);
    this.name = 'CosignError';
    this.kind = kind;
    this.command = command;
    this.detail = detail;
  }
}

/** cosign's `Error: …` line (the last one), masked. */
export function cosignErrorLine(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const err = lines.filter((l) => /^Error: /.test(l)).at(-1) ?? lines.filter((l) => !/^(main\.go|WARNING)/.test(l)).at(-1) ?? lines.at(-1) ?? '';
  return mask(err.replace(/^Error: /, '').replace(/:\s*$/, '')).slice(0, 500);
}

/** Classify a cosign failure from its stderr (pure; tested on real cosign messages). */
export function classifyCosignFailure(stderr: string): CosignFailureKind {
  const s = stderr;
  if (/none of the expected identities matched|expected identity not found|certificate identity|issuer/i.test(s) && /expected|match/i.test(s))
    return 'identity';
  if (/no matching attestations|none of the attestations matched/i.test(s)) return 'no-attestation';
  if (
    /invalid signature when validating ASN\.1 encoded signature|failed to verify signature|signature mismatch|crypto\/(ecdsa|rsa): verification error/i.test(s)
  )
    return 'bad-signature';
  if (/no matching signatures/i.test(s)) return /invalid or missing digest in claim|image digest|claims/i.test(s) ? 'claims' : 'bad-signature';
  if (/no signatures found|MANIFEST_UNKNOWN.*\.sig|no attestations found/i.test(s)) return /attestation/i.test(s) ? 'no-attestation' : 'no-signature';
  if (/decrypt(ion)? failed|decrypt: encrypted|incorrect password|wrong password/i.test(s)) return 'password';
  if (/unauthorized|authentication required|status code 401/i.test(s)) return 'auth';
  if (/DENIED|status code 403/i.test(s)) return 'denied';
  if (/x509:|certificate signed by unknown authority|tls: /i.test(s)) return 'tls';
  if (/loading public key|reading key|pem|unsupported pem type|invalid key|no such file or directory/i.test(s)) return 'key';
  if (/connection refused|connection reset|i\/o timeout|no such host|EOF|context deadline exceeded|proxyconnect/i.test(s)) return 'network';
  return 'other';
}

export interface CosignRun {
  /** Extra environment (DOCKER_CONFIG, SSL_CERT_DIR, COSIGN_PASSWORD, COSIGN_KEY). */
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** Run a cosign command; stdout on success, a CosignError (classified, masked) otherwise. */
export async function runCosign(c: Command, o: CosignRun = {}): Promise<string> {
  const r = await runTool(c, { ...(o.env ? { env: o.env } : {}), timeoutMs: o.timeoutMs ?? 10 * 60_000 });
  if (r.exitCode === 0 && !r.timedOut) return r.stdout;
  if (r.missing) throw new CosignError('other', c, `Error: cosign not found at ${c[0]} (install it: bash scripts/setup.d/65-cosign.sh)`);
  const stderr = r.timedOut ? 'Error: timed out' : r.stderr || `Error: exit ${r.exitCode}`;
  throw new CosignError(r.timedOut ? 'network' : classifyCosignFailure(stderr), c, stderr);
}
