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
import { readArchiveImage } from '../lib/oci-archive.ts';
import {
  PROVENANCE_PREDICATE_TYPE,
  PROVENANCE_TYPE,
  SBOM_TYPE,
  builderFromEnv,
  inputsOfSbom,
  layeredImageSbom,
  provenancePredicate,
  sbomDigest,
  type ProvenanceInput,
  type ProvenancePredicate,
  type SpdxDocument,
} from './attestation.ts';
import type { RegistrySession } from './session.ts';
import { verifyImage, type VerifyResult } from './verify.ts';
import { temporary } from '../lib/interrupt.ts';

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
  /** The SBOM its stage wrote (for a layered image: the flavour's own). */
  file: string;
  /**
   * A layered image: its base's SBOM (the base's stage wrote it) and the base image's manifest digest,
   * merged with the flavour's into the SBOM that is attached (attestation.ts layeredImageSbom).
   */
  base?: { file: string; image: string; version: string; manifestDigest: string };
  /** sha256 of the attached document's canonical JSON. */
  sha256: string;
  name: string;
  spdxVersion: string;
  packages: number;
  files: number;
}

export interface SignPlan {
  /** `repository@digest`: what is signed and what the attestations are about. */
  subject: string;
  /** An image index: signed only (its platforms' images carry the SBOM and provenance, each its own). */
  index?: true;
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

/** Pure: an image index's signing plan: the signature alone, with the key its platforms are signed with. */
export function decideIndexSigning(repository: string, digest: string, choice: KeyChoice): SignPlan {
  const subject = `${repository}@${digest}`;
  const commands = choice.key ? [formatCommand(signCommand(subject, choice.key))] : [];
  return {
    subject,
    index: true,
    key: choice.key,
    keySource: choice.source,
    sbom: null,
    provenance: null,
    commands,
    problems: choice.problem ? [choice.problem] : [],
  };
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
  const lines = [`  signing     ${p.subject}${p.index ? ' (the index: its signature only)' : ''}`, `              ${p.keySource}`];
  if (p.sbom) {
    const base = p.sbom.base;
    lines.push(
      `  sbom        ${p.sbom.file}${base ? ` + the base's ${base.file}` : ''} (${p.sbom.spdxVersion}, ${p.sbom.packages} packages, ${p.sbom.files} files, sha256:${p.sbom.sha256.slice(0, 12)}…) → attestation ${SBOM_TYPE}`,
    );
    if (base) lines.push(`              layered over ${base.image} ${base.version} ${base.manifestDigest}`);
  }
  if (p.provenance) {
    lines.push(
      `  provenance  SLSA v1: commit ${p.provenance.commit.slice(0, 12)}${p.provenance.dirty ? ' (uncommitted changes)' : ''}, ${p.provenance.inputs} inputs with sha256 (those the SBOM records), builder ${p.provenance.builder} → attestation ${PROVENANCE_TYPE}`,
    );
  }
  for (const pr of p.problems) lines.push(`  refused: ${pr}`);
  return lines;
}

/** I/O: an SPDX JSON file, or the reason it cannot be used (`option`: the flag that names another). */
function loadSpdx(file: string, option: string): SpdxDocument | { problem: string } {
  let doc: Partial<SpdxDocument>;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8')) as typeof doc;
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'is missing' : `is not JSON (${(e as Error).message})`;
    return { problem: `the SBOM ${file} ${why} (run npm run stage for the line, or pass ${option} FILE)` };
  }
  if (typeof doc.spdxVersion !== 'string' || !doc.spdxVersion.startsWith('SPDX-')) {
    return { problem: `${file} is not an SPDX JSON document (no spdxVersion)` };
  }
  return { ...doc, name: String(doc.name ?? ''), packages: doc.packages ?? [], files: doc.files ?? [] } as SpdxDocument;
}

/**
 * I/O: the SBOM to attach, read from what the stages wrote: `file`, or for a layered image `file`
 * merged with its base's SBOM and the base's manifest digest; with its summary, or the reason it cannot be used.
 */
export function readSbom(file: string, base?: SbomInfo['base']): { info: SbomInfo; doc: SpdxDocument } | { file: string; problem: string } {
  const own = loadSpdx(file, '--sbom');
  if ('problem' in own) return { file, problem: own.problem };
  let doc = own;
  if (base) {
    const b = loadSpdx(base.file, '--base-sbom');
    if ('problem' in b) return { file, problem: `the base image's ${b.problem}` };
    doc = layeredImageSbom(own, { name: base.image, version: base.version, manifestDigest: base.manifestDigest, sbom: b });
  }
  const info: SbomInfo = {
    file,
    ...(base ? { base } : {}),
    sha256: sbomDigest(doc),
    name: doc.name,
    spdxVersion: doc.spdxVersion,
    packages: doc.packages.length,
    files: doc.files.length,
  };
  return { info, doc };
}

export interface InspectSigningOptions {
  resolved: ResolvedLine;
  repository: string;
  digest: string;
  root: string;
  /** The oci-archive being published (a layered image's config names its base's manifest digest). */
  artifact: string;
  sbomFile?: string;
  /** A layered image: its base's SBOM (default: the base line's staged inputs/sbom.spdx.json). */
  baseSbomFile?: string;
  /** A layered image: the base's manifest digest as pack recorded it (default: read from the archive's label). */
  baseDigest?: string;
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
  const why = (e: unknown) => (e instanceof UserError ? e.message : `the provenance could not be made: ${e instanceof Error ? e.message : String(e)}`);
  // The SBOM: what the stage wrote; a layered image's also holds its base's and names the base by digest.
  let sbom: ReturnType<typeof readSbom>;
  try {
    const rb = o.resolved.base;
    const base = rb && {
      file: o.baseSbomFile ? path.resolve(o.baseSbomFile) : path.join(o.root, rb.paths.inputs, 'sbom.spdx.json'),
      image: rb.image.name,
      version: rb.version,
      manifestDigest: o.baseDigest ?? (await baseDigestOf(o.artifact)),
    };
    sbom = readSbom(sbomFile, base);
  } catch (e) {
    sbom = { file: sbomFile, problem: why(e) };
  }
  let provenance: ProvenanceInput | { problem: string };
  try {
    if ('problem' in sbom) throw new UserError('E_PROVENANCE', 'no provenance without the SBOM: it lists the inputs the SBOM records');
    const commit = await headRevision(o.root);
    if (!commit) throw new UserError('E_PROVENANCE', `${o.root} is not a git checkout: the provenance needs the commit`);
    const lockRaw = readFileSync(o.lockFile);
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
      // What went in, as the stages recorded it (a layered image's base image by its digest too), not the lock re-read.
      inputs: inputsOfSbom(sbom.doc),
      sbomSha256: sbom.info.sha256,
      builderId: builder.id,
      ...(builder.invocationId ? { invocationId: builder.invocationId } : {}),
      startedOn: new Date().toISOString(),
    };
  } catch (e) {
    provenance = { problem: why(e) };
  }
  return decideSigning({ repository: o.repository, digest: o.digest, choice, sbom: 'problem' in sbom ? sbom : sbom.info, provenance });
}

/** I/O: a layered image's base, by the manifest digest pack wrote into its config. */
async function baseDigestOf(artifact: string): Promise<string> {
  let label: string | undefined;
  try {
    label = readArchiveImage(artifact).config.config?.Labels?.['org.opencontainers.image.base.digest'];
  } catch (e) {
    throw new UserError('E_PROVENANCE', `${artifact} is not a readable oci-archive: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!label || !/^sha256:[0-9a-f]{64}$/.test(label)) {
    throw new UserError('E_PROVENANCE', `${artifact} names no base image (label org.opencontainers.image.base.digest)`, {
      hint: 'publish the layered image pack built (npm run build:rock -- --flavour …)',
    });
  }
  return label;
}

export interface SignResult {
  subject: string;
  signed: boolean;
  attestations: string[];
  verified: VerifyResult | null;
  seconds: number;
}

/**
 * I/O: sign, attest, verify. The plan's problems were checked before the push (applyRockPlan).
 * `verify: false`: the caller verifies (an index's platforms are verified with the index, once).
 */
export async function applySigning(plan: SignPlan, session: RegistrySession, env: NodeJS.ProcessEnv, o: { verify?: boolean } = {}): Promise<SignResult> {
  const t0 = Date.now();
  if (!plan.key) return { subject: plan.subject, signed: false, attestations: [], verified: null, seconds: 0 };
  if (!plan.index && (!plan.sbom || !plan.provenance)) throw new UserError('E_SIGNING', `cannot sign ${plan.subject}: ${plan.problems.join('; ')}`);
  const bin = await ensureCosign();
  const cenv = await session.cosignEnv(env);
  const tmp = temporary(await fs.mkdtemp(path.join(os.tmpdir(), 'sparkcraft-sign-')));
  const step = async (what: string, c: Parameters<typeof runCosign>[0]) => {
    try {
      return await runCosign(c, { env: cenv });
    } catch (e) {
      throw translateCosign(what, e, plan);
    }
  };
  try {
    const verify = async (): Promise<VerifyResult | null> => {
      // Read back: everything verifies with the key's public half (keyless: cosign verified at signing).
      if (o.verify === false || plan.key!.kind === 'keyless') return null;
      const pub = path.join(tmp, 'cosign.pub');
      await fs.writeFile(pub, await step('reading the public key', publicKeyCommand(plan.key!, bin)));
      const verified = await verifyImage(plan.subject, { publicKey: pub, session, env });
      if (!verified.ok) throw new UserError('E_SIGNING', `${plan.subject} was signed but does not verify: ${verified.line}`);
      return verified;
    };
    if (plan.index || !plan.sbom || !plan.provenance) {
      await step(`signing ${plan.subject}`, signCommand(plan.subject, plan.key, bin));
      log.info(`signed the image index ${plan.subject} (${plan.keySource})`);
      return { subject: plan.subject, signed: true, attestations: [], verified: await verify(), seconds: (Date.now() - t0) / 1000 };
    }
    const sbomFile = path.join(tmp, 'sbom.spdx.json');
    if (plan.sbom.base) {
      // The merged document, made again from the same files: refused if they changed since the plan.
      const again = readSbom(plan.sbom.file, plan.sbom.base);
      if ('problem' in again || again.info.sha256 !== plan.sbom.sha256) {
        throw new UserError('E_SIGNING', `the SBOM of ${plan.subject} changed since the plan (${'problem' in again ? again.problem : plan.sbom.file})`);
      }
      await fs.writeFile(sbomFile, JSON.stringify(again.doc, null, 1));
    } else await fs.copyFile(plan.sbom.file, sbomFile);
    const provFile = path.join(tmp, 'provenance.json');
    await fs.writeFile(provFile, JSON.stringify(plan.provenance.predicate, null, 1));
    await step(`signing ${plan.subject}`, signCommand(plan.subject, plan.key, bin));
    log.info(`signed ${plan.subject} (${plan.keySource})`);
    await step(`attaching the SBOM to ${plan.subject}`, attestCommand(plan.subject, plan.key, SBOM_TYPE, sbomFile, bin));
    log.info(`attached the SBOM (${SBOM_TYPE}) to ${plan.subject}`);
    await step(`attaching the provenance to ${plan.subject}`, attestCommand(plan.subject, plan.key, PROVENANCE_TYPE, provFile, bin));
    log.info(`attached the SLSA v1 provenance (${PROVENANCE_TYPE}) to ${plan.subject}`);
    return { subject: plan.subject, signed: true, attestations: [SBOM_TYPE, PROVENANCE_TYPE], verified: await verify(), seconds: (Date.now() - t0) / 1000 };
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
