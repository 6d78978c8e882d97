/**
 * The real loopback OCI registry for publish tests (Debian docker-registry with htpasswd auth and TLS),
 * started by scripts/local-registry.sh and shared by test files; plus a tiny rock maker (umoci + skopeo)
 * for tests that run before the build step has produced one.
 */
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { projectRoot } from '../../src/lib/paths.ts';
import type { Matrix, ResolvedLine } from '../../src/config/types.ts';
import { resolveLine, validateMatrix } from '../../src/config/matrix.ts';

export interface LocalRegistry {
  /** `127.0.0.1:PORT` */
  address: string;
  /** Directory with ca.crt, for skopeo --cert-dir. */
  certDir: string;
  caFile: string;
  user: string;
  password: string;
}

let cached: LocalRegistry | undefined;

export function ensureRegistry(): LocalRegistry {
  if (cached) return cached;
  execFileSync('bash', [path.join(projectRoot, 'scripts/setup.d/55-registry.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync('bash', [path.join(projectRoot, 'scripts/local-registry.sh'), 'start'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const out = execFileSync('bash', [path.join(projectRoot, 'scripts/local-registry.sh'), 'env'], { encoding: 'utf8' });
  const env: Record<string, string> = {};
  for (const m of out.matchAll(/^export (\w+)=(.*)$/gm)) env[m[1]!] = m[2]!;
  cached = {
    address: env.LOCAL_REGISTRY!,
    certDir: env.LOCAL_REGISTRY_CERT_DIR!,
    caFile: env.LOCAL_REGISTRY_CA!,
    user: env.REGISTRY_USER!,
    password: env.REGISTRY_PASSWORD!,
  };
  return cached;
}

/**
 * A small but real rock: an oci-archive with one gzip layer of `bytes` random bytes (unique per call,
 * so no registry already holds its blob) and a config, made with umoci and skopeo.
 */
export async function makeTestRock(dir: string, opts: { bytes?: number; name?: string; arch?: string } = {}): Promise<string> {
  const work = await fs.mkdtemp(path.join(dir, 'rock-'));
  const rootfs = path.join(work, 'rootfs');
  await fs.mkdir(path.join(rootfs, 'opt/spark'), { recursive: true });
  await fs.writeFile(path.join(rootfs, 'opt/spark/payload.bin'), randomBytes(opts.bytes ?? 256 * 1024));
  await fs.writeFile(path.join(rootfs, 'opt/spark/RELEASE'), `test rock ${randomBytes(8).toString('hex')}\n`);
  const layer = path.join(work, 'layer.tar');
  await execa('tar', ['-C', rootfs, '--owner=0', '--group=0', '-cf', layer, '.']);
  const layout = path.join(work, 'oci');
  await execa('umoci', ['init', '--layout', layout]);
  await execa('umoci', ['new', '--image', `${layout}:t`]);
  await execa('umoci', ['raw', 'add-layer', '--image', `${layout}:t`, layer]);
  await execa('umoci', ['config', '--image', `${layout}:t`, '--config.entrypoint', '/bin/true', ...(opts.arch ? ['--architecture', opts.arch] : [])]);
  const file = path.join(dir, `${opts.name ?? 'charmed-spark'}_${randomBytes(3).toString('hex')}_${opts.arch ?? 'amd64'}.rock`);
  await execa('skopeo', ['copy', `oci:${layout}:t`, `oci-archive:${file}:t`]);
  await fs.rm(work, { recursive: true, force: true });
  return file;
}

export async function tmpDir(prefix = 'sparkcraft-publish-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

/**
 * A ResolvedLine from a small matrix of this file's own (the tests do not depend on matrix.yaml's
 * contents), resolved by the production resolver; `tags` overrides what it computed.
 */
export function fixtureLine(
  over: { spark?: string; track?: string; risk?: ResolvedLine['risk']; registry?: string; name?: string; tags?: string[]; tagVersion?: string } = {},
): ResolvedLine {
  const spark = over.spark ?? '3.5.9';
  const track = over.track ?? '3.5';
  const registry = over.registry ?? 'ghcr.io/canonical';
  const matrix: Matrix = {
    defaultLine: track,
    defaultRisk: 'edge',
    risks: ['edge', 'beta', 'candidate', 'stable'],
    architectures: ['amd64'],
    project: {
      registry,
      source: 'https://example.invalid/sparkcraft',
      snapName: 'spark-client',
      runUser: '_daemon_',
      uid: 584792,
      pebble: { module: 'github.com/canonical/pebble', version: 'v1.26.0' },
      debianSuites: { '17': { suite: 'bookworm', python: '3.11' } },
    },
    flavours: { spark: { name: 'spark', image: over.name ?? 'charmed-spark', ...(over.tagVersion ? { tagVersion: over.tagVersion } : {}) } },
    lines: [
      {
        track,
        spark,
        scala: '2.12',
        java: [17],
        hadoop: '3.3.4',
        py4j: 'py4j-0.10.9.7-src.zip',
        rock: { base: 'ubuntu@22.04' },
        snap: { base: 'core22' },
        distribution: { pypi: { name: 'pyspark', version: spark, license: 'Apache-2.0' } },
        jars: [],
        flavours: ['spark'],
      },
    ],
  };
  const r = resolveLine(validateMatrix(matrix, 'fixture'), { risk: over.risk ?? 'edge', arch: 'amd64' });
  return over.tags ? { ...r, image: { ...r.image, tags: over.tags } } : r;
}

/** Env for the library calls: the registry's credentials, nothing ambient. */
export function registryEnv(r: LocalRegistry, over: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, REGISTRY_USER: r.user, REGISTRY_PASSWORD: r.password, ...over };
}
