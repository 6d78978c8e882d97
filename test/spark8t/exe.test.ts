import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { copyFileSync, existsSync, mkdtempSync, rmSync, symlinkSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, type ClusterInfo, ensureCluster, uniqueName } from '../support/k8s.ts';

let info: ClusterInfo;
let exe: string;

beforeAll(async () => {
  info = await ensureCluster();
  await execa('bash', [join(ROOT, 'scripts/build-spark8t.sh')]);
  // Copied alone to another directory: it must be self-contained.
  const dir = mkdtempSync(join(tmpdir(), 'exe-'));
  exe = join(dir, 'spark8t');
  copyFileSync(join(ROOT, 'dist/spark8t'), exe);
  for (const t of ['service-account-registry', 'spark-client.service-account-registry', 'spark-submit']) symlinkSync('spark8t', join(dir, t));
}, 300_000);

afterAll(() => rmSync(join(exe, '..'), { recursive: true, force: true })); // a 107 MiB copy

describe('dist/spark8t, one self-contained executable', () => {
  it('is an executable file and lists its tools', async () => {
    expect(statSync(exe).mode & 0o111).not.toBe(0);
    const r = await execa(exe, ['--help'], { cwd: '/' });
    expect(r.stdout).toMatch(/service-account-registry[\s\S]*spark-submit[\s\S]*spark-shell[\s\S]*pyspark[\s\S]*spark-sql/);
  });
  it('dispatches on link names (plain and spark-client.) and as spark8t <tool>', async () => {
    const ns = uniqueName('exe');
    const env = { KUBECONFIG: info.adminKubeconfig };
    const dir = join(exe, '..');
    expect((await execa(join(dir, 'service-account-registry'), ['create', '--username', 'x', '--namespace', ns], { env })).exitCode).toBe(0);
    expect((await execa(join(dir, 'spark-client.service-account-registry'), ['list'], { env })).stdout).toContain(`${ns}:x`);
    expect((await execa(exe, ['service-account-registry', 'get-config', '--username', 'x', '--namespace', ns], { env })).stdout).toContain(
      `spark.kubernetes.namespace=${ns}`,
    );
  });
  it('help names every action; each action parses on its own', async () => {
    const { ACTIONS } = await import('../../src/spark8t/registry/cli.ts');
    const help = (await execa(exe, ['service-account-registry', '--help'])).stdout;
    for (const a of ACTIONS) expect(help).toMatch(new RegExp(`^  ${a} `, 'm'));
    // `--help` builds a summary program; `help` builds the whole one: same text.
    expect((await execa(exe, ['service-account-registry', 'help'])).stdout).toBe(help);
    for (const a of ACTIONS)
      expect((await execa(exe, ['service-account-registry', a, '--help'])).stdout).toContain(`Usage: service-account-registry ${a} [options]`);
  });
  it('a reader that goes away early (| head, | grep -q) is not an error', async () => {
    // The reader closes its end before we write: every write meets EPIPE.
    const gone = '| (exec 0<&-; sleep 0.3)';
    const env = { KUBECONFIG: info.adminKubeconfig };
    const r = await execa(
      'bash',
      ['-c', `set -o pipefail; "${exe}" --help ${gone} && "${exe}" service-account-registry --help ${gone} && "${exe}" service-account-registry list ${gone}`],
      { env, reject: false },
    );
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
  });
  it('a slow reader on a non-blocking pipe gets every byte (EAGAIN is waited out, not lost)', async () => {
    const ns = uniqueName('eagain');
    const env = { KUBECONFIG: info.adminKubeconfig };
    const dir = mkdtempSync(join(tmpdir(), 'eagain-'));
    // ~220 KB of configuration: several times a pipe's 64 KiB buffer.
    const lines = Array.from({ length: 3000 }, (_, i) => `spark.k${String(i).padStart(5, '0')}=${'v'.repeat(60)}`);
    writeFileSync(join(dir, 'big.properties'), lines.join('\n') + '\n');
    await execa(exe, ['service-account-registry', 'create', '--username', 'big', '--namespace', ns, '--properties-file', join(dir, 'big.properties')], { env });
    // Python makes the pipe's write end O_NONBLOCK and reads only after the writer has filled it.
    const reader = [
      'import os, subprocess, sys, time',
      'r, w = os.pipe(); os.set_blocking(w, False)',
      'p = subprocess.Popen(sys.argv[1:], stdout=w); os.close(w); time.sleep(0.5)',
      'data = b""',
      'while (c := os.read(r, 4096)): data += c; time.sleep(0.0005)',
      'sys.stdout.write(f"{p.wait()} {len(data)} {data.count(10)}")',
    ].join('\n');
    const r = await execa('python3', ['-c', reader, exe, 'service-account-registry', 'get-config', '--username', 'big', '--namespace', ns], { env });
    const expected = (await execa(exe, ['service-account-registry', 'get-config', '--username', 'big', '--namespace', ns], { env, stripFinalNewline: false }))
      .stdout;
    expect(r.stdout).toBe(`0 ${Buffer.byteLength(expected)} ${lines.length + 2}`);
    rmSync(dir, { recursive: true });
  });
  it('ignores .env and bunfig.toml in the current directory (bun executables read both by default)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cwd-'));
    const home = mkdtempSync(join(tmpdir(), 'home-'));
    // A .env would change KUBECONFIG; a bunfig.toml preload would run the directory's code.
    writeFileSync(join(dir, '.env'), `KUBECONFIG=${info.adminKubeconfig}\n`);
    writeFileSync(join(dir, 'bunfig.toml'), 'preload = ["./evil.js"]\n');
    writeFileSync(join(dir, 'evil.js'), `require('fs').writeFileSync(${JSON.stringify(join(dir, 'ran'))}, 'x');\n`);
    const r = await execa(exe, ['service-account-registry', 'list'], { cwd: dir, env: { HOME: home }, extendEnv: false, reject: false });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr.trim()).toBe(`error: no kubeconfig found (looked at ${home}/.kube/config) (pass --kubeconfig FILE or set KUBECONFIG)`);
    expect(existsSync(join(dir, 'ran'))).toBe(false);
    for (const d of [dir, home]) rmSync(d, { recursive: true });
  });
  it('unknown tools and bad flags fail with one line and a non-zero status', async () => {
    const r = await execa(exe, ['nope'], { reject: false });
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim()).toBe(
      'error: unknown tool "nope" (one of: service-account-registry, spark-submit, spark-shell, pyspark, spark-sql, import-certificate)',
    );
    const r1 = await execa(exe, ['import-certificate', 'only-an-alias'], { reject: false });
    expect(r1.exitCode).toBe(2);
    expect(r1.stderr.trim()).toBe('error: import-certificate takes ALIAS and FILE, got 1 argument(s) (import-certificate my-ca ./ca.crt)');
    const r2 = await execa(join(exe, '..', 'spark-submit'), ['--deploy-mode', 'sideways'], { reject: false });
    expect(r2.exitCode).toBe(2);
    expect(r2.stderr.trim()).toBe('error: --deploy-mode must be client or cluster, not "sideways"');
  });
});

describe('the Node SEA fallback (--runtime node)', () => {
  it('builds, and runs the registry against the apiserver over node:https', async () => {
    const { buildSpark8t } = await import('../../src/spark8t/build/build.ts');
    const dir = mkdtempSync(join(tmpdir(), 'sea-'));
    const sea = await buildSpark8t({ outDir: dir, runtime: 'node' });
    const env = { KUBECONFIG: info.adminKubeconfig };
    const ns = uniqueName('sea');
    expect((await execa(sea, ['service-account-registry', 'create', '--username', 's', '--namespace', ns, '--conf', 'spark.sea=1'], { env })).exitCode).toBe(0);
    expect((await execa(join(dir, 'service-account-registry'), ['get-config', '--username', 's', '--namespace', ns], { env })).stdout).toContain('spark.sea=1');
    expect((await execa(sea, ['service-account-registry', 'get-manifest', '--username', 's'])).stdout).toMatch(/^apiVersion: v1\nkind: ServiceAccount/);
    await execa('rm', ['-rf', dir]);
  }, 300_000);
});
