/**
 * The local S3 server (scripts/local-s3.sh) for tests: started once per test run (idempotent, and
 * left running like the cluster), its `env` parsed. The client is src/lib/s3.ts.
 */
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { ROOT, ensureCluster } from './k8s.ts';
import { parseS3Env, type S3Creds } from '../../src/lib/s3.ts';

export * from '../../src/lib/s3.ts';

let cached: Promise<S3Creds> | undefined;

/**
 * The run's S3 server: the one that runs with the local node (cluster.json names it), else
 * local-s3.sh's own (LOCAL_S3_* from the environment choose its directory and port).
 */
export function ensureS3(): Promise<S3Creds> {
  cached ??= (async () => {
    const c = await ensureCluster();
    if (c.s3) return { ...c.s3, secret: readFileSync(c.s3.secretKeyFile, 'utf8').trim() };
    await execa('bash', [`${ROOT}/scripts/local-s3.sh`, 'start'], { stdio: ['ignore', 'ignore', 'inherit'] });
    const env = parseS3Env((await execa('bash', [`${ROOT}/scripts/local-s3.sh`, 'env'])).stdout);
    return { ...env, secret: readFileSync(env.secretKeyFile, 'utf8').trim() };
  })();
  return cached;
}
