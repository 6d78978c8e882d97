/** The Kubernetes flags every spark8t tool takes, and turning them into a connected client. */
import type { Command } from 'commander';
import { setLogLevel } from '../../lib/log.ts';
import { UserError } from '../../lib/errors.ts';
import { KubeClient } from './client.ts';
import { loadCredentials, prepareKubeconfigParser } from './kubeconfig.ts';
import { expandVars } from '../conf/properties.ts';

export interface KubeOptions {
  master?: string;
  kubeconfig?: string;
  context?: string;
  logLevel?: string;
  logConfFile?: string;
}

export const LOG_LEVELS = ['INFO', 'WARN', 'ERROR', 'DEBUG'];

export function addKubeOptions(cmd: Command): Command {
  return cmd
    .option('--log-level <level>', `log level: ${LOG_LEVELS.join(', ')}`, 'WARN')
    .option('--log-conf-file <file>', 'logging configuration file (accepted for compatibility)')
    .option('--master <url>', 'Kubernetes API server URL; selects the kubeconfig cluster with that server')
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG or ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context to use');
}

export function applyLogLevel(level: string | undefined): void {
  const l = (level ?? 'WARN').toUpperCase();
  if (!LOG_LEVELS.includes(l)) throw new UserError('E_USAGE', `invalid --log-level ${level}`, { hint: `use one of ${LOG_LEVELS.join(', ')}` });
  setLogLevel(l);
}

export interface Connection {
  kube: KubeClient;
  /**
   * The user's kubeconfig file, for Spark. Undefined in a pod: Spark's Kubernetes client then reads
   * the mounted service-account token and CA itself (a kubeconfig naming the token by `tokenFile`
   * is not understood by it: its requests went out anonymous).
   */
  kubeconfigPath: string | undefined;
}

export async function connect(opts: KubeOptions, env: NodeJS.ProcessEnv = process.env): Promise<Connection> {
  await prepareKubeconfigParser();
  const creds = loadCredentials(
    {
      kubeconfig: opts.kubeconfig ? expandVars(opts.kubeconfig, env) : undefined,
      context: opts.context ? expandVars(opts.context, env) : undefined,
      master: opts.master,
    },
    env,
  );
  return { kube: new KubeClient(creds), kubeconfigPath: creds.sourceFile };
}
