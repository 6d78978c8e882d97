/**
 * `sparkcraft publish rock|snap|promote` (npm run publish:rock / publish:snap): options and printing;
 * the operations are publish.ts.
 * Dry run by default: the plan is computed and printed (`--json`: the plan object) and nothing
 * changes; `--yes` applies it.
 */
import { type Command, Option } from 'commander';
import { selectLine } from '../config/matrix.ts';
import type { Matrix, ResolvedLine, Risk } from '../config/types.ts';
import { UserError, isUserError } from '../lib/errors.ts';
import { errorJson, out, outJson } from '../lib/output.ts';
import { workspace, type Workspace } from '../lib/workspace.ts';
import { DEFAULT_RETRY } from '../lib/retry.ts';
import { existsSync } from 'node:fs';
import { RegistrySession } from './session.ts';
import { parseImageRef, verifyImage } from './verify.ts';
import type { Verifier } from '../lib/tools/cosign.ts';
import { RISKS, formatSnapPlan } from './store.ts';
import { ARCHITECTURES } from '../lib/arch.ts';

import {
  applyPromotion,
  applyRockPublish,
  applySnapPublish,
  checkRisk,
  formatPublishRockPlan,
  signingProblems,
  planPromotion,
  planRockPublish,
  planSnapPublish,
  resolveOutputs,
} from './publish.ts';

interface LineOpts {
  matrix?: string;
  line?: string;
  flavour?: string;
  risk?: string;
  arch?: string;
  java?: number;
}

/** The line the options select (risk checked first, so a typo is a usage error). */
export function loadLine(o: LineOpts, ws: Workspace): { matrix: Matrix; resolved: ResolvedLine } {
  checkRisk(o.risk);
  return selectLine(o.matrix ?? ws.matrixFile, {
    line: o.line,
    flavour: o.flavour,
    risk: o.risk as Risk | undefined,
    ...(o.arch ? { arch: o.arch } : {}),
    ...(o.java !== undefined ? { java: o.java } : {}),
  });
}

/**
 * The cells one publish names (the rock's tags, the snap's channel): every architecture of the matrix
 * (the same line, flavour, Java and risk), or the one `--arch` selects when the matrix builds only that
 * one. With several architectures, `--arch` is refused: one of them alone under the tags would replace
 * the others (the store, too, gets every architecture's upload of a release).
 */
export function publishCells(o: LineOpts, ws: Workspace): { matrix: Matrix; cells: ResolvedLine[] } {
  const { matrix, resolved } = loadLine(o, ws);
  if (matrix.architectures.length === 1) return { matrix, cells: [resolved] };
  if (o.arch)
    throw new UserError(
      'E_ARCH',
      `publish names every architecture of the matrix (${matrix.architectures.join(', ')}) at once; it does not take --arch ${o.arch}`,
      {
        hint: "build each (--arch A) and publish without --arch, or give each architecture's file with --artifact FILE (repeatable)",
      },
    );
  return { matrix, cells: matrix.architectures.map((arch) => loadLine({ ...o, arch }, ws).resolved) };
}

/** Pure: repeatable `[arch=]FILE` values → one for every architecture (`all`) and those per architecture. */
export function perArch(values: string[] | undefined, option: string): { all?: string; byArch: Record<string, string> } {
  const byArch: Record<string, string> = {};
  let all: string | undefined;
  for (const v of values ?? []) {
    const m = /^([a-z0-9]+)=(.+)$/.exec(v);
    if (m && ARCHITECTURES[m[1]!]) {
      if (byArch[m[1]!]) throw new UserError('E_USAGE', `${option} names two files for ${m[1]}`);
      byArch[m[1]!] = m[2]!;
    } else {
      if (all) throw new UserError('E_USAGE', `${option} is given twice without an architecture`, { hint: `give ${option} ARCH=FILE for each architecture` });
      all = v;
    }
  }
  return { ...(all ? { all } : {}), byArch };
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

function lineOptions(cmd: Command): Command {
  return cmd
    .option('--matrix <file>', 'release matrix file (default: matrix.yaml at the project root)')
    .option('--line <track>', 'Spark line, e.g. 3.5 (default: the matrix default)')
    .option('--flavour <name>', 'flavour (default: spark)')
    .option('--risk <risk>', `one of ${RISKS.join(', ')} (default: the matrix default)`)
    .option('--arch <arch>', "architecture (default: this host's; a rock publish names every architecture of the matrix)")
    .option('--java <version>', "Java version (default: the line's first)", Number)
    .option('--artifact <file>', 'the file to publish (default: from dist/); repeat it for each architecture of a rock', collect)
    .option('-y, --yes', 'publish for real (default: dry run, print the plan)', false)
    .option('--json', 'print the plan (and the result) as JSON on stdout', false);
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UserError('E_USAGE', `expected a whole number, got "${v}"`);
  return n;
}

interface RockCliOpts extends LineOpts {
  artifact?: string[];
  yes: boolean;
  json: boolean;
  force: boolean;
  registry?: string;
  registryCertDir?: string;
  attempts: number;
  retryDelayMs: number;
  signKey?: string;
  keyless?: boolean;
  /** commander's --no-sign: sign=false. */
  sign: boolean;
  sbom?: string[];
  baseSbom?: string[];
  lock?: string;
}

export async function publishRock(o: RockCliOpts, ws: Workspace, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const { cells } = publishCells(o, ws);
  const sbom = perArch(o.sbom, '--sbom');
  const baseSbom = perArch(o.baseSbom, '--base-sbom');
  const { artifact: _files, sbom: _s, baseSbom: _b, ...rest } = o;
  const { plan, session } = await planRockPublish(
    cells,
    ws,
    {
      ...rest,
      ...(o.artifact?.length ? { artifacts: o.artifact } : {}),
      ...(sbom.all ? { sbom: sbom.all } : {}),
      ...(baseSbom.all ? { baseSbom: baseSbom.all } : {}),
      sboms: sbom.byArch,
      baseSboms: baseSbom.byArch,
      dryRun: !o.yes,
      noSign: !o.sign,
      ...(o.lock ? { lockFile: o.lock } : {}),
    },
    env,
  );
  try {
    if (!o.json) out(formatPublishRockPlan(plan));
    if (!o.yes) {
      if (o.json) outJson({ dryRun: true, plan });
      else {
        const refused = plan.problems.length + signingProblems(plan).length;
        out(
          `dry run: nothing pushed${plan.signing?.key ? ', nothing signed' : ''}${refused ? ' (the refusals above would stop --yes)' : ''}; add --yes to publish`,
        );
      }
      return;
    }
    try {
      const result = await applyRockPublish(plan, session, env);
      if (o.json) outJson({ dryRun: false, plan, result });
      else {
        out(
          `published ${plan.repository}@${result.digest}: ${result.pushed.length} tag(s) pushed, ${result.verified.length} reference(s) verified in ${result.seconds.toFixed(1)} s`,
        );
        if (result.signing?.verified) out(result.signing.verified.line);
        else if (result.signing?.signed && plan.index)
          out(
            `signed the index ${result.signing.subject} and ${result.platformSigning.length} platforms, each with its SBOM and provenance (${plan.signing?.keySource})`,
          );
        else if (result.signing?.signed)
          out(`signed ${result.signing.subject} and attached ${result.signing.attestations.join(', ')} (${plan.signing?.keySource})`);
        else out('not signed (--no-sign)');
      }
    } catch (e) {
      if (o.json) outJson({ dryRun: false, plan, error: errorJson(e) });
      throw e;
    }
  } finally {
    await session.close();
  }
}

interface VerifyCliOpts {
  key?: string;
  certificateIdentity?: string;
  certificateIdentityRegexp?: string;
  certificateOidcIssuer?: string;
  registryCertDir?: string;
  json: boolean;
}

/** `sparkcraft verify IMAGE --key PUB`: one line (or --json); exit 1 when anything does not hold. */
export async function verifyCli(image: string, o: VerifyCliOpts, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const parsed = parseImageRef(image);
  const verifier = verifierFrom(o);
  if (verifier.kind === 'key' && !existsSync(verifier.publicKey))
    throw new UserError('E_USAGE', `the public key ${verifier.publicKey} does not exist`, { hint: 'pass --key FILE with the cosign public key (cosign.pub)' });
  const certDir = o.registryCertDir || env.SPARKCRAFT_REGISTRY_CERT_DIR || undefined;
  const session = new RegistrySession(parsed.repository.split('/')[0]!, env, certDir, DEFAULT_RETRY);
  try {
    const result = await verifyImage(image, { verifier, session, env });
    if (o.json) outJson(result);
    if (!result.ok) throw new UserError('E_VERIFY', result.line);
    if (!o.json) out(result.line);
  } finally {
    await session.close();
  }
}

/** Pure: a public key, or a keyless identity (exact or regexp) with its issuer; anything else is a usage error. */
export function verifierFrom(o: Pick<VerifyCliOpts, 'key' | 'certificateIdentity' | 'certificateIdentityRegexp' | 'certificateOidcIssuer'>): Verifier {
  const keyless = o.certificateIdentity || o.certificateIdentityRegexp || o.certificateOidcIssuer;
  if (o.key && keyless) throw new UserError('E_USAGE', 'give either --key or a keyless identity, not both');
  if (o.key) return { kind: 'key', publicKey: o.key };
  if (!keyless)
    throw new UserError('E_USAGE', 'nothing to verify against', {
      hint: 'pass --key cosign.pub, or --certificate-identity(-regexp) and --certificate-oidc-issuer for a keyless signature',
    });
  if (!o.certificateOidcIssuer)
    throw new UserError('E_USAGE', 'a keyless identity needs --certificate-oidc-issuer', {
      hint: 'GitHub Actions: https://token.actions.githubusercontent.com',
    });
  if (!o.certificateIdentity === !o.certificateIdentityRegexp)
    throw new UserError('E_USAGE', 'give one of --certificate-identity and --certificate-identity-regexp');
  return {
    kind: 'identity',
    issuer: o.certificateOidcIssuer,
    ...(o.certificateIdentity ? { identity: o.certificateIdentity } : {}),
    ...(o.certificateIdentityRegexp ? { identityRegexp: o.certificateIdentityRegexp } : {}),
  };
}

interface SnapCliOpts extends LineOpts {
  artifact?: string[];
  yes: boolean;
  json: boolean;
}

export async function publishSnap(o: SnapCliOpts, ws: Workspace, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const { cells } = publishCells(o, ws);
  const plans = await planSnapPublish(cells, ws, { ...(o.artifact?.length ? { artifacts: o.artifact } : {}) }, env);
  // One plan: the object as before; several (one upload per architecture): the list.
  const planJson = plans.length === 1 ? { plan: plans[0] } : { plans };
  if (!o.json) out(plans.map(formatSnapPlan).join('\n'));
  if (!o.yes) {
    const stops = [...new Set(plans.flatMap((p) => [...p.problems, ...p.missing]))];
    if (o.json) outJson({ dryRun: true, ...planJson });
    else if (stops.length) out(`dry run: nothing uploaded; --yes would stop here: ${stops.join('; ')}`);
    else out('dry run: nothing uploaded; add --yes to upload');
    return;
  }
  try {
    const results = await applySnapPublish(plans, env);
    if (o.json) outJson({ dryRun: false, ...planJson, result: plans.length === 1 ? results[0] : results });
    else
      for (const [i, p] of plans.entries())
        out(
          `uploaded ${p.snap} ${p.meta.version}${p.meta.architectures ? ` (${p.meta.architectures.join(', ')})` : ''} to ${p.channel}${results[i]!.revision ? ` as revision ${results[i]!.revision}` : ''}`,
        );
  } catch (e) {
    if (o.json) outJson({ dryRun: false, ...planJson, error: errorJson(e) });
    throw e;
  }
}

interface PromoteCliOpts {
  matrix?: string;
  line?: string;
  to: string;
  from?: string;
  revision?: number;
  yes: boolean;
  json: boolean;
}

export async function promoteSnap(o: PromoteCliOpts, ws: Workspace, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  checkRisk(o.to);
  checkRisk(o.from);
  const { resolved } = loadLine({ ...(o.matrix ? { matrix: o.matrix } : {}), ...(o.line ? { line: o.line } : {}) }, ws);
  const plan = await planPromotion(resolved, o, env);
  if (!o.json) {
    out(
      `plan: ${plan.revision !== null ? `release revision ${plan.revision}` : `promote ${plan.from}`} of ${plan.snap} → ${plan.to}\n  command  ${plan.command}`,
    );
    for (const m of plan.missing) out(`  missing: ${m}`);
  }
  if (!o.yes) {
    if (o.json) outJson({ dryRun: true, plan });
    else out('dry run: nothing released; add --yes to release');
    return;
  }
  try {
    const result = await applyPromotion(plan, env);
    if (o.json) outJson({ dryRun: false, plan, result });
    else out(`released ${plan.snap} to ${plan.to}`);
  } catch (e) {
    if (o.json && isUserError(e) && e.code === 'E_STORE_UNAVAILABLE') outJson({ dryRun: false, plan, error: errorJson(e) });
    throw e;
  }
}

export function register(program: Command, ws: Workspace = workspace()): void {
  const publish = program.command('publish').description('publish the rock to an OCI registry and the snap to the Snap Store (dry run unless --yes)');

  lineOptions(publish.command('rock').description('push the rock with every tag of its line; verify by reading the digests back'))
    .option('--force', 'overwrite an immutable (full-version) tag that holds another digest', false)
    .option('--registry <host/namespace>', 'registry and namespace (default: matrix, or $SPARKCRAFT_REGISTRY)')
    .option('--registry-cert-dir <dir>', 'CA certificates (*.crt) to trust for the registry (or $SPARKCRAFT_REGISTRY_CERT_DIR)')
    .addOption(new Option('--attempts <n>', 'attempts per registry call on network errors and 5xx').argParser(positiveInt).default(DEFAULT_RETRY.attempts))
    .addOption(new Option('--retry-delay-ms <ms>', 'first backoff delay (doubles each retry)').argParser(positiveInt).default(DEFAULT_RETRY.baseDelayMs))
    .option('--sign-key <file>', 'cosign private key to sign the pushed digest with (default: $COSIGN_KEY; password: $COSIGN_PASSWORD)')
    .option('--keyless', "sign keyless with the CI's OIDC identity (Fulcio certificate, Rekor entry)", false)
    .option('--no-sign', 'publish without signing or attaching the SBOM and provenance')
    .option(
      '--sbom <[arch=]file>',
      "SPDX SBOM to attach (default: each cell's build/<track>/<flavour>/<arch>-java<N>/inputs/sbom.spdx.json); ARCH=FILE for one architecture",
      collect,
    )
    .option(
      '--base-sbom <[arch=]file>',
      "a layered flavour: its base's SPDX SBOM, merged into the one attached (default: the base cell's inputs/sbom.spdx.json); ARCH=FILE for one architecture",
      collect,
    )
    .option('--lock <file>', 'lock file whose inputs the provenance lists (default: sparkcraft.lock.json)')
    .action(async (o: RockCliOpts) => publishRock(o, ws));

  program
    .command('verify <image>')
    .description(
      'check the signature, SBOM and provenance of a published image (tag or @digest) against a cosign public key or a keyless identity; one line says what holds',
    )
    .option('--key <file>', 'cosign public key (PEM), e.g. cosign.pub: for key-signed images')
    .option(
      '--certificate-identity <id>',
      'keyless: the signer identity, e.g. https://github.com/OWNER/REPO/.github/workflows/release.yaml@refs/tags/release/3.5/edge',
    )
    .option('--certificate-identity-regexp <re>', 'keyless: a regexp the signer identity must match')
    .option('--certificate-oidc-issuer <url>', 'keyless: the OIDC issuer (GitHub Actions: https://token.actions.githubusercontent.com)')
    .option('--registry-cert-dir <dir>', 'CA certificates (*.crt) to trust for the registry (or $SPARKCRAFT_REGISTRY_CERT_DIR)')
    .option('--json', 'print the result as JSON', false)
    .action(async (image: string, o: VerifyCliOpts) => verifyCli(image, o));

  lineOptions(publish.command('snap').description('upload the snap to the Snap Store channel <track>/<risk> of its line')).action(async (o: SnapCliOpts) =>
    publishSnap(o, ws),
  );

  publish
    .command('resolve')
    .description("print the line's names (track, tags, channel, build dir, artifact files) as key=value lines, or --json")
    .option('--matrix <file>', 'release matrix file')
    .option('--line <track>', 'Spark line')
    .option('--flavour <name>', 'flavour')
    .option('--risk <risk>', 'risk')
    .option('--arch <arch>', "architecture (default: this host's)")
    .option('--java <version>', "Java version (default: the line's first)", Number)
    .option('--json', 'as JSON', false)
    .action(async (o: LineOpts & { json: boolean }) => {
      const { resolved, matrix } = loadLine(o, ws);
      const outputs = resolveOutputs(resolved, matrix);
      if (o.json) outJson(outputs);
      else
        out(
          Object.entries(outputs)
            .map(([k, v]) => `${k}=${v}`)
            .join('\n'),
        );
    });

  publish
    .command('promote')
    .description('release a snap revision (or what a channel holds) to a more stable risk of the same track')
    .option('--matrix <file>', 'release matrix file')
    .option('--line <track>', 'Spark line (snap track), e.g. 3.5')
    .requiredOption('--to <risk>', `target risk (${RISKS.join(', ')})`)
    .option('--from <risk>', 'promote what this risk holds now')
    .addOption(new Option('--revision <n>', 'release this exact revision').argParser(positiveInt))
    .option('-y, --yes', 'release for real (default: dry run)', false)
    .option('--json', 'print the plan (and the result) as JSON', false)
    .action(async (o: PromoteCliOpts) => promoteSnap(o, ws));
}
