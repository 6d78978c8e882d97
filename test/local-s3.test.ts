/**
 * scripts/local-s3.sh: a real SeaweedFS S3 server, started and stopped by PID, loopback only unless
 * given a node address; credentials per start, the secret only in a 0600 file.
 */
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './support/k8s.ts';
import { parseS3Env, s3Request } from './support/s3.ts';

const script = `${ROOT}/scripts/local-s3.sh`;

/** Processes whose command line names `dir` (what stop must leave none of). */
function processesUsing(dir: string): string[] {
  const out: string[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(`${dir}/`)) out.push(`${p}: ${cmd}`);
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/** Local addresses the given port is listened on (ss), e.g. ['127.0.0.1']. */
async function listeners(port: number): Promise<string[]> {
  const r = await execa('ss', ['-Hltn']);
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[3] ?? '')
    .filter((a) => a.endsWith(`:${port}`))
    .map((a) => a.slice(0, a.lastIndexOf(':')));
}

describe('scripts/local-s3.sh (a second instance in its own directory and ports)', () => {
  it('start → a signed S3 API on loopback only; env never prints the secret; stop leaves no process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'local-s3-test-'));
    const port = 27333;
    const env = { LOCAL_S3_DIR: dir, LOCAL_S3_PORT: String(port), LOCAL_S3_BIND: '' };
    try {
      const started = await execa('bash', [script, 'start'], { env });
      expect(started.stdout).toBe(`http://127.0.0.1:${port}`);
      const first = await execa('bash', [script, 'env'], { env });
      const s3 = parseS3Env(first.stdout);
      const secret = readFileSync(s3.secretKeyFile, 'utf8');
      expect(/^[0-9a-f]{40}$/.test(secret)).toBe(true);
      expect(statSync(s3.secretKeyFile).mode & 0o777).toBe(0o600);
      expect(statSync(join(dir, 's3.json')).mode & 0o777).toBe(0o600);
      // booleans, not toContain: a failing assertion must not print the secret
      expect((first.stdout + started.stdout + started.stderr).includes(secret)).toBe(false);
      expect(s3.endpoint).toBe(`http://127.0.0.1:${port}`);
      expect(s3.podEndpoint).toBeUndefined();

      // Real S3 with real signatures: bucket, object, listing, a ranged GET; a wrong key is refused.
      expect((await s3Request(s3, 'PUT', '/t-bucket')).status).toBe(200);
      expect((await s3Request(s3, 'PUT', '/t-bucket/dir/a.txt', { body: 'hello, s3' })).status).toBe(200);
      const list = await s3Request(s3, 'GET', '/t-bucket', { query: { 'list-type': '2', prefix: 'dir/' } });
      expect(list.body).toContain('<Key>dir/a.txt</Key>');
      const ranged = await s3Request(s3, 'GET', '/t-bucket/dir/a.txt', { headers: { range: 'bytes=7-8' } });
      expect([ranged.status, ranged.body]).toEqual([206, 's3']);
      const wrong = await s3Request({ ...s3, secret: 'not-the-secret' }, 'GET', '/t-bucket/dir/a.txt');
      expect([wrong.status, wrong.body]).toEqual([403, expect.stringContaining('SignatureDoesNotMatch')]);

      // Every port of every weed process is on 127.0.0.1.
      const pids = processesUsing(dir).map((l) => l.split(':')[0]!);
      expect(pids.length).toBe(1);
      const ss = await execa('ss', ['-Hltnp']);
      const ours = ss.stdout.split('\n').filter((l) => pids.some((p) => l.includes(`pid=${p},`)));
      expect(ours.length).toBeGreaterThanOrEqual(8);
      for (const l of ours) expect(l.trim().split(/\s+/)[3]).toMatch(/^127\.0\.0\.1:\d+$/);

      // Idempotent: a second start keeps the server and its credentials.
      await execa('bash', [script, 'start'], { env });
      expect(processesUsing(dir).map((l) => l.split(':')[0])).toEqual(pids);
      expect(readFileSync(s3.secretKeyFile, 'utf8') === secret).toBe(true);
      expect((await execa('bash', [script, 'status'], { env })).stdout).toContain(`running on 127.0.0.1:${port}`);

      await execa('bash', [script, 'stop'], { env });
      expect(processesUsing(dir)).toEqual([]);
      expect(await listeners(port)).toEqual([]);
      expect(readdirSync(dir).filter((f) => /secret|s3\.json|access-key/.test(f))).toEqual([]);
      expect(readdirSync('/tmp').filter((f) => new RegExp(`^seaweedfs-.*-${port + 10000}`).test(f) || f.includes(`-${port}.sock`))).toEqual([]);
      const st = await execa('bash', [script, 'status'], { env, reject: false });
      expect([st.exitCode, st.stderr]).toEqual([1, 'local S3: stopped']);

      // The server may come back with an object's previous version (CI's machine: the readiness probe
      // written just before a stop read back as the one before it, and every later start waited 60 s
      // and failed). Made here: the record of the last probe names bytes the server never stored.
      writeFileSync(join(dir, 'probe'), 'ready 0 (a write the server lost)');
      // A new start makes new credentials; the data survived; the old secret no longer signs.
      const restarted = await execa('bash', [script, 'start'], { env });
      expect(restarted.stderr).toContain('older version of its readiness probe');
      const s3b = parseS3Env((await execa('bash', [script, 'env'], { env })).stdout);
      expect(s3b.accessKey).not.toBe(s3.accessKey);
      expect(readFileSync(s3b.secretKeyFile, 'utf8') === secret).toBe(false);
      // start returns only once data is served (not just metadata): the object reads back at once.
      const back = await s3Request(s3b, 'GET', '/t-bucket/dir/a.txt');
      expect([back.status, back.body]).toEqual([200, 'hello, s3']);
      expect((await s3Request(s3, 'GET', '/t-bucket/dir/a.txt')).status).toBe(403);
    } finally {
      await execa('bash', [script, 'stop'], { env, reject: false });
      expect(processesUsing(dir)).toEqual([]);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('LOCAL_S3_BIND: refuses 0.0.0.0, loopback, foreign and outside-interface addresses with one line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'local-s3-test-'));
    try {
      const route = await execa('ip', ['-o', '-4', 'route', 'show', 'default']);
      const dev = route.stdout.match(/ dev (\S+)/)?.[1];
      const outside = dev ? (await execa('ip', ['-o', '-4', 'addr', 'show', 'dev', dev])).stdout.match(/inet (\d+\.\d+\.\d+\.\d+)\//)?.[1] : undefined;
      const cases: Array<[string, RegExp]> = [
        ['0.0.0.0', /never 0\.0\.0\.0/],
        ['127.0.0.1', /loopback is always served/],
        ['10.1.2', /must be one IPv4 address/],
        ['203.0.113.77', /not an address of this machine/],
        ...(outside ? [[outside, /outside interface/] as [string, RegExp]] : []),
      ];
      for (const [bind, re] of cases) {
        const r = await execa('bash', [script, 'start'], { env: { LOCAL_S3_DIR: dir, LOCAL_S3_PORT: '27433', LOCAL_S3_BIND: bind }, reject: false });
        expect(r.exitCode, bind).toBe(1);
        expect(r.stderr.trim().split('\n'), bind).toEqual([expect.stringMatching(re)]);
      }
      expect(processesUsing(dir)).toEqual([]);
      const bad = await execa('bash', [script, 'start'], { env: { LOCAL_S3_DIR: dir, LOCAL_S3_PORT: '80' }, reject: false });
      expect([bad.exitCode, bad.stderr]).toEqual([1, expect.stringContaining('LOCAL_S3_PORT must be')]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('LOCAL_S3_BIND: a gateway on a node address (a /32 on lo here), same port and credentials', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'local-s3-test-'));
    const addr = '198.18.213.7'; // benchmarking range: never routed, on lo only for this test
    const port = 27533;
    const env = { LOCAL_S3_DIR: dir, LOCAL_S3_PORT: String(port), LOCAL_S3_BIND: addr };
    await execa('ip', ['addr', 'add', `${addr}/32`, 'dev', 'lo']);
    try {
      await execa('bash', [script, 'start'], { env });
      const s3 = parseS3Env((await execa('bash', [script, 'env'], { env })).stdout);
      expect(s3.podEndpoint).toBe(`http://${addr}:${port}`);
      expect((await listeners(port)).sort()).toEqual(['127.0.0.1', addr]);
      expect((await s3Request(s3, 'PUT', '/b-bucket')).status).toBe(200);
      expect((await s3Request(s3, 'PUT', '/b-bucket/x', { body: 'via loopback' })).status).toBe(200);
      const viaNode = await s3Request({ ...s3, endpoint: s3.podEndpoint! }, 'GET', '/b-bucket/x');
      expect([viaNode.status, viaNode.body]).toEqual([200, 'via loopback']);
      expect(processesUsing(dir).length).toBe(2);
      await execa('bash', [script, 'stop'], { env });
      expect(processesUsing(dir)).toEqual([]);
      expect(await listeners(port)).toEqual([]);
    } finally {
      await execa('bash', [script, 'stop'], { env, reject: false });
      await execa('ip', ['addr', 'del', `${addr}/32`, 'dev', 'lo'], { reject: false });
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
