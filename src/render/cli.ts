/** `sparkcraft render`: matrix → manifests and static files; `--check` proves the committed ones current. */
import type { Command } from 'commander';
import { UserError } from '../lib/errors.ts';
import { log } from '../lib/log.ts';
import type { Workspace } from '../lib/workspace.ts';
import type { Road } from '../pipeline.ts';
import { flavourAvailable, loadMatrix, resolveLine, serviceOn } from '../config/matrix.ts';
import type { Risk } from '../config/types.ts';
import { check, loadTemplates, writeCommitted } from './render.ts';
import { stringify } from 'yaml';
import { SERVERS, type ServerName, serverManifests } from '../lib/servers.ts';
import { dns1123Label } from '../lib/k8s-names.ts';
import { cellRows, cellTable } from './cells.ts';
import { out, outJson } from '../lib/output.ts';

interface RenderOptions {
  matrix?: string;
  line?: string;
  flavour?: string;
  risk?: Risk;
}

export function register(program: Command, ws: Workspace, road: Road): void {
  program
    .command('render')
    .description('render rockcraft.yaml, snap/snapcraft.yaml and their files from matrix.yaml and templates/')
    .option('--matrix <file>', 'release matrix (default: matrix.yaml)')
    .option('--line <track>', 'Spark line (default: the matrix default)')
    .option('--flavour <name>', 'flavour (default: spark)')
    .option('--risk <risk>', 'edge, beta, candidate or stable (default: the matrix default)')
    .option('--arch <arch>', "architecture (default: this host's)")
    .option('--java <version>', "Java version (default: the line's first)", Number)
    .option('--all', 'render every line and available flavour into build/')
    .option('--check', 'fail when the committed manifests differ from what the templates produce')
    .action(async (o: RenderOptions & { all?: boolean; check?: boolean; arch?: string; java?: number }) => {
      if (o.check) {
        const stale = await check(o, ws);
        if (stale.length) {
          throw new UserError('E_STALE', `committed ${stale.join(' and ')} differ from what matrix.yaml and templates/ produce`);
        }
        log.info('committed manifests are current');
        return;
      }
      const m = loadMatrix(o.matrix ?? ws.matrixFile);
      if (o.all) {
        for (const line of m.lines) {
          for (const fl of line.flavours) {
            const r = resolveLine(m, { line: line.track, flavour: fl, risk: o.risk, arch: o.arch, java: o.java });
            if (!flavourAvailable(r.flavour)) {
              log.warn(`skipping ${line.track}/${fl}: ${r.flavour.reason}`);
              continue;
            }
            log.info(`rendered ${(await road.run(r, { until: 'render' })).rendered.dir}`);
          }
        }
        return;
      }
      const cell = resolveLine(m, { line: o.line, flavour: o.flavour, risk: o.risk, arch: o.arch, java: o.java });
      log.info(`rendered ${(await road.run(cell, { until: 'render' })).rendered.dir}`);
      if (!o.line && !o.flavour && !o.risk && !o.arch && !o.java) {
        const t = loadTemplates(ws.templates);
        for (const f of await writeCommitted(ws, m, t)) log.info(`wrote ${f}`);
      }
    });

  program
    .command('cells')
    .description('list every cell of the image family (line × flavour × Java, with its architectures) and its tags, or why it is refused')
    .option('--matrix <file>', 'release matrix (default: matrix.yaml)')
    .option('--json', 'print the cells as JSON')
    .action((o: { matrix?: string; json?: boolean }) => {
      const rows = cellRows(loadMatrix(o.matrix ?? ws.matrixFile));
      if (o.json) outJson(rows);
      else out(cellTable(rows));
    });

  program
    .command('manifest <server>')
    .description(
      "print the Kubernetes objects that run one of the rock's servers (thrift-server, spark-connect) for a spark8t account: a pebble layer, a Deployment as the account, a ClusterIP Service (kubectl apply -f -)",
    )
    .requiredOption('--username <name>', 'the spark8t account (its ServiceAccount) the server runs as')
    .requiredOption('--namespace <ns>', "the account's namespace")
    .option('--image <ref>', "the rock (default: the line's image of the matrix)")
    .option('--line <track>', 'Spark line (default: the matrix default)')
    .option('--no-auth', 'no credential (THRIFT_SERVER_AUTH / SPARK_CONNECT_AUTH=NONE): anyone who reaches the Service is let in')
    .option('--conf <k=v...>', "a spark-submit setting for the server, after the account's (repeatable)")
    .action((server: string, o: { username: string; namespace: string; image?: string; line?: string; auth: boolean; conf?: string[] }) => {
      if (!Object.hasOwn(SERVERS, server))
        throw new UserError('E_USAGE', `no server ${JSON.stringify(server)}`, { hint: `one of ${Object.keys(SERVERS).join(', ')}` });
      const name = server as ServerName;
      // Labels, both: the account's name goes into a Service's name.
      for (const [what, v] of [
        ['--username', o.username],
        ['--namespace', o.namespace],
      ] as const) {
        const problem = dns1123Label(v);
        if (problem)
          throw new UserError('E_USAGE', `${what} ${JSON.stringify(v)} is not a Kubernetes name: it ${problem}`, {
            hint: 'lower-case letters, digits and -, at most 63',
          });
      }
      for (const c of o.conf ?? []) if (!/^[^=\s]+=/.test(c)) throw new UserError('E_USAGE', `--conf ${JSON.stringify(c)} is not key=value`);
      const m = loadMatrix(ws.matrixFile);
      // The line's rock must have the service (refused by name, with the matrix's evidence, otherwise).
      const { line } = serviceOn(m, o.line, name);
      const image = o.image ?? resolveLine(m, { line: line.track }).image.ref;
      const objects = serverManifests(name, {
        username: o.username,
        namespace: o.namespace,
        image,
        ...(o.auth ? {} : { credentialSecret: null }),
        submitArgs: (o.conf ?? []).flatMap((c) => ['--conf', c]),
      });
      process.stdout.write(objects.map((x) => stringify(x)).join('---\n'));
      const deploy = objects[1]!.metadata.name as string;
      const key = SERVERS[name].secretKey;
      if (o.auth)
        log.info(
          `the server reads its ${key} from Secret ${deploy}-auth (key ${key}): kubectl -n ${o.namespace} create secret generic ${deploy}-auth --from-file=${key}=<file>`,
        );
    });
}
