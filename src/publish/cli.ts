/**
 * `sparkcraft publish rock|snap|promote` (npm run publish:rock / publish:snap): options and printing;
 * the operations are publish.ts.
 * Dry run by default: the plan is computed and printed (`--json`: the plan object) and nothing
 * changes; `--yes` applies it.
 */
import { Command, Option } from 'commander';
import { selectLine } from '../config/matrix.ts';
import type { Matrix, ResolvedLine, Risk } from '../config/types.ts';
import { UserError, isUserError } from '../lib/errors.ts';
import { errorJson, out, outJson } from '../lib/output.ts';
import { workspace, type Workspace } from '../lib/workspace.ts';
import { DEFAULT_RETRY } from '../lib/retry.ts';
import { formatRockPlan } from './registry.ts';
import { RISKS, formatSnapPlan } from './store.ts';
import { applyPromotion, applyRockPublish, applySnapPublish, checkRisk, planPromotion, planRockPublish, planSnapPublish, resolveOutputs } from './publish.ts';

interface LineOpts {
  matrix?: string;
  line?: string;
  flavour?: string;
  risk?: string;
}

/** The line the options select (risk checked first, so a typo is a usage error). */
export function loadLine(o: LineOpts, ws: Workspace): { matrix: Matrix; resolved: ResolvedLine } {
  checkRisk(o.risk);
  return selectLine(o.matrix ?? ws.matrixFile, { line: o.line, flavour: o.flavour, risk: o.risk as Risk | undefined });
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

export async function publishRock(o: RockCliOpts, ws: Workspace, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const { resolved } = loadLine(o, ws);
  const { plan, session } = await planRockPublish(resolved, ws, { ...o, dryRun: !o.yes }, env);
  try {
    if (!o.json) out(formatRockPlan(plan));
    if (!o.yes) {
      if (o.json) outJson({ dryRun: true, plan });
      else out(`dry run: nothing pushed${plan.problems.length ? ' (the refusals above would stop --yes)' : ''}; add --yes to publish`);
      return;
    }
    try {
      const result = await applyRockPublish(plan, session);
      if (o.json) outJson({ dryRun: false, plan, result });
      else {
        out(`published ${plan.repository}@${result.digest}: ${result.pushed.length} tag(s) pushed, ${result.verified.length} reference(s) verified in ${result.seconds.toFixed(1)} s`);
      }
    } catch (e) {
      if (o.json) outJson({ dryRun: false, plan, error: errorJson(e) });
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

export async function publishSnap(o: SnapCliOpts, ws: Workspace, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const { resolved } = loadLine(o, ws);
  const plan = await planSnapPublish(resolved, ws, o, env);
  if (!o.json) out(formatSnapPlan(plan));
  if (!o.yes) {
    if (o.json) outJson({ dryRun: true, plan });
    else if (plan.missing.length || plan.problems.length) {
      out(`dry run: nothing uploaded; --yes would stop here: ${[...plan.problems, ...plan.missing].join('; ')}`);
    } else out('dry run: nothing uploaded; add --yes to upload');
    return;
  }
  try {
    const result = await applySnapPublish(plan, env);
    if (o.json) outJson({ dryRun: false, plan, result });
    else out(`uploaded ${plan.snap} ${plan.meta.version} to ${plan.channel}${result.revision ? ` as revision ${result.revision}` : ''}`);
  } catch (e) {
    if (o.json) outJson({ dryRun: false, plan, error: errorJson(e) });
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
    out(`plan: ${plan.revision !== null ? `release revision ${plan.revision}` : `promote ${plan.from}`} of ${plan.snap} → ${plan.to}\n  command  ${plan.command}`);
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
    .action(async (o: RockCliOpts) => publishRock(o, ws));

  lineOptions(publish.command('snap').description('upload the snap to the Snap Store channel <track>/<risk> of its line')).action(async (o: SnapCliOpts) => publishSnap(o, ws));

  publish
    .command('resolve')
    .description('print the line\'s names (track, tags, channel, build dir, artifact files) as key=value lines, or --json')
    .option('--matrix <file>', 'release matrix file')
    .option('--line <track>', 'Spark line')
    .option('--flavour <name>', 'flavour')
    .option('--risk <risk>', 'risk')
    .option('--json', 'as JSON', false)
    .action(async (o: LineOpts & { json: boolean }) => {
      const { resolved, matrix } = loadLine(o, ws);
      const outputs = resolveOutputs(resolved, matrix);
      if (o.json) outJson(outputs);
      else out(Object.entries(outputs).map(([k, v]) => `${k}=${v}`).join('\n'));
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
