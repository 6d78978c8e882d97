/**
 * Split a wrapper's command line into spark8t's own flags and what goes to Spark. Spark's own
 * options keep their order; everything from the primary resource (jar, .py, or a bare word) on is
 * passed through untouched, so an application's `--conf` is never taken for ours.
 */
import { UserError } from '../../lib/errors.ts';

export interface WrapperArgs {
  master?: string;
  kubeconfig?: string;
  context?: string;
  username?: string;
  namespace?: string;
  propertiesFile?: string;
  conf: string[];
  deployMode?: 'client' | 'cluster';
  ignoreIntegrationHub: boolean;
  logLevel: string;
  logConfFile?: string;
  help: boolean;
  rest: string[];
}

const OURS_WITH_VALUE = new Set([
  '--master',
  '--kubeconfig',
  '--context',
  '--username',
  '--namespace',
  '--properties-file',
  '--conf',
  '--log-level',
  '--log-conf-file',
  '--deploy-mode',
]);
const OURS_FLAGS = new Set(['--ignore-integration-hub']);
/** Spark options that take no value; every other `--x` of Spark's takes one. */
export const SPARK_FLAGS: ReadonlySet<string> = new Set([
  '--verbose',
  '-v',
  '--version',
  '--help',
  '-h',
  '--supervise',
  '-i',
  '-S',
  '--silent',
  '--usage-error',
]);

export function parseWrapperArgs(argv: readonly string[], tool: string): WrapperArgs {
  const a: WrapperArgs = { conf: [], ignoreIntegrationHub: false, logLevel: 'WARN', help: false, rest: [] };
  const set = (flag: string, value: string) => {
    switch (flag) {
      case '--master':
        a.master = value;
        break;
      case '--kubeconfig':
        a.kubeconfig = value;
        break;
      case '--context':
        a.context = value;
        break;
      case '--username':
        a.username = value;
        break;
      case '--namespace':
        a.namespace = value;
        break;
      case '--properties-file':
        a.propertiesFile = value;
        break;
      case '--conf':
        a.conf.push(value);
        break;
      case '--log-level':
        a.logLevel = value;
        break;
      case '--log-conf-file':
        a.logConfFile = value;
        break;
      case '--deploy-mode':
        if (tool !== 'spark-submit') throw new UserError('E_USAGE', `${tool} does not take --deploy-mode`);
        if (value !== 'client' && value !== 'cluster') throw new UserError('E_USAGE', `--deploy-mode must be client or cluster, not "${value}"`);
        a.deployMode = value;
        break;
    }
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (OURS_WITH_VALUE.has(name)) {
      const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new UserError('E_USAGE', `${name} needs a value`);
      set(name, value);
    } else if (OURS_FLAGS.has(arg)) {
      a.ignoreIntegrationHub = true;
    } else if (arg === '--help' || arg === '-h') {
      a.help = true;
      a.rest.push(arg);
    } else if (arg === '--') {
      a.rest.push(...argv.slice(i));
      break;
    } else if (arg.startsWith('-') && arg !== '-') {
      a.rest.push(arg);
      if (!SPARK_FLAGS.has(arg) && eq < 0 && i + 1 < argv.length) a.rest.push(argv[++i]!);
    } else {
      // The primary resource: it and everything after belong to the application.
      a.rest.push(...argv.slice(i));
      break;
    }
  }
  return a;
}
