/**
 * spark8t for each architecture of the family (tools tier: bun compiles, the arm64 runtime comes from the
 * npm registry once): the host's executable is dist/spark8t, another architecture's dist/spark8t-<arch>,
 * each with its own record, neither replacing the other.
 */
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { readFileSync, statSync } from 'node:fs';
import { ARCHITECTURES } from '../../src/lib/arch.ts';
import { ensureSpark8t } from '../../src/spark8t/build/build.ts';

/** The ELF header's e_machine: 62 x86-64, 183 AArch64. */
const machine = (f: string) => readFileSync(f).readUInt16LE(18);

describe('spark8t per architecture', () => {
  it('an arm64 cell gets an AArch64 executable beside the host one, and a second build of either reuses it', async () => {
    const host = await ensureSpark8t({ arch: 'amd64', java: null }, ARCHITECTURES.amd64!.bun);
    const hostBefore = statSync(host);
    const arm = await ensureSpark8t({ arch: 'arm64', java: null }, ARCHITECTURES.arm64!.bun);
    expect(arm).toMatch(/\/dist\/spark8t-arm64$/);
    expect(machine(arm)).toBe(183);
    expect(machine(host)).toBe(62);
    // The host's executable was neither rebuilt nor replaced, and still runs here.
    const hostAfter = statSync(host);
    expect([hostAfter.ino, hostAfter.mtimeMs]).toEqual([hostBefore.ino, hostBefore.mtimeMs]);
    expect((await execa(host, ['--help'], { env: { SPARK8T_ARGV0: 'spark8t' } })).exitCode).toBe(0);
    const armBefore = statSync(arm);
    expect(await ensureSpark8t({ arch: 'arm64', java: null }, ARCHITECTURES.arm64!.bun)).toBe(arm);
    expect(statSync(arm).mtimeMs).toBe(armBefore.mtimeMs);
  }, 600_000);
});
