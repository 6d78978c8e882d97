/**
 * The craft backend's success path, with stand-ins for rockcraft and snapcraft on PATH that pack the
 * way the real tools do: `<name>_<version>_<arch>.<ext>` written into the project directory (the
 * rendered build folder). The real tools run in the GitHub workflow; here the hosts have no snapd.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { craftPack } from '../src/pack/craft.ts';

const work = mkdtempSync(join(tmpdir(), 'craft-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A stand-in that reads name and version from the manifest in its working directory, as the tools do. */
function standIn(tool: 'rockcraft' | 'snapcraft'): string {
  const bin = join(work, `bin-${tool}`);
  mkdirSync(bin, { recursive: true });
  const manifest = tool === 'rockcraft' ? 'rockcraft.yaml' : 'snap/snapcraft.yaml';
  const ext = tool === 'rockcraft' ? 'rock' : 'snap';
  writeFileSync(
    join(bin, tool),
    `#!/bin/sh
[ "$1" = pack ] || { echo "usage: ${tool} pack" >&2; exit 2; }
name=$(sed -n 's/^name: *//p' ${manifest} | head -1)
version=$(sed -n "s/^version: *['\\"]*\\([^'\\"]*\\).*/\\1/p" ${manifest} | head -1)
echo "packed by the stand-in $*" > "\${name}_\${version}_amd64.${ext}"
echo "Packed \${name}_\${version}_amd64.${ext}" >&2
`,
    { mode: 0o755 },
  );
  return bin;
}

function buildFolder(name: string, manifest: string, body: string): string {
  const dir = mkdtempSync(join(work, 'build-'));
  mkdirSync(join(dir, 'snap'), { recursive: true });
  writeFileSync(join(dir, manifest), body);
  return dir;
}

describe('craft backend (stand-in tools on PATH)', () => {
  // The stand-ins first on the PATH craftPack gives the tool (this process's environment is left alone).
  const onPath = (bin: string) => ({ env: { PATH: `${bin}:${process.env.PATH}` } });

  it('rockcraft pack: the rock it made lands in dist/ under its own name', async () => {
    const dir = buildFolder('rock', 'rockcraft.yaml', "name: charmed-spark\nversion: '3.5.9'\nbase: ubuntu@22.04\n");
    const dist = join(work, 'dist-rock');
    const out = await craftPack('rockcraft', dir, dist, '.rock', onPath(standIn('rockcraft')));
    expect(out).toBe(join(dist, 'charmed-spark_3.5.9_amd64.rock'));
    expect(readFileSync(out, 'utf8')).toBe('packed by the stand-in pack --verbose\n');
    expect(readdirSync(dist)).toEqual(['charmed-spark_3.5.9_amd64.rock']); // no temporary left
  });

  it('snapcraft pack: an older snap of another version in the folder is not taken for the new one', async () => {
    const dir = buildFolder('snap', 'snap/snapcraft.yaml', "name: spark-client\nversion: '3.5.9'\nbase: core22\n");
    // Left by an earlier pack of a newer-sorting version, before this one.
    writeFileSync(join(dir, 'spark-client_3.5.10_amd64.snap'), 'old');
    const old = new Date(Date.now() - 3_600_000);
    utimesSync(join(dir, 'spark-client_3.5.10_amd64.snap'), old, old);
    const dist = join(work, 'dist-snap');
    const out = await craftPack('snapcraft', dir, dist, '.snap', onPath(standIn('snapcraft')));
    expect(out).toBe(join(dist, 'spark-client_3.5.9_amd64.snap'));
    expect(readFileSync(out, 'utf8')).toBe('packed by the stand-in pack --verbose\n');
  });

  it('a pack that writes nothing is one clear error', async () => {
    const bin = join(work, 'bin-silent');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'rockcraft'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    const dir = buildFolder('none', 'rockcraft.yaml', 'name: x\nversion: "1"\n');
    await expect(craftPack('rockcraft', dir, join(work, 'dist-none'), '.rock', onPath(bin))).rejects.toThrow(/^rockcraft pack produced no \.rock in /);
  });
});
