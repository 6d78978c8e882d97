/** The Go toolchain: build a command of a module at a pinned version through a throwaway module. */
import { execa } from 'execa';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.ts';
import { cacheLock, decide, makeRecord, stepKey, withLock, writeRecord, type Cell } from '../state.ts';

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
 * Build `pkg` (a main package of `module@version`) for linux/`goarch` into the cache, once per cell and
 * record format: `<cache>/bin/<name>-<version>-<key>`, with its record beside it (`.state.json`) vouching
 * for the file. `go install pkg@version` needs the proxy's version list (refused by some proxies),
 * so a throwaway module requiring that exact version is used instead. Under a cache lock: two runs
 * never write the same temporary.
 */
export async function goBuildCached(cache: string, name: string, module: string, version: string, pkg: string, goarch: string, cell: Cell): Promise<string> {
  const inputs = { module, version, pkg, goos: 'linux', goarch };
  const key = stepKey('go-build', cell, inputs).slice(0, 16);
  const out = join(cache, 'bin', `${name}-${version}-${key}`);
  const record = `${out}.state.json`;
  return withLock(cacheLock(cache, `go-${name}-${version}-${key}`), `building ${name} ${version}`, async () => {
    if (!(await decide(`go build ${name} ${version}`, record, 'go-build', cell, inputs)).decision.run) return out;
    await goBuild(cache, name, module, version, pkg, goarch, out);
    await writeRecord(record, makeRecord(record, 'go-build', cell, inputs, [out]));
    return out;
  });
}

async function goBuild(cache: string, name: string, module: string, version: string, pkg: string, goarch: string, out: string): Promise<void> {
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
}
