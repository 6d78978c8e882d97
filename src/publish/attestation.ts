/**
 * The attestation vocabulary, pure: the predicate types cosign attaches and verify looks for, canonical
 * JSON and the SBOM digest the provenance records, the SLSA v1 provenance predicate and who built it.
 * sign.ts makes attestations from these, verify.ts checks them; neither imports the other for them.
 */
import { createHash } from 'node:crypto';
import { COSIGN_VERSION } from '../lib/tools/cosign.ts';

export const SBOM_TYPE = 'spdxjson';
export const SBOM_PREDICATE_TYPE = 'https://spdx.dev/Document';
export const PROVENANCE_TYPE = 'slsaprovenance1';
export const PROVENANCE_PREDICATE_TYPE = 'https://slsa.dev/provenance/v1';
export const BUILD_TYPE = 'https://sparkcraft.invalid/build-types/rock/v1';
export const LOCAL_BUILDER = 'https://sparkcraft.invalid/builders/local';

/** One input of the image, as the provenance lists it (a resolvedDependency). */
export interface AttestedInput {
  id: string;
  url: string;
  sha256: string;
}

/** Canonical JSON (keys sorted, no spaces): the same bytes however a tool re-serialised the document. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v as object)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** The digest an SBOM is known by in the provenance: sha256 of its canonical JSON. */
export function sbomDigest(doc: unknown): string {
  return createHash('sha256').update(canonicalJson(doc)).digest('hex');
}

export interface ProvenanceInput {
  source: string;
  commit: string;
  dirty: boolean;
  line: string;
  flavour: string;
  risk: string;
  spark: string;
  image: string;
  lockFile: string;
  lockSha256: string;
  inputs: AttestedInput[];
  sbomSha256: string;
  builderId: string;
  invocationId?: string;
  startedOn: string;
}

/** Pure: the SLSA v1 provenance predicate (https://slsa.dev/spec/v1.0/provenance). */
export function provenancePredicate(i: ProvenanceInput) {
  return {
    buildDefinition: {
      buildType: BUILD_TYPE,
      externalParameters: {
        source: { uri: `git+${i.source}`, digest: { gitCommit: i.commit } },
        line: i.line,
        flavour: i.flavour,
        risk: i.risk,
        spark: i.spark,
        image: i.image,
      },
      internalParameters: { lockFile: i.lockFile, sourceTreeDirty: i.dirty },
      resolvedDependencies: [
        { uri: `git+${i.source}@${i.commit}`, digest: { gitCommit: i.commit } },
        { name: i.lockFile, uri: `git+${i.source}@${i.commit}#${i.lockFile}`, digest: { sha256: i.lockSha256 } },
        ...i.inputs.map((x) => ({ name: x.id, uri: x.url, digest: { sha256: x.sha256 } })),
      ],
    },
    runDetails: {
      builder: { id: i.builderId, version: { cosign: COSIGN_VERSION } },
      metadata: { ...(i.invocationId ? { invocationId: i.invocationId } : {}), startedOn: i.startedOn },
      byproducts: [{ name: 'sbom.spdx.json', mediaType: 'application/spdx+json', digest: { sha256: i.sbomSha256 } }],
    },
  };
}
export type ProvenancePredicate = ReturnType<typeof provenancePredicate>;

/** Pure: who built it — the GitHub workflow run in Actions, otherwise a local build. */
export function builderFromEnv(env: NodeJS.ProcessEnv): { id: string; invocationId?: string } {
  if (env.GITHUB_ACTIONS === 'true' && env.GITHUB_SERVER_URL && env.GITHUB_REPOSITORY) {
    const server = env.GITHUB_SERVER_URL;
    const id = env.GITHUB_WORKFLOW_REF ? `${server}/${env.GITHUB_WORKFLOW_REF}` : `${server}/${env.GITHUB_REPOSITORY}/.github/workflows/release.yaml`;
    const invocationId = env.GITHUB_RUN_ID
      ? `${server}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}/attempts/${env.GITHUB_RUN_ATTEMPT ?? '1'}`
      : undefined;
    return { id, ...(invocationId ? { invocationId } : {}) };
  }
  return { id: LOCAL_BUILDER };
}

/** The parts of an SPDX 2.3 JSON document (stage/sbom.ts writes them) that attestations read and merge. */
export interface SpdxDocument {
  spdxVersion: string;
  dataLicense?: string;
  SPDXID?: string;
  name: string;
  documentNamespace?: string;
  creationInfo?: { created: string; creators: string[] };
  packages: Array<
    { SPDXID: string; name: string; versionInfo?: string; downloadLocation?: string; checksums?: Array<{ algorithm: string; checksumValue: string }> } & Record<
      string,
      unknown
    >
  >;
  files: Array<{ SPDXID: string; fileName: string; checksums?: Array<{ algorithm: string; checksumValue: string }> } & Record<string, unknown>>;
  relationships?: Array<{ spdxElementId: string; relationshipType: string; relatedSpdxElement: string }>;
}

/** The base image a layered image is built over: its name, version and manifest digest, and the SBOM its stage wrote. */
export interface BaseImage {
  name: string;
  version: string;
  manifestDigest: string;
  sbom: SpdxDocument;
}

export const BASE_IMAGE_SPDXID = 'SPDXRef-Package-base-image';

/**
 * Pure: the SBOM of a layered image, what is attached to its digest: the base image itself as a package
 * (its manifest digest as the checksum), the base's packages and files (SPDX ids prefixed `SPDXRef-Base-`,
 * so the two stages' ids cannot collide; the base image CONTAINS them), then the flavour's own, unchanged.
 */
export function layeredImageSbom(own: SpdxDocument, base: BaseImage): SpdxDocument {
  const hex = base.manifestDigest.replace(/^sha256:/, '');
  const rebase = (id: string) => id.replace(/^SPDXRef-/, 'SPDXRef-Base-');
  const basePackages = base.sbom.packages.map((p) => ({ ...p, SPDXID: rebase(p.SPDXID) }));
  return {
    ...own,
    name: `${own.name}+${base.name}-${base.version}`,
    documentNamespace: `${own.documentNamespace ?? `https://sparkcraft.invalid/spdx/${own.name}`}-over-${hex.slice(0, 16)}`,
    packages: [
      {
        SPDXID: BASE_IMAGE_SPDXID,
        name: base.name,
        versionInfo: base.version,
        downloadLocation: 'NOASSERTION',
        filesAnalyzed: false,
        licenseConcluded: 'NOASSERTION',
        licenseDeclared: 'NOASSERTION',
        checksums: [{ algorithm: 'SHA256', checksumValue: hex }],
        comment: `the base image this image is layered over, by its manifest digest ${base.manifestDigest}; its layers come first, unchanged`,
      },
      ...basePackages,
      ...own.packages,
    ],
    files: [...base.sbom.files.map((f) => ({ ...f, SPDXID: rebase(f.SPDXID) })), ...own.files],
    relationships: [
      ...basePackages.map((p) => ({ spdxElementId: BASE_IMAGE_SPDXID, relationshipType: 'CONTAINS', relatedSpdxElement: p.SPDXID })),
      ...(base.sbom.relationships ?? []).map((r) => ({ ...r, spdxElementId: rebase(r.spdxElementId), relatedSpdxElement: rebase(r.relatedSpdxElement) })),
      ...(own.relationships ?? []),
    ],
  };
}

/**
 * Pure: the inputs an SBOM records, as the provenance lists them: every package with a SHA256 checksum
 * (downloads, spark8t, the base image of a layered one), in the SBOM's order, each once.
 */
export function inputsOfSbom(doc: SpdxDocument): AttestedInput[] {
  const out: AttestedInput[] = [];
  const seen = new Set<string>();
  for (const p of doc.packages) {
    const sha256 = p.checksums?.find((c) => c.algorithm === 'SHA256')?.checksumValue;
    if (!sha256) continue;
    const id = p.SPDXID === BASE_IMAGE_SPDXID ? `base image ${p.name}@${p.versionInfo ?? ''}` : `${p.name}@${p.versionInfo ?? ''}`;
    if (seen.has(`${id} ${sha256}`)) continue;
    seen.add(`${id} ${sha256}`);
    const url = p.SPDXID === BASE_IMAGE_SPDXID ? `pkg:oci/${p.name}@sha256%3A${sha256}` : (p.downloadLocation ?? 'NOASSERTION');
    out.push({ id, url, sha256 });
  }
  return out;
}
