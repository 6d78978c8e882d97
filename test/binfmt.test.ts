/**
 * scripts/binfmt.sh on this host (root): an arm64 executable really runs through the entry it registers,
 * with bookworm's QEMU 7.2 (the default) and with bookworm-backports' QEMU 10 (SPARKCRAFT_QEMU=backports),
 * and only the latter lets it make itself its children's subreaper as pebble does (7.2 answers EINVAL, so
 * the rock's entrypoint cannot start under it); an entry of ours with another interpreter is replaced; an aarch64 entry somebody else made is used, never overridden;
 * unregister removes only its own entry. Leaves the host registered as setup does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, realpathSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { BINFMT_LOCK, holdShared } from '../src/lib/tools/mmdebstrap.ts';
import { cacheDir } from '../src/lib/paths.ts';

const BINFMT = '/proc/sys/fs/binfmt_misc';
const script = join(import.meta.dirname, '..', 'scripts', 'binfmt.sh');
const ours = join(BINFMT, 'sparkcraft-aarch64');
const other = join(BINFMT, 'sparkcraft-test-other-aarch64');
const unrelated = join(BINFMT, 'sparkcraft-test-unrelated');
const binfmt = (action: string, qemu = 'debian') => execa('bash', [script, action], { reject: false, all: true, env: { SPARKCRAFT_QEMU: qemu } });

/** ELF e_machine of a file (62 x86-64, 183 aarch64). */
function machine(file: string): number {
  const b = Buffer.alloc(20);
  readSync(openSync(file, 'r'), b, 0, 20, 0);
  return b.readUInt16LE(18);
}

let work: string;
let exe: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'binfmt-'));
  // A static arm64 executable (no loader needed under emulation): prints the architecture it runs as and,
  // like pebble (the rock's entrypoint) when it starts, makes itself its children's subreaper.
  writeFileSync(join(work, 'go.mod'), 'module arch\n\ngo 1.21\n');
  writeFileSync(
    join(work, 'main.go'),
    [
      'package main',
      'import (',
      '\t"fmt"',
      '\t"runtime"',
      '\t"syscall"',
      ')',
      'func main() {',
      '\tfmt.Println("running as", runtime.GOARCH)',
      '\t// prctl(PR_SET_CHILD_SUBREAPER, 1)',
      '\tif _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, 36, 1, 0); e != 0 {',
      '\t\tfmt.Println("subreaper:", e)',
      '\t} else {',
      '\t\tfmt.Println("subreaper: ok")',
      '\t}',
      '}',
      '',
    ].join('\n'),
  );
  exe = join(work, 'arch-arm64');
  await execa('go', ['build', '-o', exe, '.'], {
    cwd: work,
    env: { GOOS: 'linux', GOARCH: 'arm64', CGO_ENABLED: '0', GOFLAGS: '-mod=mod', GOCACHE: join(work, 'gocache'), GOPROXY: 'off' },
  });
}, 300_000);

afterAll(async () => {
  for (const e of [other, unrelated]) if (existsSync(e)) writeFileSync(e, '-1');
  // As setup leaves it.
  await binfmt('register');
  rmSync(work, { recursive: true, force: true });
});

describe('scripts/binfmt.sh', () => {
  it('registers its entry, and an arm64 executable runs through it', async () => {
    expect(machine(exe)).toBe(183);
    const r = await binfmt('register');
    expect(r.exitCode, r.all).toBe(0);
    const status = await binfmt('status');
    expect(status.all).toContain('sparkcraft-aarch64');
    expect(readFileSync(ours, 'utf8')).toMatch(/^enabled\ninterpreter \/usr\/libexec\/qemu-binfmt\/aarch64-binfmt-P\nflags: P?O?F/);
    // QEMU 7.2 (the default): runs it, refuses the subreaper (what stops pebble).
    expect((await execa(exe)).stdout).toBe('running as arm64\nsubreaper: invalid argument');
    // QEMU 10 (backports): the subreaper too.
    const ten = await binfmt('register', 'backports');
    expect(ten.exitCode, ten.all).toBe(0);
    expect(readFileSync(ours, 'utf8')).toMatch(
      new RegExp(`^enabled\ninterpreter ${cacheDir()}/qemu/[^/]+/usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: P?O?F`),
    );
    expect((await execa(exe)).stdout).toBe('running as arm64\nsubreaper: ok');
    // Back to the default: ours, with another interpreter, is replaced.
    expect((await binfmt('register')).all).toContain('replacing binfmt_misc entry sparkcraft-aarch64');
    // A second register changes nothing.
    const again = await binfmt('register');
    expect(again.exitCode).toBe(0);
    expect(again.all).not.toMatch(/registered/);
  });

  it('unregister waits while a build holds the emulation lock shared (an arm64 root being bootstrapped)', async () => {
    const lock = BINFMT_LOCK;
    mkdirSync(dirname(lock), { recursive: true });
    // What src/lib/tools/mmdebstrap.ts runs an arm64 bootstrap under: flock -s on that file.
    const holder = execa('flock', ['-s', lock, 'sh', '-c', 'echo held; sleep 4']);
    await new Promise<void>((ok) => holder.stdout!.once('data', () => ok()));
    const un = binfmt('unregister');
    await new Promise((r) => setTimeout(r, 1500));
    // Still there while the holder runs.
    expect(existsSync(ours)).toBe(true);
    await holder;
    const r = await un;
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toContain('waiting for a build that runs arm64 programs under emulation');
    expect(existsSync(ours)).toBe(false);
    expect((await binfmt('register')).exitCode).toBe(0);
  });

  it('a foreign root holds the emulation lock shared from its first emulated command to its last (holdShared)', async () => {
    const lock = join(work, 'emulation.lock');
    const exclusive = () => execa('flock', ['-x', '-n', lock, 'true'], { reject: false });
    const release = await holdShared(lock);
    expect((await exclusive()).exitCode).toBe(1);
    // Between two commands of the build, too: still held.
    await new Promise((r) => setTimeout(r, 300));
    expect((await exclusive()).exitCode).toBe(1);
    await release();
    expect((await exclusive()).exitCode).toBe(0);
  });

  it('unregister does not wait for ever: past BINFMT_UNREGISTER_WAIT it leaves the entry and says so', async () => {
    mkdirSync(dirname(BINFMT_LOCK), { recursive: true });
    const holder = execa('flock', ['-s', BINFMT_LOCK, 'sh', '-c', 'echo held; sleep 6']);
    await new Promise<void>((ok) => holder.stdout!.once('data', () => ok()));
    const r = await execa('bash', [script, 'unregister'], { reject: false, all: true, env: { BINFMT_UNREGISTER_WAIT: '1' } });
    expect(r.exitCode).toBe(1);
    expect(r.all).toContain('a build still runs arm64 programs under emulation after 1 s');
    expect(existsSync(ours)).toBe(true);
    await holder;
  });

  it('unregister removes only its own entry; without any entry the arm64 executable does not run', async () => {
    // An unrelated entry somebody else made (a magic no real file has).
    writeFileSync(join(BINFMT, 'register'), `:${unrelated.split('/').pop()}:M::\\x00sparkcraft-test\\x00::/bin/false:`);
    expect((await binfmt('unregister')).exitCode).toBe(0);
    expect(existsSync(ours)).toBe(false);
    expect(existsSync(unrelated)).toBe(true);
    const r = await execa(exe, { reject: false });
    expect(r.exitCode === 0 && r.stdout.startsWith('running as arm64')).toBe(false);
    expect((await binfmt('status')).exitCode).toBe(1);
  });

  it('an entry of ours that runs another interpreter is replaced', async () => {
    await binfmt('register', 'backports');
    const line = readFileSync(join(cacheDir(), 'qemu', 'current', 'usr/share/qemu/binfmt.d/qemu-aarch64.conf'), 'utf8').trim();
    writeFileSync(ours, '-1');
    writeFileSync(join(BINFMT, 'register'), line.replace(':qemu-aarch64:', ':sparkcraft-aarch64:').replace(/:[^:]*aarch64-binfmt-P:/, ':/bin/false:'));
    expect(readFileSync(ours, 'utf8')).toMatch(/^interpreter \/bin\/false$/m);
    const r = await binfmt('register');
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toContain('replacing binfmt_misc entry sparkcraft-aarch64 (it ran another interpreter)');
    expect((await execa(exe)).stdout).toMatch(/^running as arm64\n/);
    await binfmt('unregister');
  });

  it('an aarch64 entry that is not ours is used as it is, never overridden', async () => {
    // Another's entry: the same QEMU, registered under its own name (as Debian's qemu-user-binfmt would).
    // The -binfmt-P name, as in the package's entry: QEMU takes the P flag's extra argument by that name.
    const interpreter = join(realpathSync(join(cacheDir(), 'qemu', 'current')), 'usr/libexec/qemu-binfmt/aarch64-binfmt-P');
    const conf = readFileSync(join(cacheDir(), 'qemu', 'current', 'usr/share/qemu/binfmt.d/qemu-aarch64.conf'), 'utf8').trim();
    await binfmt('unregister');
    writeFileSync(
      join(BINFMT, 'register'),
      conf.replace(':qemu-aarch64:', `:${other.split('/').pop()}:`).replace(/:[^:]*aarch64-binfmt-P:/, `:${interpreter}:`),
    );
    const r = await binfmt('register');
    expect(r.exitCode, r.all).toBe(0);
    expect(r.all).toContain("entry 'sparkcraft-test-other-aarch64' (not ours; used as it is)");
    expect(existsSync(ours)).toBe(false);
    expect((await execa(exe)).stdout).toBe('running as arm64\nsubreaper: ok');
    // unregister leaves it too.
    await binfmt('unregister');
    expect(existsSync(other)).toBe(true);
  });
});
