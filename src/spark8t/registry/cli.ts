/** `service-account-registry <action>`: the commands and output formats of spark8t 1.6, plus --json. */
import { Command, CommanderError } from 'commander';
import { describeError, isUserError, UserError } from '../../lib/errors.ts';
import { getLogLevel } from '../../lib/log.ts';
import { mask } from '../../lib/secrets.ts';
import { addKubeOptions, applyLogLevel, connect, type KubeOptions } from '../kube/options.ts';
import { expandVars, mergeLevels, parseConfArgs, readProperties, removeKeys, type Props } from '../conf/properties.ts';
import { Registry, accountId, PrimaryNotFound, validateRef } from './registry.ts';
import { POD_SECURITY_LEVELS, type PodSecurityLevel } from '../../lib/pod-security.ts';
import { accountProps } from './account.ts';
import { redacted } from '../conf/secret-refs.ts';
import { writeOut } from '../output.ts';

interface ActionOpts extends KubeOptions {
  username: string;
  namespace: string;
  propertiesFile?: string;
  conf?: string[];
  primary?: boolean;
  ignoreIntegrationHub?: boolean;
  json?: boolean;
  showSecrets?: boolean;
  podSecurity?: string;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

function out(s: string): void {
  writeOut(s.endsWith('\n') ? s : `${s}\n`);
}

function refOf(o: ActionOpts) {
  return { name: expandVars(o.username), namespace: expandVars(o.namespace) };
}

function newProps(o: ActionOpts): Props {
  const file = o.propertiesFile ? readProperties(expandVars(o.propertiesFile)) : new Map();
  return mergeLevels([file, parseConfArgs(o.conf)]);
}

export const ACTIONS = [
  'create',
  'delete',
  'add-config',
  'remove-config',
  'get-config',
  'clear-config',
  'get-primary',
  'list',
  'get-manifest',
  'upgrade',
] as const;

/**
 * The commander program. A command pays only for the parser it runs (start-up):
 *  - `only`: the other actions are not registered;
 *  - `only: 'summary'` (the top-level help): each action gets its name, description and one option,
 *    which is all the top-level help shows (a test compares it with the full program's).
 * Without `only` (`help <action>`, unknown actions) the whole program is built.
 */
export function buildRegistryProgram(run: (fn: () => Promise<void>) => void, only?: string): Command {
  const program = new Command('service-account-registry')
    .description('Manage Spark service accounts on Kubernetes')
    .exitOverride()
    .showHelpAfterError(false)
    .configureOutput({ writeOut: (s) => writeOut(s), writeErr: (s) => process.stderr.write(s) });

  const action = (name: (typeof ACTIONS)[number], desc: string, opts: { user?: boolean; conf?: boolean } = {}) => {
    if (only === 'summary') return program.command(name).description(desc).option('--log-level <level>');
    if (only && name !== only) return new Command(name);
    const c = addKubeOptions(program.command(name).description(desc));
    if (opts.user !== false) {
      c.option('--username <name>', 'service account name', 'spark').option('--namespace <ns>', 'namespace', 'default');
    }
    if (opts.conf) {
      c.option('--properties-file <file>', 'Spark properties file').option('--conf <key=value>', 'Spark property (repeatable)', collect);
    }
    return c;
  };

  const withRegistry = (fn: (reg: Registry, o: ActionOpts) => Promise<void>) => (o: ActionOpts) =>
    run(async () => {
      applyLogLevel(o.logLevel);
      if (o.username !== undefined) validateRef(refOf(o));
      const { kube } = await connect(o);
      try {
        await fn(new Registry(kube), o);
      } finally {
        kube.close();
      }
    });

  action('create', 'create a service account with its Role, RoleBinding and config Secret', { conf: true })
    .option('--primary', 'make it the primary account')
    .option(
      '--pod-security <level>',
      `Pod Security level a namespace made here enforces: ${POD_SECURITY_LEVELS.join(', ')} (none: no label); an existing namespace is not changed`,
      'restricted',
    )
    .action(
      withRegistry(async (reg, o) => {
        if (!(POD_SECURITY_LEVELS as readonly string[]).includes(o.podSecurity ?? '')) {
          throw new UserError('E_USAGE', `--pod-security ${o.podSecurity}: expected one of ${POD_SECURITY_LEVELS.join(', ')}`);
        }
        await reg.create(refOf(o), newProps(o), o.primary === true, o.podSecurity as PodSecurityLevel);
      }),
    );

  action('delete', 'delete a service account and its Role, RoleBinding and Secret').action(withRegistry(async (reg, o) => reg.delete(refOf(o))));

  action('add-config', 'merge properties into the account configuration', { conf: true }).action(
    withRegistry(async (reg, o) => {
      const added = newProps(o);
      await reg.require(refOf(o));
      await reg.editConfig(refOf(o), (stored) => mergeLevels([stored, added]));
    }),
  );

  action('remove-config', 'remove keys (KEY, or KEY=VALUE when the value matches) from the configuration')
    .option('--conf <key[=value]>', 'key to remove (repeatable)', collect)
    .option('--properties-file <file>', 'accepted for compatibility; ignored')
    .action(
      withRegistry(async (reg, o) => {
        await reg.require(refOf(o));
        await reg.editConfig(refOf(o), (stored) => removeKeys(stored, o.conf ?? []));
      }),
    );

  action('get-config', 'print the effective configuration of an account')
    .option('--ignore-integration-hub', 'leave out Spark Integration Hub properties')
    .option('--show-secrets', "print the values Spark would redact (S3 keys, tokens, passwords) instead of '*********(redacted)'")
    .option('--json', 'print JSON')
    .action(
      withRegistry(async (reg, o) => {
        const acc = await reg.require(refOf(o));
        const all = accountProps(acc, o.ignoreIntegrationHub === true);
        const props = o.showSecrets ? all : redacted(all);
        if (o.json) out(JSON.stringify(Object.fromEntries(props), null, 2));
        else for (const [k, v] of props) out(`${k}=${v}`);
      }),
    );

  action('clear-config', 'remove every property from the account configuration').action(withRegistry(async (reg, o) => reg.setConfig(refOf(o), new Map())));

  action('upgrade', "bring an account made by an earlier version (or by spark8t 1.6) up to date: today's Role, the isolation policy").action(
    withRegistry(async (reg, o) => reg.upgrade(refOf(o))),
  );

  action('get-primary', 'print the primary account as namespace:name', { user: false })
    .option('--json', 'print JSON')
    .action(
      withRegistry(async (reg, o) => {
        const p = await reg.getPrimary();
        if (!p) throw new PrimaryNotFound();
        out(o.json ? JSON.stringify({ name: p.name, namespace: p.namespace, id: accountId(p) }) : accountId(p));
      }),
    );

  action('list', 'list spark8t service accounts in all namespaces', { user: false })
    .option('--json', 'print JSON')
    .action(
      withRegistry(async (reg, o) => {
        const all = await reg.list();
        if (o.json)
          out(
            JSON.stringify(
              all.map((a) => ({ ...a, id: accountId(a) })),
              null,
              2,
            ),
          );
        else for (const a of all) out(`${accountId(a)}${a.primary ? ' (Primary)' : ''}`);
      }),
    );

  const gm = action('get-manifest', 'print the manifests create would apply; creates nothing');
  gm.action((o: ActionOpts) =>
    run(async () => {
      applyLogLevel(o.logLevel);
      // The manifests do not depend on the cluster: no connection needed.
      out(await new Registry(undefined as never).manifest(refOf(o)));
    }),
  );
  return program;
}

/** How much of the program `argv` needs: the top-level help, one action, or all of it. */
function programScope(argv: string[]): string | undefined {
  const [first] = argv;
  if (first === undefined || (argv.length === 1 && (first === '--help' || first === '-h'))) return 'summary';
  return (ACTIONS as readonly string[]).includes(first) ? first : undefined;
}

/** Run with argv after the tool name; resolves with the exit status. */
export async function runRegistry(argv: string[]): Promise<number> {
  let pending: Promise<void> = Promise.resolve();
  const program = buildRegistryProgram((fn) => {
    pending = fn();
  }, programScope(argv));
  try {
    if (argv.length === 0) {
      program.outputHelp({ error: true });
      return 2;
    }
    await program.parseAsync(argv, { from: 'user' });
    await pending;
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (isUserError(e) && ['E_ACCOUNT_NOT_FOUND', 'E_PRIMARY_NOT_FOUND', 'E_EXISTS'].includes(e.code)) {
      // spark8t prints these on standard output and exits 1; keep that for scripts that parse it.
      out(e.message);
      return 1;
    }
    process.stderr.write(mask(`error: ${describeError(e)}`) + '\n');
    if (getLogLevel() === 'DEBUG' && e instanceof Error && e.stack) process.stderr.write(mask(e.stack) + '\n');
    return e instanceof UserError ? e.exitCode : 1;
  }
}
