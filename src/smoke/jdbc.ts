/**
 * JDBC on the local node (issue 25): the rock's `thrift-server` service run for one spark8t account as
 * an administrator would (lib/thrift-server.ts: Deployment + ClusterIP Service, the pod as the account,
 * its password from a Secret), and beeline as a client from another pod of the rock. The account has
 * an S3 bucket and an Iceberg catalog of its own, so these scenarios depend on no other.
 * `--only '^jdbc'` selects them.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exposures, THRIFT_PORT } from '../lib/servers.ts';
import type { DataContext } from './data.ts';
import { rockPod } from './kube.ts';
import type { SnapRunner } from './runner.ts';
import { secretSightings } from './s3.ts';
import { serverOnNode } from './server-node.ts';

const USER = 'jdbcuser';

/** beeline's output without its prompts (`0: jdbc:hive2://host:port/db> `, printed before a row even with --silent). */
export const unprompt = (out: string) => out.replace(/^(?:\d+: jdbc:hive2:\/\/\S*> ?)+/gm, '');

/** What beeline printed, checked (pure): what is wrong, empty when all is right. */
export function checkBeeline(printed: string): string[] {
  const out = unprompt(printed);
  const wrong: string[] = [];
  if (!/^ROWS 3 3 c$/m.test(out)) wrong.push(`the table read back is not 3 rows with max id 3 and kind c (${out.match(/^ROWS .*$/m)?.[0] ?? 'no ROWS line'})`);
  if (!/^SNAPSHOTS 2$/m.test(out)) wrong.push(`the Iceberg table has not 2 snapshots (${out.match(/^SNAPSHOTS .*$/m)?.[0] ?? 'no SNAPSHOTS line'})`);
  if (!/^EXIT-NOPASS [1-9]/m.test(out)) wrong.push('a client without the password was not refused');
  if (!/^EXIT-WRONG [1-9]/m.test(out)) wrong.push('a client with a wrong password was not refused');
  if (!/^EXIT-OTHERUSER [1-9]/m.test(out)) wrong.push('a client with the password but another user name was not refused');
  const dir = out.match(/Failed to create directory: (\S+)/)?.[1];
  if (dir) wrong.push(`beeline could not keep its history (it tried ${dir})`);
  if (!/^HISTORY \d+$/m.test(out)) wrong.push(`beeline's history is not in the rock's home (${out.match(/^HISTORY .*$/m)?.[0] ?? 'no HISTORY line'})`);
  return wrong;
}

/** The JDBC scenarios, in order ("jdbc N. …"). */
export function jdbcScenarios(d: DataContext, snapOf?: () => Promise<SnapRunner>): Array<[string, () => Promise<string>]> {
  const { k, ns } = d;
  const password = randomBytes(24).toString('hex');
  const { serve, outputs, fail, guard, executors, remove } = serverOnNode(d, {
    server: 'thrift-server',
    user: USER,
    credential: password,
    what: 'the Thrift server',
  });
  let client: Promise<{ phase: string; log: string }> | undefined;

  /** beeline from a pod of the rock (the admin's ServiceAccount: the client needs no account). */
  const beeline = () =>
    (client ??= (async () => {
      const { name } = await serve();
      const url = `jdbc:hive2://${name}:${THRIFT_PORT}/default`; // the Service, by its name in the namespace
      const b = (user: string, pw: string) => `beeline -u '${url}' -n ${user} ${pw} --silent=true --showHeader=false --outputformat=tsv2 </dev/null`;
      const sql = [
        'CREATE NAMESPACE IF NOT EXISTS lake.db;',
        'CREATE TABLE lake.db.visits (id BIGINT, kind STRING) USING iceberg;',
        "INSERT INTO lake.db.visits VALUES (1, 'a'), (2, 'b');",
        "INSERT INTO lake.db.visits VALUES (3, 'c');",
      ].join('\n');
      const read =
        "SELECT concat('ROWS ', count(*), ' ', max(id), ' ', max(kind)) FROM lake.db.visits; SELECT concat('SNAPSHOTS ', count(*)) FROM lake.db.visits.snapshots;";
      const script = [
        // a client's connect → first row, its JVM's start included (the figure bench/cluster.ts reports)
        `t0=$(date +%s%N); ${b(USER, '-w /work/password')} -e 'SELECT 1' >/dev/null 2>&1; rc=$?; echo "FIRSTROW-MS $(( ($(date +%s%N) - t0) / 1000000 )) $rc"`,
        `${b(USER, '-w /work/password')} -f /work/write.sql 2>&1; echo "EXIT-WRITE $?"`,
        // a second connection (another session) reads what the first wrote
        `${b(USER, '-w /work/password')} -e "${read}" 2>&1; echo "EXIT-READ $?"`,
        `${b(USER, '')} -e 'SELECT 1' 2>&1 | grep -E -m 2 'Could not open|Peer indicated|validating the login|No current connection'; echo "EXIT-NOPASS \${PIPESTATUS[0]}"`,
        `${b(USER, '-w /work/wrong')} -e 'SELECT 1' 2>&1 | grep -E -m 2 'Could not open|Peer indicated|validating the login|No current connection'; echo "EXIT-WRONG \${PIPESTATUS[0]}"`,
        `${b('mallory', '-w /work/password')} -e 'SELECT 1' 2>&1 | grep -E -m 2 'Could not open|Peer indicated|validating the login|No current connection'; echo "EXIT-OTHERUSER \${PIPESTATUS[0]}"`,
        // the history of the sessions above, under the rock's home (HOME), not the passwd entry's /nonexistent
        'echo "HISTORY $(wc -l < /var/lib/spark/.beeline/history)"',
      ].join('\n');
      const pod = `beeline-${Date.now().toString(36).slice(-4)}`;
      await k.create([
        {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name: `${pod}-files`, namespace: ns },
          stringData: { password, wrong: `${password.slice(0, -1)}x`, 'write.sql': sql },
        },
      ]);
      await k.apply([rockPod(pod, ns, d.imageRef, script, { serviceAccount: 'admin', secret: `${pod}-files` })]);
      const r = await k.waitDone(ns, pod, 600);
      outputs.push(`### beeline\n${r.log}`);
      await k.run(['-n', ns, 'delete', 'secret', `${pod}-files`, '--ignore-not-found'], { reject: false });
      return r;
    })());

  const scenarios: Array<[string, () => Promise<string>]> = [
    [
      "jdbc 1. the rock's thrift-server as a spark8t account (Deployment + ClusterIP Service): beeline with the account's password writes and reads an Iceberg table on S3; executors are pods",
      () =>
        guard(async () => {
          const { pod, seconds } = await serve();
          const r = await beeline();
          const running = await executors(pod);
          const wrong = checkBeeline(r.log).filter((w) => !/refused/.test(w));
          // (with -f, beeline ends the DDL's empty results with `null` columns and no line end: the status line follows them)
          if (!/^FIRSTROW-MS \d+ 0$/m.test(r.log) || !/EXIT-WRITE 0$/m.test(r.log) || !/^EXIT-READ 0$/m.test(r.log)) wrong.unshift('beeline exited non-zero');
          const sa = (await k.json(['-n', ns, 'get', 'pod', pod])).spec.serviceAccountName as string;
          if (sa !== USER) wrong.push(`the server runs as ${sa}, not ${USER}`);
          if (!running.length) wrong.push("no executor pod owned by the server's pod");
          if (wrong.length) throw await fail(wrong.join('; '), `${r.log}\n--- server:\n${await k.logs(ns, pod, 40)}`);
          const rows = unprompt(r.log);
          const first = r.log.match(/^FIRSTROW-MS (\d+)/m)?.[1] ?? '?';
          return `server ready in ${seconds.toFixed(0)} s as ${sa}; beeline connect → first row ${first} ms; ${rows.match(/^ROWS .*$/m)![0]}, ${rows.match(/^SNAPSHOTS .*$/m)![0]}; ${running.length} executor pod(s) of the server`;
        }),
    ],
  ];
  if (snapOf)
    scenarios.push([
      "jdbc 2. the snap's beeline on the host, at the Service's ClusterIP: writes and reads an Iceberg table of its own",
      () =>
        guard(async () => {
          const { name } = await serve();
          const snap = await snapOf();
          const ip = (await k.json(['-n', ns, 'get', 'service', name])).spec.clusterIP as string;
          const dir = mkdtempSync(join(snap.dirs.userData, 'beeline-'));
          try {
            writeFileSync(join(dir, 'password'), password, { mode: 0o600 });
            const sql = [
              'CREATE NAMESPACE IF NOT EXISTS lake.db;',
              'CREATE TABLE lake.db.from_snap (id BIGINT) USING iceberg;',
              'INSERT INTO lake.db.from_snap VALUES (10), (20), (30);',
              "SELECT concat('SNAPROWS ', count(*), ' ', sum(id)) FROM lake.db.from_snap;",
            ].join('\n');
            writeFileSync(join(dir, 'q.sql'), sql);
            const r = await snap.app(
              'beeline',
              [
                '-u',
                `jdbc:hive2://${ip}:${THRIFT_PORT}/default`,
                '-n',
                USER,
                '-w',
                join(dir, 'password'),
                '--silent=true',
                '--showHeader=false',
                '--outputformat=tsv2',
                '-f',
                join(dir, 'q.sql'),
              ],
              { timeout: 300_000 },
            );
            const out = `${r.stdout}\n${r.stderr}`;
            outputs.push(`### snap beeline\n${out}`);
            const rows = unprompt(r.stdout);
            // (with -f, beeline prints the DDL's empty results as `null` columns without a line end before the row)
            if (r.exitCode !== 0 || !/SNAPROWS 3 60$/m.test(rows))
              throw await fail(`the snap's beeline exited ${r.exitCode}, printed ${rows.match(/SNAPROWS .*$/m)?.[0] ?? 'no SNAPROWS line'}`, out);
            return `spark-client.beeline → ${ip}:${THRIFT_PORT}: ${rows.match(/SNAPROWS .*$/m)![0]}`;
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        }),
    ]);
  scenarios.push([
    `jdbc ${snapOf ? 3 : 2}. a client without the password, with a wrong one or another user name is refused; ClusterIP only (no NodePort, hostPort, hostNetwork); the password is in no log`,
    () =>
      guard(async () => {
        const { pod, name } = await serve();
        const r = await beeline();
        try {
          const wrong = checkBeeline(r.log).filter((w) => /refused/.test(w));
          const live = [await k.json(['-n', ns, 'get', 'deployment', name]), await k.json(['-n', ns, 'get', 'service', name])];
          const exposed = exposures(live);
          if (exposed.length) wrong.push(...exposed);
          // What refused them: the server's check, not a connection that never happened.
          const why = r.log.match(/[^\n]*(Error validating the login|Peer indicated failure)[^\n]*/)?.[0]?.trim();
          if (!why) wrong.push('no refusal names the login');
          const logs = [`### server\n${(await k.run(['-n', ns, 'logs', pod], { reject: false })).stdout}`];
          for (const e of await k.pods(ns, 'spark-role=executor'))
            logs.push(`### executor ${e.metadata.name}\n${(await k.run(['-n', ns, 'logs', e.metadata.name], { reject: false })).stdout}`);
          const seen = secretSightings([...outputs, ...logs], password);
          if (seen.length) wrong.push(`the password is printed: ${seen.join('; ')}`);
          if (wrong.length) throw await fail(wrong.join('; '), r.log);
          return `refused without, with a wrong password and as another user (${why!.slice(0, 100)}); Service ${live[1]!.spec.type}, no host port or network; password in none of ${outputs.length + logs.length} outputs`;
        } finally {
          await remove();
        }
      }),
  ]);
  return scenarios;
}
