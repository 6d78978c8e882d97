/** SOURCE_DATE_EPOCH's one reading (src/lib/epoch.ts) and the workspace made from an environment (pure). */
import { describe, expect, it } from 'vitest';
import { parseSourceDateEpoch } from '../src/lib/epoch.ts';
import { workspace } from '../src/lib/workspace.ts';

describe('SOURCE_DATE_EPOCH', () => {
  it('unset or empty is none; a whole number of seconds is that number', () => {
    expect(parseSourceDateEpoch(undefined)).toBeUndefined();
    expect(parseSourceDateEpoch('')).toBeUndefined();
    expect(parseSourceDateEpoch('1234567')).toBe(1234567);
  });
  it('anything else is refused with one line (the stage and the rock used to read it by two rules)', () => {
    for (const v of ['0', '-5', '1.5', 'soon', '12abc'])
      expect(() => parseSourceDateEpoch(v), v).toThrow(expect.objectContaining({ code: 'E_SOURCE_DATE_EPOCH' }));
  });
});

describe('the workspace', () => {
  it('takes its cache and epoch from the environment it is given, once; overrides win', () => {
    const ws = workspace('/x', {}, { SPARKCRAFT_CACHE: '/c', SOURCE_DATE_EPOCH: '42' });
    expect([ws.root, ws.cache, ws.sourceDateEpoch]).toEqual(['/x', '/c', 42]);
    expect(workspace('/x', {}, { XDG_CACHE_HOME: '/xdg' }).cache).toBe('/xdg/sparkcraft');
    expect(workspace('/x', {}, { HOME: '/h', XDG_CACHE_HOME: '' }).sourceDateEpoch).toBeUndefined();
    const own = workspace('/x', { cache: '/mine', sourceDateEpoch: undefined }, { SPARKCRAFT_CACHE: '/c', SOURCE_DATE_EPOCH: '42' });
    expect([own.cache, own.sourceDateEpoch]).toEqual(['/mine', undefined]);
  });
});
