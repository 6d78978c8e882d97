/**
 * Publishing the rock to a REAL OCI registry on loopback (Debian docker-registry, htpasswd auth, TLS
 * with our own CA): every tag pushed, pulled back by tag and by digest, digests compared; immutable
 * tags refused unless --force; moving tags move; a bad password is one 401 line; a TCP proxy of ours
 * cuts the connection mid-push and the retry still leaves an intact image; secrets never appear in
 * output or on any process's command line.
 */
import { watchCmdlines } from './support/cmdlines.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { UserError } from '../src/lib/errors.ts';
import { setLogLevel } from '../src/lib/log.ts';
import { pullToLayoutCommand, run, sha256Digest, remoteDigest } from '../src/lib/tools/skopeo-registry.ts';
import { credentialsFromEnv, writeAuthFile } from '../src/publish/credentials.ts';
import { applyRockPlan, inspectRock, type RockPlan } from '../src/publish/registry.ts';
import { RegistrySession } from '../src/publish/session.ts';
import { CuttingProxy } from './support/tcp-proxy.ts';
import { HttpFaultProxy } from './support/http-fault-proxy.ts';
import { ensureRegistry, fixtureLine, makeTestRock, registryEnv, tmpDir, type LocalRegistry } from './support/registry.ts';

let reg: LocalRegistry;
let dir: string;
const FAST = { attempts: 4, baseDelayMs: 200, maxDelayMs: 1000 };

/** Everything written to stdout/stderr while `fn` runs (and still written through). */
async function captureOutput<T>(fn: () => Promise<T>): Promise<{ value?: T; error?: unknown; text: string }> {
  const chunks: string[] = [];
  const wo = process.stdout.write.bind(process.stdout);
  const we = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((c: string | Uint8Array, ...rest: unknown[]) => (
    chunks.push(String(c)), wo(c as string, ...(rest as []))
  )) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array, ...rest: unknown[]) => (
    chunks.push(String(c)), we(c as string, ...(rest as []))
  )) as typeof process.stderr.write;
  try {
    return { value: await fn(), text: chunks.join('') };
  } catch (error) {
    return { error, text: chunks.join('') };
  } finally {
    process.stdout.write = wo;
    process.stderr.write = we;
  }
}

async function publish(opts: {
  registry: string;
  artifact: string;
  spark?: string;
  risk?: 'edge' | 'stable';
  force?: boolean;
  env?: NodeJS.ProcessEnv;
  name: string;
  retry?: typeof FAST;
}) {
  const resolved = fixtureLine({
    registry: opts.registry,
    name: opts.name,
    ...(opts.spark ? { spark: opts.spark } : {}),
    ...(opts.risk ? { risk: opts.risk } : {}),
  });
  const env = opts.env ?? registryEnv(reg);
  const host = opts.registry.split('/')[0]!;
  const session = new RegistrySession(host, env, reg.certDir, opts.retry ?? FAST);
  try {
    const plan = await inspectRock(
      { resolved, registry: opts.registry, artifact: opts.artifact, force: !!opts.force, certDir: reg.certDir, dryRun: false },
      session,
    );
    const result = await applyRockPlan(plan, session);
    return { plan, result };
  } finally {
    await session.close();
  }
}

/** Pull REF into an OCI layout and return the manifest digest plus whether every blob hashes to its name. */
async function pullBack(ref: string): Promise<{ digest: string; blobsIntact: boolean; blobs: number }> {
  const out = await fs.mkdtemp(path.join(dir, 'pull-'));
  const creds = credentialsFromEnv(reg.address, registryEnv(reg));
  const auth = await writeAuthFile(reg.address, creds);
  try {
    await run(pullToLayoutCommand(ref, path.join(out, 'layout'), 'p', { authfile: auth.path!, certDir: reg.certDir }), { env: auth.env });
  } finally {
    await auth.dispose();
  }
  const digest = sha256Digest(await run(['skopeo', ['inspect', '--raw', `oci:${path.join(out, 'layout')}:p`]]));
  const blobDir = path.join(out, 'layout/blobs/sha256');
  let intact = true;
  const names = await fs.readdir(blobDir);
  for (const n of names) {
    const h = createHash('sha256')
      .update(await fs.readFile(path.join(blobDir, n)))
      .digest('hex');
    if (h !== n) intact = false;
  }
  return { digest, blobsIntact: intact, blobs: names.length };
}

async function digestAt(ref: string): Promise<string | null> {
  const auth = await writeAuthFile(reg.address, credentialsFromEnv(reg.address, registryEnv(reg)));
  try {
    return await remoteDigest(ref, { authfile: auth.path!, certDir: reg.certDir, env: auth.env });
  } finally {
    await auth.dispose();
  }
}

const uniq = () => `charmed-spark-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  reg = ensureRegistry();
  dir = await tmpDir();
  setLogLevel('INFO');
});
afterAll(async () => {
  setLogLevel('WARN');
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

describe('publish rock to a real registry (TLS + htpasswd)', () => {
  it('pushes every tag of the line, then pulls back by tag and by digest with identical digests', async () => {
    const rock = await makeTestRock(dir, { bytes: 512 * 1024 });
    const name = uniq();
    const registry = `${reg.address}/sparkcraft-test`;
    const t0 = Date.now();
    const { plan, result } = await publish({ registry, artifact: rock, name, risk: 'stable' });
    const secs = (Date.now() - t0) / 1000;
    expect(plan.tags.map((t) => [t.tag, t.kind, t.action])).toEqual([
      ['3.5.9-22.04_stable', 'immutable', 'push'],
      ['3.5-22.04_stable', 'moving', 'push'],
      ['3.5-22.04', 'moving', 'push'],
    ]);
    expect(result.pushed.map((p) => p.digest)).toEqual([plan.artifact.digest, plan.artifact.digest, plan.artifact.digest]);
    expect(result.verified.map((v) => v.ref)).toEqual([...plan.tags.map((t) => t.ref), `${registry}/${name}@${plan.artifact.digest}`]);
    for (const t of plan.tags) {
      const pulled = await pullBack(t.ref);
      expect(pulled.digest).toBe(plan.artifact.digest);
      expect(pulled.blobsIntact).toBe(true);
    }
    const byDigest = await pullBack(`${registry}/${name}@${plan.artifact.digest}`);
    expect(byDigest).toEqual({ digest: plan.artifact.digest, blobsIntact: true, blobs: 3 });
    console.log(`push of 3 tags + verify: ${secs.toFixed(2)} s`);
  });

  it("refuses a file built for another architecture than the cell's, whatever its name, before anything is pushed", async () => {
    // an arm64 image named like the amd64 cell's file (makeTestRock names every file _amd64.rock)
    const rock = await makeTestRock(dir, { arch: 'arm64' });
    expect((await execa('skopeo', ['inspect', '--config', `oci-archive:${rock}`])).stdout).toContain('"architecture": "arm64"');
    const name = uniq();
    const registry = `${reg.address}/sparkcraft-test`;
    const r = await publish({ registry, artifact: rock, name }).catch((e: unknown) => e);
    expect(r).toBeInstanceOf(UserError);
    expect((r as UserError).code).toBe('E_ARTIFACT');
    expect((r as UserError).message).toMatch(/is an image for arm64, and the cell 3\.5\/spark\/amd64-java17 publishes amd64$/);
    // nothing reached the registry: no tag of the line there
    const env = registryEnv(reg);
    const creds = credentialsFromEnv(reg.address, env);
    const auth = await writeAuthFile(reg.address, creds);
    try {
      const tags = await execa('skopeo', ['list-tags', '--cert-dir', reg.certDir, '--authfile', auth.path!, `docker://${registry}/${name}`], {
        reject: false,
        env: auth.env,
      });
      expect(tags.exitCode === 0 ? (JSON.parse(tags.stdout) as { Tags: string[] }).Tags : []).toEqual([]);
    } finally {
      await auth.dispose();
    }
  });

  it('refuses to overwrite an immutable tag with another digest (nothing changes), overwrites with --force, and moves moving tags', async () => {
    const name = uniq();
    const registry = `${reg.address}/sparkcraft-test`;
    const a = await makeTestRock(dir);
    const b = await makeTestRock(dir);
    const first = await publish({ registry, artifact: a, name });
    const dA = first.plan.artifact.digest;

    // Same version, different content: refused before any push; the registry is untouched.
    const env = registryEnv(reg);
    const session = new RegistrySession(reg.address, env, reg.certDir, FAST);
    let plan: RockPlan;
    try {
      plan = await inspectRock(
        { resolved: fixtureLine({ registry, name }), registry, artifact: b, force: false, certDir: reg.certDir, dryRun: false },
        session,
      );
      expect(plan.tags.map((t) => t.action)).toEqual(['refuse', 'move']);
      expect(plan.problems).toHaveLength(1);
      const err = await applyRockPlan(plan, session).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(UserError);
      expect((err as UserError).code).toBe('E_IMMUTABLE_TAG');
      expect((err as UserError).oneLine()).toMatch(
        /immutable tag .*3\.5\.9-22\.04_edge already holds sha256:[0-9a-f]{64}, not sha256:[0-9a-f]{64} \(.*--force/,
      );
    } finally {
      await session.close();
    }
    expect(await digestAt(`${registry}/${name}:3.5.9-22.04_edge`)).toBe(dA);
    expect(await digestAt(`${registry}/${name}:3.5-22.04_edge`)).toBe(dA);

    // A new patch version: its own immutable tag, the moving tag moves, the old immutable tag stays.
    const c = await makeTestRock(dir);
    const next = await publish({ registry, artifact: c, name, spark: '3.5.10' });
    expect(next.plan.tags.map((t) => [t.tag, t.action])).toEqual([
      ['3.5.10-22.04_edge', 'push'],
      ['3.5-22.04_edge', 'move'],
    ]);
    expect(await digestAt(`${registry}/${name}:3.5-22.04_edge`)).toBe(next.plan.artifact.digest);
    expect(await digestAt(`${registry}/${name}:3.5.9-22.04_edge`)).toBe(dA);

    // --force overwrites the immutable tag.
    const forced = await publish({ registry, artifact: b, name, force: true });
    expect(forced.plan.tags.map((t) => t.action)).toEqual(['overwrite', 'move']);
    expect(await digestAt(`${registry}/${name}:3.5.9-22.04_edge`)).toBe(forced.plan.artifact.digest);
    expect(forced.plan.artifact.digest).not.toBe(dA);

    // Publishing the same artifact again changes nothing.
    const again = await publish({ registry, artifact: b, name, force: false });
    expect(again.plan.tags.map((t) => t.action)).toEqual(['unchanged', 'unchanged']);
    expect(again.result.pushed).toEqual([]);
    expect(again.plan.problems).toEqual([]);
  });

  it('a bad password is one clear 401 line, with no secret in it, and no retries', async () => {
    const rock = await makeTestRock(dir);
    const bad = `wrong-${randomBytes(8).toString('hex')}`;
    const env = registryEnv(reg, { REGISTRY_PASSWORD: bad });
    const out = await captureOutput(() => publish({ registry: `${reg.address}/sparkcraft-test`, artifact: rock, name: uniq(), env }));
    expect(out.error).toBeInstanceOf(UserError);
    const e = out.error as UserError;
    expect(e.code).toBe('E_REGISTRY_AUTH');
    const line = e.oneLine();
    expect(line).not.toContain('\n');
    expect(line).toMatch(
      /^127\.0\.0\.1:\d+ rejected the credentials for reading .* \(401 unauthorized; from REGISTRY_USER\/REGISTRY_PASSWORD\) \(set REGISTRY_USER/,
    );
    expect(line).not.toContain(bad);
    expect(out.text).not.toContain(bad);
    expect(out.text).not.toMatch(/retrying/);
  });

  it('no credentials: this registry refuses anonymous reads with one 401 line naming the cause', async () => {
    const rock = await makeTestRock(dir);
    const env = { PATH: process.env.PATH };
    const err = await publish({ registry: `${reg.address}/sparkcraft-test`, artifact: rock, name: uniq(), env }).then(
      () => null,
      (e: unknown) => e,
    );
    expect((err as UserError).code).toBe('E_REGISTRY_AUTH');
    expect((err as UserError).oneLine()).toContain('from no credentials (anonymous)');
  });

  it('a connection cut mid-push (our TCP proxy) is retried and the image arrives intact', async () => {
    const rock = await makeTestRock(dir, { bytes: 3 * 1024 * 1024 });
    const [, port] = reg.address.split(':');
    const proxy = new CuttingProxy({ targetHost: '127.0.0.1', targetPort: Number(port), cutAfterBytes: 1024 * 1024, cuts: 1 });
    const proxyPort = await proxy.start();
    try {
      const name = uniq();
      const registry = `127.0.0.1:${proxyPort}/sparkcraft-test`;
      const out = await captureOutput(() => publish({ registry, artifact: rock, name }));
      expect(out.error).toBeUndefined();
      const { plan, result } = out.value!;
      expect(proxy.cutsDone).toBe(1);
      expect(proxy.upstreamBytes).toBeGreaterThan(3 * 1024 * 1024); // the whole layer went through after the cut
      expect(result.pushed[0]!.attempts).toBe(2);
      expect(out.text).toMatch(/pushing .*:3\.5\.9-22\.04_edge: attempt 1\/4 failed \(skopeo copy failed \(network\)/);
      // Intact: read back directly from the registry (not through the proxy), by tag and by digest.
      const direct = `${reg.address}/sparkcraft-test/${name}`;
      expect(await digestAt(`${direct}:3.5.9-22.04_edge`)).toBe(plan.artifact.digest);
      const pulled = await pullBack(`${direct}@${plan.artifact.digest}`);
      expect(pulled).toEqual({ digest: plan.artifact.digest, blobsIntact: true, blobs: 3 });
      console.log(`proxy: ${proxy.connections} connections, ${proxy.upstreamBytes} bytes upstream, ${proxy.cutsDone} cut`);
    } finally {
      await proxy.stop();
    }
  });

  it('5xx answers on blob uploads are retried; a registry that keeps failing gives up with one line', async () => {
    const rock = await makeTestRock(dir, { bytes: 512 * 1024 });
    const state = path.dirname(path.dirname(reg.certDir));
    const [, port] = reg.address.split(':');
    const tls = { cert: await fs.readFile(path.join(state, 'certs/server.crt')), key: await fs.readFile(path.join(state, 'certs/server.key')) };
    const target = { host: '127.0.0.1', port: Number(port), ca: await fs.readFile(reg.caFile) };
    const isUpload = (req: { method?: string; url?: string }) => (req.method === 'PATCH' || req.method === 'PUT') && /\/blobs\/uploads\//.test(req.url ?? '');
    const flaky = new HttpFaultProxy(target, tls, { match: isUpload, status: 503, times: 2 });
    const flakyPort = await flaky.start();
    try {
      const name = uniq();
      const out = await captureOutput(() => publish({ registry: `127.0.0.1:${flakyPort}/sparkcraft-test`, artifact: rock, name }));
      expect(out.error).toBeUndefined();
      expect(flaky.injected).toBe(2);
      expect(out.value!.result.pushed[0]!.attempts).toBe(3);
      expect(out.text.match(/failed \(skopeo copy failed \(server 503\)/g)).toHaveLength(2);
      const pulled = await pullBack(`${reg.address}/sparkcraft-test/${name}@${out.value!.plan.artifact.digest}`);
      expect(pulled).toEqual({ digest: out.value!.plan.artifact.digest, blobsIntact: true, blobs: 3 });
    } finally {
      await flaky.stop();
    }
    const broken = new HttpFaultProxy(target, tls, { match: isUpload, status: 500, times: 1000 });
    const brokenPort = await broken.start();
    try {
      const out = await captureOutput(() =>
        publish({ registry: `127.0.0.1:${brokenPort}/sparkcraft-test`, artifact: rock, name: uniq(), retry: { attempts: 3, baseDelayMs: 50, maxDelayMs: 50 } }),
      );
      const e = out.error as UserError;
      expect(e.code).toBe('E_REGISTRY_UNAVAILABLE');
      expect(e.oneLine()).toMatch(/^pushing .* failed after 3 attempts \(server 500\): .*500 Internal Server Error/);
      expect(broken.injected).toBe(3);
    } finally {
      await broken.stop();
    }
  });

  it('network errors are retried a bounded number of times, then one line', async () => {
    const rock = await makeTestRock(dir);
    // A proxy that cuts every connection immediately.
    const [, port] = reg.address.split(':');
    const proxy = new CuttingProxy({ targetHost: '127.0.0.1', targetPort: Number(port), cutAfterBytes: 1, cuts: 1000 });
    const proxyPort = await proxy.start();
    try {
      const t0 = Date.now();
      const out = await captureOutput(() =>
        publish({ registry: `127.0.0.1:${proxyPort}/x`, artifact: rock, name: uniq(), retry: { attempts: 3, baseDelayMs: 100, maxDelayMs: 100 } }),
      );
      const e = out.error as UserError;
      expect(e.code).toBe('E_REGISTRY_UNAVAILABLE');
      expect(e.oneLine()).toMatch(/^reading .* failed after 3 attempts \(network\): /);
      expect(out.text.match(/retrying in 100 ms/g)).toHaveLength(2);
      console.log(`3 attempts against a dead proxy: ${((Date.now() - t0) / 1000).toFixed(2)} s`);
    } finally {
      await proxy.stop();
    }
  });

  it('secrets never appear in output, in the plan, or on any command line', async () => {
    const rock = await makeTestRock(dir);
    const name = uniq();
    const authDirsBefore = (await fs.readdir(os.tmpdir())).filter((n) => n.startsWith('sparkcraft-auth-'));
    const needles = [reg.password, Buffer.from(`${reg.user}:${reg.password}`).toString('base64')];
    const watched = await watchCmdlines(needles, /skopeo/, () =>
      captureOutput(() => publish({ registry: `${reg.address}/sparkcraft-test`, artifact: rock, name })),
    );
    const out = watched.value;
    expect(out.error).toBeUndefined();
    expect(watched.seen).toBeGreaterThan(0); // the sampler did see skopeo running
    expect(watched.leaks).toEqual([]);
    const json = JSON.stringify(out.value);
    for (const n of needles) {
      expect(out.text).not.toContain(n);
      expect(json).not.toContain(n);
    }
    expect(out.value!.plan.credentials).toBe(`REGISTRY_USER/REGISTRY_PASSWORD (user ${reg.user})`);
    // The printed commands name a placeholder, never credentials; the temporary auth dirs are gone afterwards.
    expect(out.value!.plan.commands.every((c) => c.includes("--dest-authfile '<authfile>'") && !c.includes('creds'))).toBe(true);
    const leftovers = (await fs.readdir(os.tmpdir())).filter((n) => n.startsWith('sparkcraft-auth-'));
    expect(leftovers.filter((n) => !authDirsBefore.includes(n))).toEqual([]);
  });
});

describe('local registry script', () => {
  it('is idempotent, enforces auth and TLS', async () => {
    const again = await execa('bash', ['scripts/local-registry.sh', 'start'], { cwd: path.resolve(__dirname, '..') });
    expect(again.stdout.trim()).toBe(reg.address);
    const anon = await execa('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--cacert', reg.caFile, `https://${reg.address}/v2/`]);
    expect(anon.stdout).toBe('401');
    const insecure = await execa('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `https://${reg.address}/v2/`], { reject: false });
    expect(insecure.exitCode).toBe(60); // curl: peer certificate cannot be authenticated
    const state = path.join(path.dirname(reg.certDir), '..');
    expect((await fs.stat(path.join(state, 'password'))).mode & 0o777).toBe(0o600);
    expect(await fs.readFile(path.join(state, 'htpasswd'), 'utf8')).toMatch(/^sparkcraft:\$2y\$/);
  });
});
