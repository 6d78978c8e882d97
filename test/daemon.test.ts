/**
 * scripts/daemon.sh, the one daemon library of local-k8s.sh, local-s3.sh and local-registry.sh: a daemon is
 * recognised by its pid file, argv[0] and marker (a reused pid or the same program for another state is not
 * ours, and stop never signals it), is detached from its caller (a lock the caller holds is not inherited),
 * is stopped with SIGKILL when it ignores SIGTERM, and a wait ends early when it exits. A daemon whose main
 * thread has exited while others still run (its port still held) is alive until its last thread is gone.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './support/k8s.ts';

const dir = mkdtempSync(join(tmpdir(), 'sparkcraft-daemon-'));
const started: number[] = [];
afterAll(() => {
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  rmSync(dir, { recursive: true, force: true });
});

/** bash with lib.sh and daemon.sh sourced, running SCRIPT; its stdout, stderr and status. */
const sh = (script: string) =>
  execa('bash', ['-c', `. "${ROOT}/scripts/lib.sh"; . "${ROOT}/scripts/daemon.sh"; ${script}`], {
    reject: false,
    env: { SPARKCRAFT_CACHE: join(dir, 'cache') },
  });
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return readFileSync(`/proc/${pid}/cmdline`).length > 0; // a zombie has an empty command line
  } catch {
    return false;
  }
};
const pidOf = (file: string) => {
  const pid = Number(readFileSync(file, 'utf8').split(' ')[0]);
  started.push(pid);
  return pid;
};

describe('scripts/daemon.sh', () => {
  it('launch: "PID ARGV0" in the pid file, a session of its own, no descriptor of the caller (its lock), the old log kept', async () => {
    const pf = join(dir, 'a.pid');
    const log = join(dir, 'a.log');
    writeFileSync(log, 'the previous run\n');
    const lock = join(dir, 'held.lock');
    // the caller holds a lock on fd 9 while it launches (as `flock FILE scripts/local-k8s.sh start` does)
    const r = await sh(`exec 9>"${lock}"; flock 9; daemon_launch "${pf}" "${log}" node -e 'setTimeout(() => {}, 300000)' marker-${process.pid}; cat "${pf}"`);
    expect(r.exitCode, r.stderr).toBe(0);
    const pid = pidOf(pf);
    expect(r.stdout.trim()).toBe(`${pid} node`);
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toEqual(['node', '-e', 'setTimeout(() => {}, 300000)', `marker-${process.pid}`, '']);
    const sid = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[3];
    expect(Number(sid)).toBe(pid); // setsid: the daemon leads a session of its own
    // the caller is gone; its lock must be free although the daemon runs on
    expect((await execa('flock', ['-n', lock, 'true'], { reject: false })).exitCode).toBe(0);
    expect(readFileSync(`${log}.1`, 'utf8')).toBe('the previous run\n');
    expect((await sh(`daemon_alive "${pf}" && daemon_alive "${pf}" marker-${process.pid} && echo yes`)).stdout).toBe('yes');
    expect((await sh(`daemon_alive "${pf}" marker-of-another-state || echo no`)).stdout).toBe('no');
    expect((await sh(`daemon_stop "${pf}" && echo stopped`)).stdout).toBe('stopped');
    expect(alive(pid)).toBe(false);
    expect(existsSync(pf)).toBe(false);
  });

  it('a pid file whose pid is now another program: not alive, and stop does not signal it (only removes the file)', async () => {
    const other = spawn('sleep', ['300'], { stdio: 'ignore', detached: true });
    started.push(other.pid!);
    const pf = join(dir, 'reused.pid');
    writeFileSync(pf, `${other.pid} /usr/bin/kube-apiserver\n`);
    expect((await sh(`daemon_alive "${pf}" || echo no`)).stdout).toBe('no');
    expect((await sh(`daemon_stop "${pf}" && echo 0`)).stdout).toBe('0');
    expect(alive(other.pid!)).toBe(true);
    expect(existsSync(pf)).toBe(false);
    // an older version's pid file (the pid alone) counts by its marker
    writeFileSync(pf, `${other.pid}\n`);
    expect((await sh(`daemon_alive "${pf}" 300 && echo yes; daemon_alive "${pf}" /elsewhere/ || echo no`)).stdout).toBe('yes\nno');
    expect((await sh(`daemon_stop "${pf}" /elsewhere/ && echo 0`)).stdout).toBe('0');
    expect(alive(other.pid!)).toBe(true);
    // garbage in a pid file is not a pid
    writeFileSync(pf, '-1 sleep\n');
    expect((await sh(`daemon_alive "${pf}" || echo no`)).stdout).toBe('no');
  });

  it('stop: a daemon that ignores SIGTERM is killed after the grace period, and stop returns once it is gone', async () => {
    const pf = join(dir, 'stubborn.pid');
    const r = await sh(`daemon_launch "${pf}" "${dir}/stubborn.log" bash -c 'trap "" TERM; while :; do sleep 0.1; done'`);
    expect(r.exitCode, r.stderr).toBe(0);
    const pid = pidOf(pf);
    const t0 = Date.now();
    const s = await sh(`daemon_stop "${pf}" "" 1 && echo 0`);
    expect(s.stdout).toBe('0');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000); // SIGTERM was ignored for its grace second
    expect(alive(pid)).toBe(false);
  });

  it('wait: 0 when the check passes, 2 as soon as the daemon exits, 1 on timeout', async () => {
    const pf = join(dir, 'w.pid');
    const quick = await sh(
      `daemon_launch "${pf}" "${dir}/w.log" sh -c 'exit 3'; t=$SECONDS; rc=0; daemon_wait "${pf}" 30 false || rc=$?; echo "$rc $((SECONDS - t))"`,
    );
    const [rc, secs] = quick.stdout.split(' ').map(Number);
    expect(rc).toBe(2);
    expect(secs).toBeLessThan(5); // not the 30 s it was given
    const slow = await sh(
      `daemon_launch "${pf}" "${dir}/w.log" sleep 30; rc=0; daemon_wait "${pf}" 1 false || rc=$?; echo $rc; daemon_wait "${pf}" 1 true; echo $?; daemon_stop "${pf}"`,
    );
    expect(slow.stdout).toBe('1\n0');
  });

  it('a daemon whose main thread has exited while another still holds its port (a Go program shutting down) is alive, and stop returns once the port is free', async () => {
    // Seen on CI: `stop` returned while the kubelet's main thread was gone (its /proc/PID/cmdline empty) but
    // other threads still listened on 10250, and the next start refused "port 10250 is taken by a process (pid ?)".
    const python = (await execa('python3', ['-c', 'import sys; print(sys.executable)'])).stdout.trim();
    const prog = join(dir, 'linger.py');
    writeFileSync(
      prog,
      [
        'import ctypes, os, signal, socket, sys, threading, time',
        'signal.signal(signal.SIGTERM, signal.SIG_IGN)',
        "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', 0)); s.listen()",
        'print(s.getsockname()[1], flush=True)',
        'def linger():',
        '    time.sleep(float(sys.argv[1])); os._exit(0)',
        'threading.Thread(target=linger).start()',
        'ctypes.CDLL(None).pthread_exit(None)  # the main thread ends; the other holds the socket',
        '',
      ].join('\n'),
    );
    const pf = join(dir, 'linger.pid');
    const log = join(dir, 'linger.log');
    const r = await sh(`daemon_launch "${pf}" "${log}" "${python}" "${prog}" 2`);
    expect(r.exitCode, r.stderr).toBe(0);
    const pid = pidOf(pf);
    let port = 0;
    let state = '';
    for (let i = 0; i < 100 && !(port && state === 'Z'); i++) {
      await new Promise((res) => setTimeout(res, 50));
      port = Number(readFileSync(log, 'utf8').trim()) || 0;
      state = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '';
    }
    expect(port).toBeGreaterThan(0);
    expect(state).toBe('Z'); // the main thread has exited: /proc/PID/cmdline reads empty
    const listening = () =>
      new Promise<boolean>((res) => {
        const c = connect(port, '127.0.0.1');
        c.once('connect', () => (c.destroy(), res(true)));
        c.once('error', () => res(false));
      });
    expect(await listening()).toBe(true);
    expect((await sh(`daemon_alive "${pf}" && echo yes`)).stdout).toBe('yes');
    const s = await sh(`daemon_stop "${pf}" "" 10 && echo 0`);
    expect(s.stdout, s.stderr).toBe('0');
    expect(await listening()).toBe(false);
    expect(existsSync(`/proc/${pid}/task`) && readFileSync(`/proc/${pid}/status`, 'utf8').match(/^Threads:\s+(\d+)/m)?.[1] !== '1').toBe(false);
  });
});
