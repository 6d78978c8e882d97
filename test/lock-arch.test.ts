/**
 * A layered flavour's closure per architecture in the lock (pure, on the fixture matrix): the keys, the
 * wheel ids (a platform wheel is another file per architecture, a pure one the same), reading the
 * cell's closure, and the migration of a lock from before (one closure, the first architecture's).
 */
import { describe, expect, it } from 'vitest';
import { flavourKey, lockedFlavourInputs, lockedWheelId, migrateFlavourKeys, wheelPlatform, type LockFile, type LockedInput } from '../src/stage/lock.ts';
import { fixtureMatrix } from './support/fixture.ts';

const m = fixtureMatrix();
const line = m.lines.find((l) => l.flavours.includes('jupyter'))!;
const jupyter = m.flavours.jupyter!;
const root = jupyter.pypi![0]!;
const pure = `https://files.pythonhosted.org/p/${root.name}-${root.version}-py3-none-any.whl`;
const zmq = (cpu: string) => `https://files.pythonhosted.org/p/pyzmq-27.3.0-cp311-cp311-manylinux_2_28_${cpu}.whl`;
const wheel = (id: string, name: string, version: string, url: string): LockedInput => ({
  id,
  kind: 'wheel',
  name,
  version,
  url,
  sha256: 'a'.repeat(64),
  license: 'MIT',
});

describe('flavour closures per architecture in the lock', () => {
  it('a platform wheel gets the architecture in its id, a pure wheel does not', () => {
    expect(wheelPlatform(zmq('x86_64'))).toBe('manylinux_2_28_x86_64');
    expect(wheelPlatform(pure)).toBe('any');
    expect(lockedWheelId('PyZMQ', '27.3.0', zmq('aarch64'), 'arm64')).toBe('wheel:pyzmq@27.3.0+arm64');
    expect(lockedWheelId(root.name, root.version, pure, 'arm64')).toBe(`wheel:${root.name}@${root.version}`);
    expect(flavourKey(line, jupyter, 'arm64')).toBe(`${line.track}/jupyter/arm64`);
  });

  it("each cell reads its own architecture's closure; the pure wheels are shared, the platform ones are each the architecture's file", () => {
    const rootId = `wheel:${root.name}@${root.version}`;
    const lock: LockFile = {
      lockVersion: 1,
      inputs: {
        [rootId]: wheel(rootId, root.name, root.version, pure),
        'wheel:pyzmq@27.3.0+amd64': wheel('wheel:pyzmq@27.3.0+amd64', 'pyzmq', '27.3.0', zmq('x86_64')),
        'wheel:pyzmq@27.3.0+arm64': wheel('wheel:pyzmq@27.3.0+arm64', 'pyzmq', '27.3.0', zmq('aarch64')),
      },
      lines: {},
      flavours: {
        [`${line.track}/jupyter/amd64`]: [rootId, 'wheel:pyzmq@27.3.0+amd64'],
        [`${line.track}/jupyter/arm64`]: [rootId, 'wheel:pyzmq@27.3.0+arm64'],
      },
    };
    const urls = (arch: string) => lockedFlavourInputs(line, jupyter, lock, arch).map((i) => i.url);
    expect(urls('amd64')).toEqual([pure, zmq('x86_64')]);
    expect(urls('arm64')).toEqual([pure, zmq('aarch64')]);
    // An architecture the lock has no closure for is one line naming the key to make.
    expect(() => lockedFlavourInputs(line, jupyter, lock, 'riscv64')).toThrow(
      new RegExp(`^the lock file does not pin ${rootId.replace(/[.+]/g, '\\$&')} \\(flavours\\["${line.track}/jupyter/riscv64"\\]\\)$`),
    );
  });

  it("a lock of before is read as the first architecture's closure: the same files, platform wheels re-identified, other keys untouched", () => {
    const rootId = `wheel:${root.name}@${root.version}`;
    const old: LockFile = {
      lockVersion: 1,
      inputs: {
        [rootId]: wheel(rootId, root.name, root.version, pure),
        'wheel:pyzmq@27.3.0': wheel('wheel:pyzmq@27.3.0', 'pyzmq', '27.3.0', zmq('x86_64')),
      },
      lines: { [line.track]: [] },
      flavours: { [`${line.track}/jupyter`]: [rootId, 'wheel:pyzmq@27.3.0'], [`${line.track}/gpu/amd64`]: [] },
    };
    const now = migrateFlavourKeys(old, 'amd64');
    expect(Object.keys(now.flavours!).sort()).toEqual([`${line.track}/gpu/amd64`, `${line.track}/jupyter/amd64`]);
    expect(now.flavours![`${line.track}/jupyter/amd64`]).toEqual([rootId, 'wheel:pyzmq@27.3.0+amd64']);
    expect(
      Object.values(now.inputs)
        .map((i) => [i.id, i.url])
        .sort(),
    ).toEqual(
      [
        [rootId, pure],
        ['wheel:pyzmq@27.3.0+amd64', zmq('x86_64')],
      ].sort(),
    );
    // Read twice, nothing changes again.
    expect(migrateFlavourKeys(now, 'amd64')).toEqual(now);
  });
});
