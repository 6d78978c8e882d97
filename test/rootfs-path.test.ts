/**
 * A Debian root does not depend on where the cache is (tools tier: two real mmdebstrap minbase roots,
 * about 20 s each). apt downloads as its sandbox user `_apt` when that user can reach the target
 * directory, and then leaves `var/cache/apt/archives/partial` and `var/lib/apt/lists/partial` owned by
 * it; under a 0700 cache (the default ~/.cache) it downloads as root and they are root's. Seen: two
 * arm64 builds from empty caches, one under /root/.cache and one under /work, differed in the Debian
 * root and runtime layers by exactly those two owners.
 */
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootfs } from '../src/lib/tools/mmdebstrap.ts';
import { hostArch } from '../src/lib/arch.ts';

/** Every path of a root but regular files' content: type, mode, owner, size (what a layer records besides bytes). */
async function listing(root: string): Promise<string> {
  return (await execa('bash', ['-c', `cd "$1" && find . -xdev -printf '%p %y %m %U %G %s\\n' | LC_ALL=C sort`, '_', root])).stdout;
}

describe("a Debian root made in a cache that apt's sandbox user can reach", () => {
  it('is the same, owners included, as one made in a 0700 cache', async () => {
    const base = mkdtempSync(join(tmpdir(), 'rootfs-path-'));
    try {
      const closed = join(base, 'closed'); // 0700 on the way: _apt cannot reach it
      const open = join(base, 'open'); // 0755 all the way: _apt can
      mkdirSync(closed, { mode: 0o700 });
      mkdirSync(open);
      chmodSync(base, 0o755);
      chmodSync(open, 0o755);
      chmodSync(closed, 0o700);
      const cell = { arch: hostArch(), java: null };
      // Both at once: each in its own cache, under its own lock (about half the time of one after the other).
      const [a, b] = await Promise.all([rootfs(closed, 'minbase', [], cell), rootfs(open, 'minbase', [], cell)]);
      const [la, lb] = [await listing(a), await listing(b)];
      expect(
        lb
          .split('\n')
          .filter((l) => l.includes('/partial '))
          .map((l) => l.split(' ').slice(0, 5).join(' ')),
      ).toEqual(['./var/cache/apt/archives/partial d 700 0 0', './var/lib/apt/lists/partial d 700 0 0', './var/lib/apt/mirrors/partial d 755 0 0']);
      expect(lb === la).toBe(true);
      // and nothing of the fix is left in the root (mmdebstrap writes --aptopt values into it)
      expect(readFileSync(join(b, 'etc/apt/apt.conf.d/99mmdebstrap'), 'utf8')).toBe(readFileSync(join(a, 'etc/apt/apt.conf.d/99mmdebstrap'), 'utf8'));
      expect(readFileSync(join(b, 'etc/apt/apt.conf.d/99mmdebstrap'), 'utf8')).not.toContain('Sandbox');
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  }, 600_000);
});
