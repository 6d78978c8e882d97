/**
 * Signing what publish:rock pushed, plan → apply, with cosign (src/lib/tools/cosign.ts):
 *
 *   signingKeyFrom(options, env)     pure: which key (file, COSIGN_KEY, keyless OIDC) or none, and why
 *   decideSigning(input)             pure: the signing plan (subject by digest, key, SBOM, provenance,
 *                                    the cosign commands as printed, problems)
 *   inspectSigning(...)              I/O: read the SBOM, the lock, the commit → decideSigning
 *   applySigning(plan, session)      I/O: cosign sign, attest the SBOM (spdxjson) and the provenance
 *                                    (slsaprovenance1) to the digest, then verify all three with the
 *                                    key's public half (src/publish/verify.ts)
 *
 * The private key and its password never appear in a plan, a command line or output: a key file is
 * named by path, COSIGN_KEY by name (cosign reads `env://COSIGN_KEY`), the password travels as
 * COSIGN_PASSWORD in cosign's environment only, and both are registered with the secret masker.
 * The predicates themselves (SLSA v1 provenance, the SBOM's digest) are in attestation.ts.
 */
import { createHash } from 'node:crypto';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ResolvedLine } from '../config/types.ts';
import { UserError } from '../lib/errors.ts';
import { log } from '../lib/log.ts';
import { registerSecret } from '../lib/secrets.ts';
import { hasLocalChanges, headRevision } from '../lib/tools/git.ts';
import { CosignError, attestCommand, ensureCosign, formatCommand, publicKeyCommand, runCosign, signCommand, type SigningKey } from '../lib/tools/cosign.ts';
import { lockedInputsFor, readLock } from '../stage/lock.ts';
import {
  PROVENANCE_PREDICATE_TYPE,
  PROVENANCE_TYPE,
  SBOM_TYPE,
  builderFromEnv,
  provenancePredicate,
  sbomDigest,
  type ProvenanceInput,
  type ProvenancePredicate,
} from './attestation.ts';
import type { RegistrySession } from './session.ts';
import { verifyImage, type VerifyResult } from './verify.ts';

/** Register a secret and, for a PEM, each of its body lines (a tool could print one alone). */
export function registerKeyMaterial(value: string | undefined): void {
  if (!value) return;
  registerSecret(value);
  for (const line of value.split(/\r?\n/)) if (line.length >= 16 && !/^-----/.test(line)) registerSecret(line.trim());
}

export interface KeyChoice {
  key: SigningKey | null;
  /** Where it comes from, for the plan (never the value). */
  source: string;
  problem?: string;
}

/** Pure: the signing key the options and environment select. */
export function signingKeyFrom(o: { signKey?: string; keyless?: boolean; noSign?: boolean }, env: NodeJS.ProcessEnv): KeyChoice {
  if (o.noSign) return { key: null, source: 'not signed (--no-sign)' };
  const pw = env.COSIGN_PASSWORD !== undefined ? ', password from COSIGN_PASSWORD' : '';
  if (o.keyless) return { key: { kind: 'keyless' }, source: 'keyless (OIDC identity, Fulcio certificate, Rekor entry)' };
  if (o.signKey) return { key: { kind: 'file', path: path.resolve(o.signKey) }, source: `key file ${path.resolve(o.signKey)}${pw}` };
  if (env.COSIGN_KEY) return { key: { kind: 'env', variable: 'COSIGN_KEY' }, source: `key from COSIGN_KEY${pw}` };
  return {
    key: null,
    source: 'none',
    problem: 'no signing key: set COSIGN_KEY (and COSIGN_PASSWORD), pass --sign-key FILE, or --keyless in CI; --no-sign publishes unsigned',
  };
}

export interface SbomInfo {
  file: string;
  /** sha256 of its canonical JSON. */
  sha256: string;
  name: string;
  spdxVersion: string;
  packages: number;
  files: number;
}

export interface SignPlan {
  /** `repository@digest`: what is signed and what the attestations are about. */
  subject: string;
  key: SigningKey | null;
  keySource: string;
  sbom: SbomInfo | null;
  provenance: { predicateType: string; commit: string; dirty: boolean; inputs: number; builder: string; predicate: ProvenancePredicate } | null;
  /** The cosign commands apply runs, as printed (predicate files as placeholders). */
  commands: string[];
  problems: string[];
}

export interface DecideSigningInput {
  repository: string;
  digest: string;
  choice: KeyChoice;
  sbom: SbomInfo | { file: string; problem: string };
  provenance: ProvenanceInput | { problem: string };
}

/** Pure: the signing plan. Problems stop `--yes` before anything is pushed. */
export function decideSigning(i: DecideSigningInput): SignPlan {
  const subject = `${i.repository}@${i.digest}`;
  const problems: string[] = [];
  if (i.choice.problem) problems.push(i.choice.problem);
  if (!i.choice.key) {
    return { subject, key: null, keySource: i.choice.source, sbom: null, provenance: null, commands: [], problems };
  }
  const sbom = 'problem' in i.sbom ? null : i.sbom;
  if ('problem' in i.sbom) problems.push(i.sbom.problem);
  let provenance: SignPlan['provenance'] = null;
  if ('problem' in i.provenance) problems.push(i.provenance.problem);
  else {
    const predicate = provenancePredicate(i.provenance);
    provenance = {
      predicateType: PROVENANCE_PREDICATE_TYPE,
      commit: i.provenance.commit,
      dirty: i.provenance.dirty,
      inputs: i.provenance.inputs.length,
      builder: i.provenance.builderId,
      predicate,
    };
  }
  const commands = [
    signCommand(subject, i.choice.key),
    attestCommand(subject, i.choice.key, SBOM_TYPE, '<sbom.spdx.json>'),
    attestCommand(subject, i.choice.key, PROVENANCE_TYPE, '<provenance.json>'),
  ].map(formatCommand);
  return { subject, key: i.choice.key, keySource: i.choice.source, sbom, provenance, commands, problems };
}

export function formatSignPlan(p: SignPlan): string[] {
  if (!p.key) return [`  signing     ${p.keySource}`];
  const lines = [`  signing     ${p.subject}`, `              ${p.keySource}`];
  if (p.sbom)
    lines.push(
      `  sbom        ${p.sbom.file} (${p.sbom.spdxVersion}, ${p.sbom.packages} packages, ${p.sbom.files} files, sha256:${p.sbom.sha256.slice(0, 12)}…) → attestation ${SBOM_TYPE}`,
    );
  if (p.provenance) {
    lines.push(
      `  provenance  SLSA v1: commit ${p.provenance.commit.slice(0, 12)}${p.provenance.dirty ? ' (uncommitted changes)' : ''}, ${p.provenance.inputs} locked inputs with sha256, builder ${p.provenance.builder} → attestation ${PROVENANCE_TYPE}`,
    );
  }
  for (const pr of p.problems) lines.push(`  refused: ${pr}`);
  return lines;
}

/** I/O: the SBOM file read and summarised, or the reason it cannot be used. */
export function readSbom(file: string): SbomInfo | { file: string; problem: string } {
  let doc: { spdxVersion?: unknown; name?: unknown; packages?: unknown[]; files?: unknown[] };
  try {
    doc = JSON.parse(readFileSync(file, 'utf8')) as typeof doc;
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'is missing' : `is not JSON (${(e as Error).message})`;
    return { file, problem: `the SBOM ${file} ${why} (run npm run stage for the line, or pass --sbom FILE)` };
  }
  if (typeof doc.spdxVersion !== 'string' || !doc.spdxVersion.startsWith('SPDX-')) {
    return { file, problem: `${file} is not an SPDX JSON document (no spdxVersion)` };
  }
  return {
    file,
    sha256: sbomDigest(doc),
    name: String(doc.name ?? ''),
    spdxVersion: doc.spdxVersion,
    packages: Array.isArray(doc.packages) ? doc.packages.length : 0,
    files: Array.isArray(doc.files) ? doc.files.length : 0,
  };
}

export interface InspectSigningOptions {
  resolved: ResolvedLine;
  repository: string;
  digest: string;
  root: string;
  sbomFile?: string;
  lockFile: string;
  signKey?: string;
  keyless?: boolean;
  noSign?: boolean;
  env: NodeJS.ProcessEnv;
}

/** I/O: everything the signing plan needs, then decideSigning. */
export async function inspectSigning(o: InspectSigningOptions): Promise<SignPlan> {
  registerKeyMaterial(o.env.COSIGN_KEY);
  registerSecret(o.env.COSIGN_PASSWORD);
  const choice = signingKeyFrom(o, o.env);
  if (choice.key?.kind === 'file' && !existsSync(choice.key.path)) choice.problem = `the signing key ${choice.key.path} does not exist`;
  const sbomFile = o.sbomFile ? path.resolve(o.sbomFile) : path.join(o.root, o.resolved.paths.inputs, 'sbom.spdx.json');
  const sbom = readSbom(sbomFile);
  let provenance: ProvenanceInput | { problem: string };
  try {
    const commit = await headRevision(o.root);
    if (!commit) throw new UserError('E_PROVENANCE', `${o.root} is not a git checkout: the provenance needs the commit`);
    const lockRaw = readFileSync(o.lockFile);
    const inputs = lockedInputsFor(o.resolved.project, o.resolved.line, readLock(o.lockFile));
    const builder = builderFromEnv(o.env);
    provenance = {
      source: o.resolved.project.source,
      commit,
      dirty: (await hasLocalChanges(o.root)) ?? true,
      line: o.resolved.line.track,
      flavour: o.resolved.flavour.name,
      risk: o.resolved.risk,
      spark: o.resolved.line.spark,
      image: o.resolved.image.name,
      lockFile: path.relative(o.root, o.lockFile) || path.basename(o.lockFile),
      lockSha256: createHash('sha256').update(lockRaw).digest('hex'),
      inputs: inputs.map((x) => ({ id: x.id, url: x.url, sha256: x.sha256 })),
      sbomSha256: 'problem' in sbom ? '' : sbom.sha256,
      builderId: builder.id,
      ...(builder.invocationId ? { invocationId: builder.invocationId } : {}),
      startedOn: new Date().toISOString(),
    };
  } catch (e) {
    provenance = { problem: e instanceof UserError ? e.message : `the provenance could not be made: ${e instanceof Error ? e.message : String(e)}` };
  }
  return decideSigning({ repository: o.repository, digest: o.digest, choice, sbom, provenance });
}

export interface SignResult {
  subject: string;
  signed: boolean;
  attestations: string[];
  verified: VerifyResult | null;
  seconds: number;
}

/** I/O: sign, attest, verify. The plan's problems were checked before the push (applyRockPlan). */
export async function applySigning(plan: SignPlan, session: RegistrySession, env: NodeJS.ProcessEnv): Promise<SignResult> {
  const t0 = Date.now();
  if (!plan.key) return { subject: plan.subject, signed: false, attestations: [], verified: null, seconds: 0 };
  if (!plan.sbom || !plan.provenance) throw new UserError('E_SIGNING', `cannot sign ${plan.subject}: ${plan.problems.join('; ')}`);
  const bin = await ensureCosign();
  const cenv = await session.cosignEnv(env);
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sparkcraft-sign-'));
  const step = async (what: string, c: Parameters<typeof runCosign>[0]) => {
    try {
      return await runCosign(c, { env: cenv });
    } catch (e) {
      throw translateCosign(what, e, plan);
    }
  };
  try {
    const sbomFile = path.join(tmp, 'sbom.spdx.json');
    await fs.copyFile(plan.sbom.file, sbomFile);
    const provFile = path.join(tmp, 'provenance.json');
    await fs.writeFile(provFile, JSON.stringify(plan.provenance.predicate, null, 1));
    await step(`signing ${plan.subject}`, signCommand(plan.subject, plan.key, bin));
    log.info(`signed ${plan.subject} (${plan.keySource})`);
    await step(`attaching the SBOM to ${plan.subject}`, attestCommand(plan.subject, plan.key, SBOM_TYPE, sbomFile, bin));
    log.info(`attached the SBOM (${SBOM_TYPE}) to ${plan.subject}`);
    await step(`attaching the provenance to ${plan.subject}`, attestCommand(plan.subject, plan.key, PROVENANCE_TYPE, provFile, bin));
    log.info(`attached the SLSA v1 provenance (${PROVENANCE_TYPE}) to ${plan.subject}`);
    // Read back: everything verifies with the key's public half (keyless: cosign verified at signing).
    let verified: VerifyResult | null = null;
    if (plan.key.kind !== 'keyless') {
      const pub = path.join(tmp, 'cosign.pub');
      await fs.writeFile(pub, await step('reading the public key', publicKeyCommand(plan.key, bin)));
      verified = await verifyImage(plan.subject, { publicKey: pub, session, env });
      if (!verified.ok) throw new UserError('E_SIGNING', `${plan.subject} was signed but does not verify: ${verified.line}`);
    }
    return { subject: plan.subject, signed: true, attestations: [SBOM_TYPE, PROVENANCE_TYPE], verified, seconds: (Date.now() - t0) / 1000 };
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

function translateCosign(what: string, e: unknown, plan: SignPlan): unknown {
  if (!(e instanceof CosignError)) return e;
  switch (e.kind) {
    case 'password':
      return new UserError('E_SIGNING_KEY', `${what}: the signing key could not be decrypted (${e.detail})`, {
        hint: "set COSIGN_PASSWORD to the key's password",
      });
    case 'key':
      return new UserError('E_SIGNING_KEY', `${what}: the signing key could not be read (${e.detail})`, { hint: `check ${plan.keySource}` });
    case 'auth':
      return new UserError('E_REGISTRY_AUTH', `${what}: the registry refused the credentials (${e.detail})`);
    case 'denied':
      return new UserError('E_REGISTRY_DENIED', `${what}: the registry denied it to these credentials (${e.detail})`);
    case 'tls':
      return new UserError('E_REGISTRY_TLS', `${what}: TLS verification failed (${e.detail})`);
    default:
      return new UserError('E_SIGNING', `${what} failed: ${e.detail}`);
  }
}
