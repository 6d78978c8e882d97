import { describe, expect, it, vi } from 'vitest';
import { flipByte, sha } from './support/bytes.ts';
import { copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { casPath } from '../src/stage/fetch.ts';
import { buildLayer } from '../src/pack/layer.ts';
import { stage } from '../src/pipeline.ts';
import { readLock } from '../src/stage/lock.ts';
import { workspace } from '../src/lib/workspace.ts';

describe('the layer cache re-verifies a blob before it goes into an image', () => {
  it('a byte flipped in a cached layer blob is found by its digest: removed with one warning, the layer built again identically', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'layer-verify-'));
    const entries = async () => [
      { path: 'opt', type: 'dir' as const, mode: 0o755, uid: 0, gid: 0 },
      { path: 'opt/hello', type: 'file' as const, mode: 0o644, uid: 0, gid: 0, data: Buffer.from('hello '.repeat(2000)) },
    ];
    try {
      const first = await buildLayer(cache, 'verify-test', 'a test layer', entries, 1_700_000_000);
      expect(first.cached).toBe(false);
      expect((await buildLayer(cache, 'verify-test', 'a test layer', entries, 1_700_000_000)).cached).toBe(true);
      flipByte(first.path, 20);
      const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
      let again: Awaited<ReturnType<typeof buildLayer>> | undefined;
      let warned: string[] = [];
      try {
        again = await buildLayer(cache, 'verify-test', 'a test layer', entries, 1_700_000_000);
        warned = stderr.mock.calls.map((c) => String(c[0])).filter((l) => l.includes('WARN'));
      } finally {
        stderr.mockRestore();
      }
      expect(again.cached).toBe(false);
      expect(again.digest).toBe(first.digest);
      expect(`sha256:${sha(readFileSync(again.path))}`).toBe(first.digest);
      expect(warned).toHaveLength(1);
      expect(warned[0]).toMatch(/cached layer a test layer was changed on disk/);
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });
});

/**
 * Give the cache entry an inode of its own before changing it: every checkout's staged jars are hard
 * links of the shared cache, and a test must not change another checkout's inputs.
 */
function detach(file: string): void {
  copyFileSync(file, `${file}.detach`);
  renameSync(`${file}.detach`, file);
}

describe('stage with a changed cached download (default line, real inputs)', () => {
  // The default line's small jmx agent jar, whatever its version is.
  const jmx = readLock().inputs[Object.keys(readLock().inputs).find((k) => k.startsWith('maven:io.prometheus.jmx:jmx_prometheus_javaagent@'))!]!;
  const id = jmx.id;
  const staged = (inputs: string) => join(inputs, 'jars', `jmx_prometheus_javaagent-${jmx.version}.jar`);

  it('restages with a fresh copy instead of believing its stamp', async () => {
    const { inputs } = await stage();
    const { sha256 } = readLock().inputs[id]!;
    const cached = casPath(workspace().cache, sha256);
    detach(cached);
    flipByte(cached);
    const r = await stage();
    expect(r.skipped).toBe(false);
    expect(sha(readFileSync(cached))).toBe(sha256);
    expect(sha(readFileSync(staged(inputs)))).toBe(sha256);
    expect((await stage()).skipped).toBe(true);
  }, 900_000);

  it('a staged jar that is no longer the cache entry is checked by its content: a changed one is restaged, an intact one kept', async () => {
    const { inputs } = await stage();
    const { sha256 } = readLock().inputs[id]!;
    // As when another checkout refetched the entry: the staged file is no longer the cache's inode.
    detach(staged(inputs));
    flipByte(staged(inputs));
    expect((await stage()).skipped).toBe(false);
    expect(sha(readFileSync(staged(inputs)))).toBe(sha256);
    // And with the cache entry replaced under an unchanged staged link: its content still decides.
    detach(casPath(workspace().cache, sha256));
    expect((await stage()).skipped).toBe(true);
  }, 900_000);
});
