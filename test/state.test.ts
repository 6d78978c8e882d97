/**
 * The step-state module: records are versioned, keyed by the cell, written atomically and
 * re-identified; an old or unknown format is a rebuild with its reason; the lock excludes
 * concurrent runs, says who holds it, and is released when its holder is SIGKILLed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareRecord, decide, FORMATS, formatJournal, makeRecord, stepKey, writeRecord } from '../src/lib/state.ts';
import { layerMissReason } from '../src/pack/rock.ts';
import { ROOT } from './support/k8s.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sparkcraft-state-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cell = { arch: 'amd64', java: 17 };

describe('a step record', () => {
  it('is keyed by the format, the architecture, the Java version and every input', () => {
    const k = stepKey('stage', cell, { a: '1' });
    expect(stepKey('stage', { ...cell, arch: 'arm64' }, { a: '1' })).not.toBe(k);
    expect(stepKey('stage', { ...cell, java: 21 }, { a: '1' })).not.toBe(k);
    expect(stepKey('stage', cell, { a: '2' })).not.toBe(k);
    expect(stepKey('spark8t', cell, { a: '1' })).not.toBe(k);
    expect(stepKey('stage', cell, { a: '1' })).toBe(k);
  });
  it('an older, newer or unknown format, another cell or a changed input is a reason to run, never a reuse', () => {
    const rec = makeRecord(join(dir, 'r.json'), 'stage', cell, { spark: 'aaa', jars: 'bbb' });
    expect(compareRecord('stage', cell, { spark: 'aaa', jars: 'bbb' }, rec).run).toBe(false);
    expect(compareRecord('stage', cell, {}, { ...rec, format: FORMATS.stage - 1 })).toEqual({
      run: true,
      reason: `stale: format ${FORMATS.stage - 1}, now ${FORMATS.stage}`,
    });
    expect(compareRecord('stage', cell, {}, { ...rec, format: FORMATS.stage + 1 }).reason).toBe(`stale: format ${FORMATS.stage + 1}, now ${FORMATS.stage}`);
    expect(compareRecord('stage', cell, {}, { stamp: 'abc123' }).reason).toBe(`stale: format unknown, now ${FORMATS.stage}`);
    expect(compareRecord('stage', cell, {}, null).reason).toBe('stale: unreadable record');
    expect(compareRecord('stage', cell, {}, undefined).reason).toBe('no record: never run here');
    expect(compareRecord('stage', { ...cell, arch: 'arm64' }, rec.inputs, rec).reason).toBe('architecture changed: amd64 → arm64');
    expect(compareRecord('stage', { ...cell, java: 21 }, rec.inputs, rec).reason).toBe('Java changed: 17 → 21');
    expect(compareRecord('stage', cell, { spark: 'aaa', jars: 'ccc', wheels: 'w' }, rec).reason).toBe('input changed: jars (bbb → ccc), wheels (new)');
  });
  it('is re-identified: a missing or rewritten output, a legacy file, --force each give their reason', async () => {
    const out = join(dir, 'out.bin');
    writeFileSync(out, 'one');
    const file = join(dir, 'rec', 'state.json');
    const inputs = { x: '1' };
    const legacy = [{ file: join(dir, 'old.stamp'), format: 4 }];
    expect((await decide('s', file, 'stage', cell, inputs, { legacy })).decision.reason).toBe('no record: never run here');
    writeFileSync(legacy[0]!.file, 'an old stamp');
    expect((await decide('s', file, 'stage', cell, inputs, { legacy })).decision).toEqual({
      step: 's',
      run: true,
      reason: `stale: format 4, now ${FORMATS.stage}`,
    });
    await writeRecord(file, makeRecord(file, 'stage', cell, inputs, [out]));
    expect(readFileSync(file, 'utf8')).toContain('"format"');
    expect((await decide('s', file, 'stage', cell, inputs, { legacy })).decision.run).toBe(false);
    expect((await decide('s', file, 'stage', cell, inputs, { force: true })).decision.reason).toBe('forced (--force)');
    const t = new Date(Date.now() - 5000);
    utimesSync(out, t, t);
    expect((await decide('s', file, 'stage', cell, inputs)).decision.reason).toBe('output changed on disk: ../out.bin (size, mtime or inode)');
    rmSync(out);
    expect((await decide('s', file, 'stage', cell, inputs)).decision.reason).toBe('output missing: ../out.bin');
    writeFileSync(file, '{ half a rec');
    expect((await decide('s', file, 'stage', cell, inputs)).decision.reason).toBe('stale: unreadable record');
  });
  it('a layer missing from the cache names the input that changed since the last build of the artifact', () => {
    expect(layerMissReason({ tree: 'a1', mtime: '5' }, { tree: 'b2', mtime: '5' })).toBe('input changed: tree (a1 → b2)');
    expect(layerMissReason(undefined, { tree: 'b2' })).toMatch(/^not in the layer cache/);
    expect(formatJournal([{ step: 'layer base', run: false, reason: 'cached' }])).toBe('skipped  layer base  cached');
  });
});

/** A process that takes the lock, appends `<tag> in`/`<tag> out` around `ms` of work, and prints its messages. */
function holder(lock: string, log: string, tag: string, ms: number) {
  const script = `import { withLock } from ${JSON.stringify(join(ROOT, 'src/lib/state.ts'))};
    import { appendFileSync } from 'node:fs';
    import { setLogLevel } from ${JSON.stringify(join(ROOT, 'src/lib/log.ts'))};
    setLogLevel('WARN');
    await withLock(${JSON.stringify(lock)}, 'the test folder', async () => {
      appendFileSync(${JSON.stringify(log)}, '${tag} in\\n');
      await new Promise((r) => setTimeout(r, ${ms}));
      appendFileSync(${JSON.stringify(log)}, '${tag} out\\n');
    });`;
  const file = join(dir, `holder-${tag}.mts`);
  writeFileSync(file, script);
  return execa('node', ['--import', 'tsx', file, 'build', 'rock', tag], { reject: false, cwd: ROOT });
}

describe('the lock', () => {
  it('N concurrent holders never overlap; a waiting one says once who holds it', async () => {
    const lock = join(dir, 'locks', 'excl.lock');
    const log = join(dir, 'excl.log');
    writeFileSync(log, '');
    const n = 8;
    const runs = await Promise.all(Array.from({ length: n }, (_, i) => holder(lock, log, `r${i}`, 1000)));
    for (const r of runs) expect(r.exitCode, r.stderr).toBe(0);
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(2 * n);
    for (let i = 0; i < lines.length; i += 2) {
      expect(lines[i]!.endsWith(' in')).toBe(true);
      expect(lines[i + 1]).toBe(lines[i]!.replace(/ in$/, ' out'));
    }
    const waited = runs.filter((r) => /waiting for the lock on the test folder: held by pid \d+ \(sparkcraft build rock r\d\)/.test(r.stderr));
    expect(waited.length).toBeGreaterThan(0);
    for (const r of waited) expect(r.stderr.match(/waiting for the lock/g)).toHaveLength(1);
  }, 120_000);
  it('a SIGKILLed holder does not block the next run', async () => {
    const lock = join(dir, 'locks', 'kill.lock');
    const log = join(dir, 'kill.log');
    writeFileSync(log, '');
    const victim = holder(lock, log, 'victim', 600_000);
    for (let i = 0; i < 600 && !readFileSync(log, 'utf8').includes('victim in'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(readFileSync(log, 'utf8')).toContain('victim in');
    victim.kill('SIGKILL');
    await victim;
    const t0 = Date.now();
    const next = await holder(lock, log, 'next', 10);
    expect(next.exitCode, next.stderr).toBe(0);
    expect(readFileSync(log, 'utf8')).toBe('victim in\nnext in\nnext out\n');
    expect(Date.now() - t0).toBeLessThan(30_000); // a node start, not a wait for the dead holder
  }, 120_000);
});
