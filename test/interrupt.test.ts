/**
 * SIGINT, SIGTERM and SIGHUP (src/lib/interrupt.ts): a process that made temporary files and
 * folders and runs a child is signalled alone (as a supervisor does, not the terminal's group); its
 * child is stopped, what it registered is removed, one line says so, and it exits 128 + the signal.
 * A real build interrupted at fixed points: test/build-interrupt.test.ts (tools tier).
 */
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './support/k8s.ts';

const SCRIPT = `
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
const { exitOnSignals, temporary } = await import(${JSON.stringify(join(ROOT, 'src/lib/interrupt.ts'))});
exitOnSignals('probe');
const base = process.argv[1];
const dir = temporary(mkdtempSync(join(base, 'work-')));
mkdirSync(join(dir, 'deep', 'er'), { recursive: true });
writeFileSync(join(dir, 'deep', 'er', 'f'), 'x');
const file = temporary(join(base, 'out.tar.gz.tmp-' + process.pid));
writeFileSync(file, 'partial');
const renamed = temporary(join(base, 'gone.tmp-' + process.pid)); // registered, already renamed away: nothing to do
const child = spawn('sleep', ['300'], { stdio: 'ignore' });
console.log(JSON.stringify({ dir, file, renamed, child: child.pid }));
setInterval(() => {}, 1000);
`;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('a signal leaves nothing behind', () => {
  for (const [sig, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    it(`${sig}: the child stopped, the temporary folder and file removed, exit ${code}`, async () => {
      const base = mkdtempSync(join(tmpdir(), 'sparkcraft-intr-'));
      try {
        const p = execa('node', ['--import', 'tsx', '--input-type=module', '-e', SCRIPT, base], { reject: false, cwd: ROOT });
        const made = await new Promise<{ dir: string; file: string; child: number }>((res, rej) => {
          p.stdout!.once('data', (c: Buffer) => res(JSON.parse(c.toString())));
          p.once('exit', () => rej(new Error('exited before it was ready')));
        });
        expect(existsSync(join(made.dir, 'deep', 'er', 'f')) && existsSync(made.file) && alive(made.child)).toBe(true);
        process.kill(p.pid!, sig);
        const r = await p;
        expect(r.exitCode, r.stderr).toBe(code);
        // Its children: sleep, and under tsx an esbuild service.
        expect(r.stderr.trim()).toMatch(new RegExp(`^probe: stopped by ${sig}; [12] child process\\(es\\) stopped; 2 temporary path\\(s\\) removed$`));
        expect({ dir: existsSync(made.dir), file: existsSync(made.file), child: alive(made.child) }).toEqual({ dir: false, file: false, child: false });
      } finally {
        rmSync(base, { recursive: true, force: true });
      }
    });
  }
});
