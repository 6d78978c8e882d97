/** The Kubernetes flags every spark8t tool takes, and turning them into a connected client. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  if (!LOG_LEVELS.includes(l)) throw new UserError('E_USAGE', `invalid --log-level ${level}`, { hint: `use one of ${LOG_LEVELS.join(', ')}`, exitCode: 2 });
  setLogLevel(l);
}

export interface Connection {
  kube: KubeClient;
  /** A kubeconfig file Spark can use (the user's, or a private one written for in-cluster use). */
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
  let kubeconfigPath = creds.sourceFile;
  if (creds.inCluster) {
    const dir = mkdtempSync(join(tmpdir(), 'spark8t-'));
    const p = join(dir, 'kubeconfig');
    const cfg = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'in-cluster', cluster: { server: creds.server, ...(creds.ca ? { 'certificate-authority-data': creds.ca.toString('base64') } : {}) } }],
      users: [{ name: 'in-cluster', user: { tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' } }],
      contexts: [{ name: 'in-cluster', context: { cluster: 'in-cluster', user: 'in-cluster', namespace: creds.namespace } }],
      'current-context': 'in-cluster',
    };
    writeFileSync(p, JSON.stringify(cfg), { mode: 0o600 });
    kubeconfigPath = p;
  }
  return { kube: new KubeClient(creds), kubeconfigPath };
}
