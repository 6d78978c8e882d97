/** The Go toolchain: build a command of a module at a pinned version through a throwaway module. */
import { execa } from 'execa';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.ts';

/** Go's environment with its module and build caches under `cache` (the workspace's). */
export function goEnv(cache: string): Record<string, string> {
  const c = cache;
  return {
    GOMODCACHE: join(c, 'go', 'mod'),
    GOCACHE: join(c, 'go', 'build'),
    GOFLAGS: '-mod=mod',
    GOTOOLCHAIN: 'local',
    CGO_ENABLED: '0',
    PATH: `${process.env.PATH ?? ''}:/usr/local/go/bin`,
  };
}

/**
 * Build `pkg` (a main package of `module@version`) for linux/`goarch` into the cache, once:
 * `<cache>/bin/<name>-<version>-linux-<goarch>`.
 * `go install pkg@version` needs the proxy's version list (refused by some proxies), so a
 * throwaway module requiring that exact version is used instead.
 */
export async function goBuildCached(cache: string, name: string, module: string, version: string, pkg: string, goarch: string): Promise<string> {
  // The architecture is in the name: a binary built for one is never taken for another.
  const out = join(cache, 'bin', `${name}-${version}-linux-${goarch}`);
  if (existsSync(out)) return out;
  const work = join(cache, 'go', `${name}-build-${version}`);
  mkdirSync(work, { recursive: true });
  writeFileSync(join(work, 'go.mod'), `module sparkcraft.local/${name}-build\n\ngo 1.22\n\nrequire ${module} ${version}\n`);
  writeFileSync(join(work, 'tools.go'), `package tools\n\nimport _ "${pkg}"\n`);
  const env = { ...goEnv(cache), GOOS: 'linux', GOARCH: goarch };
  try {
    await execa('go', ['mod', 'tidy'], { cwd: work, env });
    await execa('nice', ['go', 'build', '-trimpath', '-ldflags=-s -w', '-o', `${out}.tmp`, pkg], { cwd: work, env });
  } catch (e) {
    const err = e as { code?: string; stderr?: string };
    if (err.code === 'ENOENT') throw new UserError('E_TOOL', 'the Go toolchain (go) is not installed', { hint: 'install Go ≥ 1.22 and re-run' });
    throw new UserError('E_GO_BUILD', `building ${pkg}@${version} failed: ${(err.stderr ?? '').trim().split('\n').pop()}`);
  }
  renameSync(`${out}.tmp`, out);
  return out;
}
