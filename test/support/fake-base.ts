/**
 * A small base image of its own for layering a flavour over (`--base-archive`): two tiny layers
 * (an unusual owner and mode on /opt/spark, which the flavour's layers must inherit), labelled as
 * `labels` say, written as an oci-archive. `salt` makes its layers unlike any other image's.
 */
import { loadMatrix, resolveLine } from '../../src/config/matrix.ts';
import { buildLayer, type LayerBlob } from '../../src/pack/layer.ts';
import { assembleImage, writeOciArchive } from '../../src/pack/oci.ts';
import type { TarEntry } from '../../src/pack/tar.ts';
import type { Workspace } from '../../src/lib/workspace.ts';

export const RUN_USER = 584792;
const MTIME = 1_700_000_000;

export async function writeFakeBase(ws: Workspace, file: string, labels: Record<string, string>, salt: string): Promise<{ layers: LayerBlob[] }> {
  const r = resolveLine(loadMatrix(), { line: '3.5', flavour: 'gpu' });
  const d = (path: string, mode: number, uid = 0): TarEntry => ({ path, type: 'dir', mode, uid, gid: uid });
  const f = (path: string, text: string): TarEntry => ({ path, type: 'file', mode: 0o644, uid: 0, gid: 0, data: Buffer.from(text) });
  const one = await buildLayer(
    ws.cache,
    `test-base-archive-1-${salt}`,
    'fake base os',
    async () => [d('etc', 0o755), f('etc/os-release', `ID=fake\nSALT=${salt}\n`), d('opt', 0o751), d('usr', 0o755)],
    MTIME,
  );
  const two = await buildLayer(
    ws.cache,
    `test-base-archive-2-${salt}`,
    'fake base spark',
    async () => [d('opt', 0o751), d('opt/spark', 0o750, RUN_USER), d('opt/spark/jars', 0o770, RUN_USER), f('opt/spark/RELEASE', `fake ${salt}\n`)],
    MTIME,
  );
  const created = new Date(MTIME * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
  const img = assembleImage(
    [one, two],
    {
      architecture: r.arch,
      created,
      user: `${RUN_USER}:${RUN_USER}`,
      env: ['PATH=/usr/bin:/bin', 'SPARK_HOME=/opt/spark'],
      entrypoint: ['/usr/bin/pebble', 'enter'],
      cmd: [],
      workingDir: '/',
      labels,
    },
    r.base!.version,
  );
  await writeOciArchive(ws, img, file, MTIME);
  return { layers: [one, two] };
}
