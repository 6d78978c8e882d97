/**
 * `sparkcraft publish rock|snap|promote` (npm run publish:rock / publish:snap).
 * Dry run by default: the plan is computed and printed (`--json`: the plan object) and nothing
 * changes; `--yes` applies it.
 */
import * as path from 'node:path';
import { Command, Option } from 'commander';
import type { Matrix, ResolvedLine, Risk } from '../config/types.ts';
import { UserError, describeError, isUserError } from '../lib/errors.ts';
import { projectRoot } from '../lib/paths.ts';
import { storeReadiness } from '../lib/tools/snapcraft-store.ts';
import { DEFAULT_RETRY, type RetryPolicy } from './retry.ts';
import { RegistrySession, applyRockPlan, findRockArtifact, formatRockPlan, inspectRock, repositoryOf } from './rock.ts';
import {
  RISKS,
  applySnapUpload,
  applyStoreCommand,
  findSnapArtifact,
  formatSnapPlan,
  planPromote,
  planSnapUpload,
  readSnapMeta,
  snapRefusal,
} from './snap.ts';

interface LineOpts {
  matrix?: string;
  line?: string;
  flavour?: string;
  risk?: string;
}

interface MatrixModule {
  loadMatrix(file?: string): Matrix | Promise<Matrix>;
  resolveLine(m: Matrix, sel: { line?: string; flavour?: string; risk?: Risk }): ResolvedLine;
}

// Loaded lazily: the config step owns src/config/matrix.ts.
const MATRIX_MODULE = '../config/matrix.ts';

export async function loadLine(o: LineOpts): Promise<{ matrix: Matrix; resolved: ResolvedLine }> {
  if (o.risk !== undefined && !RISKS.includes(o.risk as Risk)) {
    throw new UserError('E_USAGE', `unknown risk "${o.risk}"`, { hint: `use one of ${RISKS.join(', ')}` });
  }
  const mod = (await import(MATRIX_MODULE)) as MatrixModule;
  const matrix = await mod.loadMatrix(o.matrix);
  const resolved = mod.resolveLine(matrix, {
    ...(o.line ? { line: o.line } : {}),
    ...(o.flavour ? { flavour: o.flavour } : {}),
    ...(o.risk ? { risk: o.risk as Risk } : {}),
  });
  return { matrix, resolved };
}

function lineOptions(cmd: Command): Command {
  return cmd
    .option('--matrix <file>', 'release matrix file (default: matrix.yaml at the project root)')
    .option('--line <track>', 'Spark line, e.g. 3.5 (default: the matrix default)')
    .option('--flavour <name>', 'flavour (default: spark)')
    .option('--risk <risk>', `one of ${RISKS.join(', ')} (default: the matrix default)`)
    .option('--artifact <file>', 'the file to publish (default: from dist/)')
    .option('-y, --yes', 'publish for real (default: dry run, print the plan)', false)
    .option('--json', 'print the plan (and the result) as JSON on stdout', false);
}

function emitJson(doc: unknown): void {
  process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
}

function errorJson(e: unknown): { code: string; message: string } {
  return { code: isUserError(e) ? e.code : 'E_INTERNAL', message: describeError(e) };
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UserError('E_USAGE', `expected a whole number, got "${v}"`);
  return n;
}

interface RockCliOpts extends LineOpts {
  artifact?: string;
  yes: boolean;
  json: boolean;
  force: boolean;
  registry?: string;
  registryCertDir?: string;
  attempts: number;
  retryDelayMs: number;
}

export async function publishRock(o: RockCliOpts, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const { matrix, resolved } = await loadLine(o);
  const registry = o.registry || env.SPARKCRAFT_REGISTRY || resolved.image.registry || matrix.project.registry;
  const artifact = o.artifact ? path.resolve(o.artifact) : await findRockArtifact(projectRoot, resolved);
  const certDir = o.registryCertDir || env.SPARKCRAFT_REGISTRY_CERT_DIR || undefined;
  const retry: RetryPolicy = { attempts: Math.max(1, o.attempts), baseDelayMs: o.retryDelayMs, maxDelayMs: Math.max(o.retryDelayMs, DEFAULT_RETRY.maxDelayMs) };
  const session = new RegistrySession(repositoryOf(registry, resolved.image.name).host, env, certDir, retry);
  try {
    const plan = await inspectRock(
      { resolved, registry, artifact, force: o.force, dryRun: !o.yes, ...(certDir ? { certDir } : {}) },
      session,
    );
    if (!o.json) process.stdout.write(formatRockPlan(plan) + '\n');
    if (!o.yes) {
      if (o.json) emitJson({ dryRun: true, plan });
      else process.stdout.write(`dry run: nothing pushed${plan.problems.length ? ' (the refusals above would stop --yes)' : ''}; add --yes to publish\n`);
      return;
    }
    try {
      const result = await applyRockPlan(plan, session);
      if (o.json) emitJson({ dryRun: false, plan, result });
      else {
        process.stdout.write(
          `published ${plan.repository}@${result.digest}: ${result.pushed.length} tag(s) pushed, ${result.verified.length} reference(s) verified in ${result.seconds.toFixed(1)} s\n`,
        );
      }
    } catch (e) {
      if (o.json) emitJson({ dryRun: false, plan, error: errorJson(e) });
      throw e;
    }
  } finally {
    await session.close();
  }
}

interface SnapCliOpts extends LineOpts {
  artifact?: string;
  yes: boolean;
  json: boolean;
}

export async function publishSnap(o: SnapCliOpts, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const { matrix, resolved } = await loadLine(o);
  const snapName = resolved.snap.name;
  const file = o.artifact ? path.resolve(o.artifact) : await findSnapArtifact(projectRoot, resolved);
  const meta = await readSnapMeta(file);
  const { missing } = await storeReadiness(env);
  const plan = planSnapUpload({ resolved, snapName, file, meta, missing });
  if (!o.json) process.stdout.write(formatSnapPlan(plan) + '\n');
  if (!o.yes) {
    if (o.json) emitJson({ dryRun: true, plan });
    else if (plan.missing.length || plan.problems.length) {
      process.stdout.write(`dry run: nothing uploaded; --yes would stop here: ${[...plan.problems, ...plan.missing].join('; ')}\n`);
    } else process.stdout.write('dry run: nothing uploaded; add --yes to upload\n');
    return;
  }
  try {
    const refusal = snapRefusal(plan);
    if (refusal) throw refusal;
    const result = await applySnapUpload(plan, env);
    if (o.json) emitJson({ dryRun: false, plan, result });
    else process.stdout.write(`uploaded ${snapName} ${meta.version} to ${plan.channel}${result.revision ? ` as revision ${result.revision}` : ''}\n`);
  } catch (e) {
    if (o.json) emitJson({ dryRun: false, plan, error: errorJson(e) });
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

export async function promoteSnap(o: PromoteCliOpts, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  for (const r of [o.to, o.from]) {
    if (r !== undefined && !RISKS.includes(r as Risk)) throw new UserError('E_USAGE', `unknown risk "${r}"`, { hint: `use one of ${RISKS.join(', ')}` });
  }
  const { matrix, resolved } = await loadLine({ ...(o.matrix ? { matrix: o.matrix } : {}), ...(o.line ? { line: o.line } : {}) });
  const { missing } = await storeReadiness(env);
  const plan = planPromote({
    snapName: matrix.project.snapName,
    track: resolved.line.track,
    to: o.to as Risk,
    ...(o.from ? { from: o.from as Risk } : {}),
    ...(o.revision !== undefined ? { revision: o.revision } : {}),
    missing,
  });
  if (!o.json) {
    process.stdout.write(`plan: ${plan.revision !== null ? `release revision ${plan.revision}` : `promote ${plan.from}`} of ${plan.snap} → ${plan.to}\n  command  ${plan.command}\n`);
    for (const m of missing) process.stdout.write(`  missing: ${m}\n`);
  }
  if (!o.yes) {
    if (o.json) emitJson({ dryRun: true, plan });
    else process.stdout.write('dry run: nothing released; add --yes to release\n');
    return;
  }
  if (missing.length) {
    const e = new UserError('E_STORE_UNAVAILABLE', `cannot release in the Snap Store: ${missing.join('; ')}`, { hint: 'the plan above is what would run' });
    if (o.json) emitJson({ dryRun: false, plan, error: errorJson(e) });
    throw e;
  }
  const r = await applyStoreCommand([plan.argv[0]!, plan.argv.slice(1)], env, `snapcraft ${plan.argv[1]} to ${plan.to}`);
  if (o.json) emitJson({ dryRun: false, plan, result: { to: plan.to, output: r.output } });
  else process.stdout.write(`released ${plan.snap} to ${plan.to}\n`);
}

/** Pure: what release pipelines need to know about a line, as `key=value` lines (for $GITHUB_OUTPUT). */
export function resolveOutputs(matrix: Matrix, r: ResolvedLine): Record<string, string> {
  return {
    track: r.line.track,
    spark: r.line.spark,
    flavour: r.flavour.name,
    risk: r.risk,
    image: r.image.name,
    registry: r.image.registry || matrix.project.registry,
    tags: r.image.tags.join(' '),
    'snap-name': r.snap.name,
    'snap-channel': r.snap.channel,
    'build-dir': r.paths.build,
    'rock-file': r.paths.rock,
    'snap-file': r.paths.snap,
  };
}

export function register(program: Command): void {
  const publish = program.command('publish').description('publish the rock to an OCI registry and the snap to the Snap Store (dry run unless --yes)');

  lineOptions(publish.command('rock').description('push the rock with every tag of its line; verify by reading the digests back'))
    .option('--force', 'overwrite an immutable (full-version) tag that holds another digest', false)
    .option('--registry <host/namespace>', 'registry and namespace (default: matrix, or $SPARKCRAFT_REGISTRY)')
    .option('--registry-cert-dir <dir>', 'CA certificates (*.crt) to trust for the registry (or $SPARKCRAFT_REGISTRY_CERT_DIR)')
    .addOption(new Option('--attempts <n>', 'attempts per registry call on network errors and 5xx').argParser(positiveInt).default(DEFAULT_RETRY.attempts))
    .addOption(new Option('--retry-delay-ms <ms>', 'first backoff delay (doubles each retry)').argParser(positiveInt).default(DEFAULT_RETRY.baseDelayMs))
    .action(async (o: RockCliOpts) => publishRock(o));

  lineOptions(publish.command('snap').description('upload the snap to the Snap Store channel <track>/<risk> of its line')).action(async (o: SnapCliOpts) =>
    publishSnap(o),
  );

  publish
    .command('resolve')
    .description('print the line\'s names (track, tags, channel, build dir, artifact files) as key=value lines, or --json')
    .option('--matrix <file>', 'release matrix file')
    .option('--line <track>', 'Spark line')
    .option('--flavour <name>', 'flavour')
    .option('--risk <risk>', 'risk')
    .option('--json', 'as JSON', false)
    .action(async (o: LineOpts & { json: boolean }) => {
      const { matrix, resolved } = await loadLine(o);
      const out = resolveOutputs(matrix, resolved);
      if (o.json) emitJson(out);
      else process.stdout.write(Object.entries(out).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
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
    .action(async (o: PromoteCliOpts) => promoteSnap(o));

}
