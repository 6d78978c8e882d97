/**
 * `sparkcraft verify <image ref> --key <public key>`: does the image carry a signature, an SPDX SBOM
 * and a SLSA v1 provenance that verify with that key, about this very digest, and does the SBOM match
 * the one the provenance records? cosign (src/lib/tools/cosign.ts) checks the signatures; this module
 * reads what they sign:
 *
 *   parseImageRef(ref)                 pure: repository, tag or digest
 *   checkSignatures / checkStatements  pure: cosign's verified payloads → one check each, with the reason
 *   summarise(checks)                  pure: the one line of what holds (and what does not)
 *   verifyImage(ref, ...)              I/O: resolve the tag, run cosign verify / verify-attestation; an
 *                                      image index: its signature, then each platform's three checks,
 *                                      all in the one line
 */
import { UserError } from '../lib/errors.ts';
import { CosignError, describeVerifier, ensureCosign, runCosign, verifyAttestationCommand, verifyCommand, type Verifier } from '../lib/tools/cosign.ts';
import { remoteManifest, sha256Digest } from '../lib/tools/skopeo-registry.ts';
import { PROVENANCE_PREDICATE_TYPE, PROVENANCE_TYPE, SBOM_PREDICATE_TYPE, SBOM_TYPE, sbomDigest } from './attestation.ts';
import type { RegistrySession } from './session.ts';

export interface ImageRef {
  repository: string;
  tag?: string;
  digest?: string;
}

/** Pure: `host/ns/name[:tag][@sha256:…]`. */
export function parseImageRef(ref: string): ImageRef {
  const at = ref.indexOf('@');
  let name = at >= 0 ? ref.slice(0, at) : ref;
  const digest = at >= 0 ? ref.slice(at + 1) : undefined;
  if (digest !== undefined && !/^sha256:[0-9a-f]{64}$/.test(digest)) {
    throw new UserError('E_USAGE', `"${ref}" names a digest that is not sha256:<64 hex digits>`);
  }
  let tag: string | undefined;
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) {
    tag = name.slice(colon + 1);
    name = name.slice(0, colon);
  }
  if (!name.includes('/') || !/^[a-z0-9.:-]+(\/[a-z0-9._-]+)+$/.test(name)) {
    throw new UserError('E_USAGE', `"${ref}" is not an image reference`, { hint: 'give host/namespace/name:tag or host/namespace/name@sha256:…' });
  }
  if (!tag && !digest) throw new UserError('E_USAGE', `"${ref}" names neither a tag nor a digest`, { hint: 'add :tag or @sha256:…' });
  return { repository: name, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

export type CheckName = 'signature' | 'sbom' | 'provenance';
export interface VerifyCheck {
  name: CheckName;
  ok: boolean;
  detail: string;
  /** An image index's check: `index` (its own signature) or the platform (`linux/arm64`) it is about. */
  platform?: string;
}

export interface InTotoStatement {
  _type?: string;
  predicateType?: string;
  subject?: Array<{ name?: string; digest?: Record<string, string> }>;
  predicate?: unknown;
}

/** Pure: cosign verify's JSON output (simple-signing payloads) → the signature check. */
export function checkSignatures(stdout: string, digest: string): VerifyCheck {
  let payloads: Array<{ critical?: { image?: { 'docker-manifest-digest'?: string }; identity?: { 'docker-reference'?: string } } }>;
  try {
    payloads = JSON.parse(stdout) as typeof payloads;
  } catch {
    return { name: 'signature', ok: false, detail: 'cosign printed no verified payloads' };
  }
  const about = payloads.filter((p) => p.critical?.image?.['docker-manifest-digest'] === digest);
  if (!about.length) return { name: 'signature', ok: false, detail: `no verified signature names ${digest}` };
  return { name: 'signature', ok: true, detail: `${about.length} signature${about.length === 1 ? '' : 's'}` };
}

/** Pure: DSSE envelopes (one JSON per line) → the in-toto statements they carry. */
export function statementsOf(stdout: string): InTotoStatement[] {
  const out: InTotoStatement[] = [];
  for (const line of stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)) {
    const env = JSON.parse(line) as { payloadType?: string; payload?: string };
    if (!env.payload) continue;
    out.push(JSON.parse(Buffer.from(env.payload, 'base64').toString('utf8')) as InTotoStatement);
  }
  return out;
}

function about(s: InTotoStatement, digest: string): boolean {
  const hex = digest.replace(/^sha256:/, '');
  return (s.subject ?? []).some((x) => x.digest?.sha256 === hex);
}

export interface SbomSummary {
  sha256: string;
  spdxVersion: string;
  name: string;
  packages: number;
  files: number;
}
export interface ProvenanceSummary {
  commit: string;
  inputs: number;
  builder: string;
  sbomSha256: string | undefined;
}

/** Pure: the verified SBOM statements → the SBOM check. */
export function checkSbom(statements: InTotoStatement[], digest: string): { check: VerifyCheck; sbom?: SbomSummary } {
  const mine = statements.filter((s) => s.predicateType === SBOM_PREDICATE_TYPE && about(s, digest));
  if (!mine.length) return { check: { name: 'sbom', ok: false, detail: `no verified SBOM attestation is about ${digest}` } };
  const digests = [...new Set(mine.map((s) => sbomDigest(s.predicate)))];
  if (digests.length > 1) return { check: { name: 'sbom', ok: false, detail: `${digests.length} different SBOMs are attached` } };
  const doc = mine[0]!.predicate as { spdxVersion?: string; name?: string; packages?: unknown[]; files?: unknown[] };
  if (typeof doc?.spdxVersion !== 'string') return { check: { name: 'sbom', ok: false, detail: 'the attested SBOM is not an SPDX document' } };
  const sbom = {
    sha256: digests[0]!,
    spdxVersion: doc.spdxVersion,
    name: String(doc.name ?? ''),
    packages: doc.packages?.length ?? 0,
    files: doc.files?.length ?? 0,
  };
  return { check: { name: 'sbom', ok: true, detail: `${sbom.spdxVersion}, ${sbom.packages} packages, ${sbom.files} files` }, sbom };
}

/** Pure: the verified provenance statements (and the verified SBOM) → the provenance check. */
export function checkProvenance(
  statements: InTotoStatement[],
  digest: string,
  sbom: SbomSummary | undefined,
): { check: VerifyCheck; provenance?: ProvenanceSummary } {
  const mine = statements.filter((s) => s.predicateType === PROVENANCE_PREDICATE_TYPE && about(s, digest));
  if (!mine.length) return { check: { name: 'provenance', ok: false, detail: `no verified provenance attestation is about ${digest}` } };
  const p = mine.at(-1)!.predicate as {
    buildDefinition?: {
      externalParameters?: { source?: { digest?: { gitCommit?: string } } };
      resolvedDependencies?: Array<{ digest?: Record<string, string> }>;
    };
    runDetails?: { builder?: { id?: string }; byproducts?: Array<{ name?: string; digest?: Record<string, string> }> };
  };
  const commit = p.buildDefinition?.externalParameters?.source?.digest?.gitCommit;
  const builder = p.runDetails?.builder?.id;
  if (!commit || !builder) return { check: { name: 'provenance', ok: false, detail: 'the provenance names no commit or no builder' } };
  const inputs = (p.buildDefinition?.resolvedDependencies ?? []).filter((d) => d.digest?.sha256).length;
  const sbomSha256 = p.runDetails?.byproducts?.find((b) => b.name === 'sbom.spdx.json')?.digest?.sha256;
  const provenance = { commit, inputs, builder, sbomSha256 };
  if (sbom && sbomSha256 !== sbom.sha256) {
    return {
      check: {
        name: 'provenance',
        ok: false,
        detail: `the attached SBOM (sha256:${sbom.sha256.slice(0, 12)}…) is not the one the provenance records (sha256:${(sbomSha256 ?? 'none').slice(0, 12)}…)`,
      },
      provenance,
    };
  }
  return {
    check: { name: 'provenance', ok: true, detail: `SLSA v1, commit ${commit.slice(0, 12)}, ${inputs} inputs with sha256, builder ${builder}` },
    provenance,
  };
}

const LABEL: Record<CheckName, string> = { signature: 'signature', sbom: 'SBOM', provenance: 'provenance' };

/** Pure: one line saying what holds and what does not. */
export function summarise(subject: string, key: string, checks: VerifyCheck[]): { ok: boolean; line: string } {
  const ok = checks.every((c) => c.ok);
  const parts = checks.map((c) => `${c.platform ? `${c.platform} ` : ''}${LABEL[c.name]} ${c.ok ? 'ok' : 'FAILED'} (${c.detail})`);
  return { ok, line: `${ok ? 'verified' : 'NOT verified'} ${subject} with ${key}: ${parts.join('; ')}` };
}

/** Pure: a cosign failure → the reason, in our words. */
export function failureReason(e: unknown, what: CheckName, ctx: { digest: string; ref: ImageRef; key: string }): string {
  if (!(e instanceof CosignError)) throw e;
  const moved = ctx.ref.tag ? ` (the tag ${ctx.ref.tag} points at it: an image put under the tag that this key never signed)` : '';
  switch (e.kind) {
    case 'no-signature':
      return what === 'signature' ? `no signature for ${ctx.digest}${moved}` : `no ${LABEL[what]} attestation for ${ctx.digest}`;
    case 'no-attestation':
      // cosign says only "no matching attestations" when the digest has none at all.
      return /^no matching attestations$/.test(e.detail)
        ? `no ${LABEL[what]} attestation for ${ctx.digest}`
        : `no ${LABEL[what]} attestation verifies with ${ctx.key} (${e.detail})`;
    case 'claims':
      return `the signature found for ${ctx.digest} was made for another image (${e.detail})${moved}`;
    case 'bad-signature':
      return `the ${what === 'signature' ? 'signature' : `${LABEL[what]} attestation`} does not verify with ${ctx.key}: signed with another key, or changed (${e.detail})`;
    case 'key':
      throw new UserError('E_VERIFY_KEY', `the public key ${ctx.key} could not be read: ${e.detail}`);
    case 'identity':
      return `no ${what === 'signature' ? 'signature' : `${LABEL[what]} attestation`} by ${ctx.key} (${e.detail})`;
    case 'auth':
      throw new UserError('E_REGISTRY_AUTH', `the registry refused access while verifying: ${e.detail}`);
    case 'denied':
      throw new UserError('E_REGISTRY_DENIED', `the registry denied access while verifying: ${e.detail}`);
    case 'tls':
      throw new UserError('E_REGISTRY_TLS', `TLS verification of the registry failed: ${e.detail}`);
    case 'network':
      throw new UserError('E_REGISTRY_UNAVAILABLE', `the registry could not be reached while verifying: ${e.detail}`);
    default:
      return `cosign: ${e.detail}`;
  }
}

export interface VerifyResult {
  kind: 'sparkcraft.verify/result';
  version: 1;
  ref: string;
  subject: string;
  digest: string;
  key: string;
  ok: boolean;
  checks: VerifyCheck[];
  sbom?: SbomSummary;
  provenance?: ProvenanceSummary;
  /** An image index: each platform's image, its digest and what its attestations say. */
  platforms?: Array<{ platform: string; digest: string; sbom?: SbomSummary; provenance?: ProvenanceSummary }>;
  line: string;
}

/** Pure: an image index's platform manifests (`os/architecture[/variant]` and digest), or null for an image manifest. */
export function indexPlatforms(raw: string): Array<{ platform: string; digest: string }> | null {
  const doc = JSON.parse(raw) as { manifests?: Array<{ digest?: string; platform?: { os?: string; architecture?: string; variant?: string } }> };
  if (!Array.isArray(doc.manifests)) return null;
  return doc.manifests.map((m) => ({
    platform: `${m.platform?.os ?? '?'}/${m.platform?.architecture ?? '?'}${m.platform?.variant ? `/${m.platform.variant}` : ''}`,
    digest: String(m.digest),
  }));
}

/** I/O: resolve `ref` to its digest and check signature, SBOM and provenance against a public key (or a keyless signer's identity). */
export async function verifyImage(
  ref: string,
  o: { publicKey?: string; verifier?: Verifier; session: RegistrySession; env: NodeJS.ProcessEnv },
): Promise<VerifyResult> {
  const verifier: Verifier = o.verifier ?? { kind: 'key', publicKey: o.publicKey ?? '' };
  const keyName = describeVerifier(verifier);
  const parsed = parseImageRef(ref);
  // One read: the manifest (or index) the reference names now; a tag's digest is that of those bytes.
  const raw = (await o.session.call(`reading ${ref}`, (a) => remoteManifest(ref, a))).value;
  if (raw === null)
    throw new UserError('E_VERIFY', `${ref} does not exist`, { hint: parsed.digest ? 'check the repository and digest' : 'check the repository and tag' });
  const digest = parsed.digest ?? sha256Digest(raw);
  if (sha256Digest(raw) !== digest) throw new UserError('E_VERIFY', `${ref} reads back as ${sha256Digest(raw)}`);
  const subject = `${parsed.repository}@${digest}`;
  const bin = await ensureCosign();
  const env = await o.session.cosignEnv(o.env);
  const platforms = indexPlatforms(raw);
  const run = (d: string, platform?: string) =>
    verifyManifest(parsed.repository, d, { verifier, bin, env, ref: parsed, key: keyName, ...(platform ? { platform } : {}) });
  if (!platforms) {
    const one = await run(digest);
    const { ok, line } = summarise(subject, keyName, one.checks);
    return { kind: 'sparkcraft.verify/result', version: 1, ref, subject, digest, key: keyName, ok, checks: one.checks, ...one.found, line };
  }
  // An index: its own signature, then each platform's image as a whole.
  const checks: VerifyCheck[] = [];
  try {
    checks.push({ ...checkSignatures(await runCosign(verifyCommand(subject, verifier, bin), { env }), digest), platform: 'index' });
  } catch (e) {
    checks.push({ name: 'signature', ok: false, detail: failureReason(e, 'signature', { digest, ref: parsed, key: keyName }), platform: 'index' });
  }
  if (!platforms.length) checks.push({ name: 'signature', ok: false, detail: 'the image index names no platform', platform: 'index' });
  const each: NonNullable<VerifyResult['platforms']> = [];
  for (const p of platforms) {
    const one = await run(p.digest, p.platform);
    checks.push(...one.checks);
    each.push({ platform: p.platform, digest: p.digest, ...one.found });
  }
  const { ok, line } = summarise(`${subject} (index of ${platforms.map((p) => p.platform).join(', ')})`, keyName, checks);
  return { kind: 'sparkcraft.verify/result', version: 1, ref, subject, digest, key: keyName, ok, checks, platforms: each, line };
}

/** I/O: one image manifest's signature, SBOM and provenance checks (`platform`: an index's platform they are about). */
async function verifyManifest(
  repository: string,
  digest: string,
  o: { verifier: Verifier; bin: string; env: NodeJS.ProcessEnv; ref: ImageRef; key: string; platform?: string },
): Promise<{ checks: VerifyCheck[]; found: { sbom?: SbomSummary; provenance?: ProvenanceSummary } }> {
  const subject = `${repository}@${digest}`;
  const ctx = { digest, ref: o.ref, key: o.key };
  const env = o.env;
  const checks: VerifyCheck[] = [];
  const tagged = (c: VerifyCheck): VerifyCheck => (o.platform ? { ...c, platform: o.platform } : c);
  try {
    checks.push(tagged(checkSignatures(await runCosign(verifyCommand(subject, o.verifier, o.bin), { env }), digest)));
  } catch (e) {
    checks.push(tagged({ name: 'signature', ok: false, detail: failureReason(e, 'signature', ctx) }));
  }
  let sbom: SbomSummary | undefined;
  try {
    const r = checkSbom(statementsOf(await runCosign(verifyAttestationCommand(subject, o.verifier, SBOM_TYPE, o.bin), { env })), digest);
    checks.push(tagged(r.check));
    sbom = r.sbom;
  } catch (e) {
    checks.push(tagged({ name: 'sbom', ok: false, detail: failureReason(e, 'sbom', ctx) }));
  }
  let provenance: ProvenanceSummary | undefined;
  try {
    const r = checkProvenance(statementsOf(await runCosign(verifyAttestationCommand(subject, o.verifier, PROVENANCE_TYPE, o.bin), { env })), digest, sbom);
    checks.push(tagged(r.check));
    provenance = r.provenance;
  } catch (e) {
    checks.push(tagged({ name: 'provenance', ok: false, detail: failureReason(e, 'provenance', ctx) }));
  }
  return { checks, found: { ...(sbom ? { sbom } : {}), ...(provenance ? { provenance } : {}) } };
}
