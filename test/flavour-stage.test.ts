/** The stage of a layered flavour: only its own inputs (real downloads, cached), verified, with an SBOM. Expected names from the real matrix and lock. */
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMatrix, resolveLine } from '../src/config/matrix.ts';
import { lockedFlavourInputs, readLock } from '../src/stage/lock.ts';
import { stage } from '../src/pipeline.ts';

const matrix = loadMatrix();
const track = resolveLine(matrix, {}).line.track;
const line = matrix.lines.find((l) => l.track === track)!;
const [rapids] = lockedFlavourInputs(line, matrix.flavours.gpu!, readLock(), 'amd64');
const [group, artifact] = rapids!.name.split(':') as [string, string];
const rapidsJar = `${artifact}-${rapids!.version}.jar`;
const jupyterlab = matrix.flavours.jupyter!.pypi!.find((q) => q.name === 'jupyterlab')!.version;

describe('stage of a flavour: only its own inputs, verified, with an SBOM', () => {
  it("gpu: the jar under inputs/jars, hard-linked from the cache, listed in the SBOM with the lock's sha256", async () => {
    const st = await stage({ line: track, flavour: 'gpu' });
    expect(readdirSync(st.inputs).sort()).toEqual(['.state.json', 'jars', 'manifest.json', 'sbom.spdx.json']);
    expect(readdirSync(join(st.inputs, 'jars'))).toEqual([rapidsJar]);
    const sbom = JSON.parse(readFileSync(join(st.inputs, 'sbom.spdx.json'), 'utf8'));
    const f = sbom.files.find((x: { fileName: string }) => x.fileName === `./jars/${rapidsJar}`);
    expect(f.checksums[1].checksumValue).toBe(rapids!.sha256);
    expect(sbom.packages.map((p: { name: string }) => p.name)).toEqual([`${group}:${artifact}`]);
    expect((await stage({ line: track, flavour: 'gpu' })).skipped).toBe(true);
  }, 600_000);
  it('jupyter: every wheel of the closure under inputs/wheels and in the SBOM', async () => {
    const st = await stage({ line: track, flavour: 'jupyter' });
    const wheels = readdirSync(join(st.inputs, 'wheels'));
    const locked = lockedFlavourInputs(line, matrix.flavours.jupyter!, readLock(), st.resolved.arch);
    expect(wheels).toHaveLength(locked.length);
    const sbom = JSON.parse(readFileSync(join(st.inputs, 'sbom.spdx.json'), 'utf8'));
    expect(sbom.files).toHaveLength(locked.length);
    expect(sbom.packages).toHaveLength(locked.length);
    const jl = sbom.files.find((x: { fileName: string }) => x.fileName === `./wheels/jupyterlab-${jupyterlab}-py3-none-any.whl`);
    expect(jl.licenseConcluded).toBe('BSD-3-Clause');
    expect(jl.checksums[1].checksumValue).toBe(readLock().inputs[`wheel:jupyterlab@${jupyterlab}`]!.sha256);
    // What it stages installs offline: pip finds the whole closure in the folder.
    const target = mkdtempSync(join(tmpdir(), 'jl-offline-'));
    const r = await execa(
      '/usr/bin/python3',
      [
        '-m',
        'pip',
        'install',
        '--dry-run',
        '--no-index',
        '--find-links',
        join(st.inputs, 'wheels'),
        '--target',
        target,
        '--disable-pip-version-check',
        `jupyterlab==${jupyterlab}`,
      ],
      { reject: false },
    );
    expect(r.exitCode, r.stderr).toBe(0);
  }, 600_000);
});
