/**
 * The spark8t executable. Dispatches on the name it is called by (service-account-registry,
 * spark-submit, spark-shell, pyspark, spark-sql, optionally prefixed `spark-client.`), or as
 * `spark8t <tool> ...`. Modules load lazily so `--help` stays fast.
 */
import { basename } from 'node:path';
import { writeOut } from './output.ts';

export const TOOLS = ['service-account-registry', 'spark-submit', 'spark-shell', 'pyspark', 'spark-sql', 'import-certificate'] as const;
export type Tool = (typeof TOOLS)[number];

export const VERSION = '1.6.0-ts';

const HELP = `spark8t ${VERSION}: Spark on Kubernetes client (compatible with spark8t 1.6)

usage: spark8t <tool> [args...]   or call through a link named after the tool

tools:
  service-account-registry   manage Spark service accounts (create, delete, list, get-config, ...)
  spark-submit               submit an application (--deploy-mode cluster by default)
  spark-shell                interactive Scala shell on Kubernetes
  pyspark                    interactive Python shell on Kubernetes
  spark-sql                  interactive SQL shell on Kubernetes
  import-certificate         trust a CA (PEM) in the Spark JVMs this client starts

every tool takes --master, --kubeconfig, --context, --log-level; the Spark wrappers also take
--username, --namespace, --properties-file, --conf and --ignore-integration-hub.
`;

export function toolFromName(argv0: string): Tool | undefined {
  const name = basename(argv0)
    .replace(/^spark-client\./, '')
    .replace(/\.(c?js|mjs|ts)$/, '');
  return (TOOLS as readonly string[]).includes(name) ? (name as Tool) : undefined;
}

export async function run(tool: Tool, args: string[]): Promise<number> {
  if (tool === 'service-account-registry') {
    const { runRegistry } = await import('./registry/cli.ts');
    return runRegistry(args);
  }
  if (tool === 'import-certificate') {
    const { runImportCertificate } = await import('./certs.ts');
    return runImportCertificate(args);
  }
  const { runWrapper } = await import('./wrappers/run.ts');
  return runWrapper(tool, args);
}

export async function main(argv0: string, args: string[]): Promise<number> {
  let tool = toolFromName(argv0);
  if (!tool) {
    const first = args[0];
    if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
      writeOut(HELP);
      return first === undefined ? 2 : 0;
    }
    if (first === '--version') {
      writeOut(`${VERSION}\n`);
      return 0;
    }
    tool = toolFromName(first);
    if (!tool) {
      process.stderr.write(`error: unknown tool "${first}" (one of: ${TOOLS.join(', ')})\n`);
      return 2;
    }
    args = args.slice(1);
  }
  try {
    return await run(tool, args);
  } catch (e) {
    const [{ describeError, isUserError }, { mask }, { getLogLevel }] = await Promise.all([
      import('../lib/errors.ts'),
      import('../lib/secrets.ts'),
      import('../lib/log.ts'),
    ]);
    process.stderr.write(mask(`error: ${describeError(e)}`) + '\n');
    if (getLogLevel() === 'DEBUG' && e instanceof Error && e.stack) process.stderr.write(mask(e.stack) + '\n');
    return isUserError(e) ? e.exitCode : 1;
  }
}
