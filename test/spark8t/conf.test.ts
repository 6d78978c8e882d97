import { describe, expect, it } from 'vitest';
import { decodeKey, encodeKey, encodeKeyLegacy, decodeKeyLegacy } from '../../src/spark8t/registry/encoding.ts';
import { expandVars, mergeJavaOptions, mergeLevels, parseConfArgs, parseProperties, removeKeys, splitJavaOptions } from '../../src/spark8t/conf/properties.ts';
import { parseWrapperArgs } from '../../src/spark8t/wrappers/args.ts';
import { dns1123Label } from '../../src/lib/k8s-names.ts';
import { EDIT_ATTEMPTS, Registry, validateRef } from '../../src/spark8t/registry/registry.ts';
import { KubeApiError, type KubeClient, type KubeObject } from '../../src/spark8t/kube/client.ts';
import { toolFromName } from '../../src/spark8t/main.ts';

describe('secret key encoding (spark8t 1.6 K8sSecretKeySerializer)', () => {
  it('encodes like the reference', () => {
    // Values printed by the Python package: K8sSecretKeySerializer().serialize(...)
    expect(encodeKey('spark.a_b')).toBe('spark.a_5fb');
    expect(encodeKey('a b')).toBe('a_20b');
    expect(encodeKey('é/x')).toBe('_c3_a9_2fx');
    expect(encodeKey('spark.kubernetes.executor.podNamePrefix')).toBe('spark.kubernetes.executor.podNamePrefix');
  });
  it('decodes hex keys and falls back to the legacy percent scheme', () => {
    expect(decodeKey('a_5fb')).toBe('a_b');
    expect(decodeKey('a__b')).toBe('a_b');
    expect(decodeKey('x_zz')).toBe('x%zz');
    expect(decodeKey('a_')).toBe('a%');
    expect(decodeKeyLegacy(encodeKeyLegacy('a b_c'))).toBe('a b_c');
    for (const k of ['spark.x', 'a=b', 'ü€', 'a_b_c', '--x..y']) {
      expect(decodeKey(encodeKey(k))).toBe(k);
      expect(encodeKey(k)).toMatch(/^[-._a-zA-Z0-9]+$/);
    }
  });
});

describe('properties', () => {
  it('parses files as spark8t does: key ends at = or space, value after the first =', () => {
    const p = parseProperties('# c\n\nspark.a=1\nspark.b = x=y \nspark.c x=1\nspark.d=${HOME}/w\n', { HOME: '/h' });
    expect([...p]).toEqual([
      ['spark.a', '1'],
      ['spark.b', 'x=y'],
      ['spark.c', '1'],
      ['spark.d', '/h/w'],
    ]);
  });
  it("a line without = is read in Spark's key value form (the reference crashes); a line without a key names the file and line", () => {
    expect([...parseProperties('a=1\nspark.c $HOME/z\n', { HOME: '/h' }, 'f.conf')]).toEqual([
      ['a', '1'],
      ['spark.c', '/h/z'],
    ]);
    expect(() => parseProperties('a=1\n=x\n', {}, 'f.conf')).toThrow('f.conf:2: no key before the "="');
  });
  it('expands known variables and leaves unknown ones', () => {
    expect(expandVars('$A-${B}-$C', { A: '1', B: '2' })).toBe('1-2-$C');
  });
  it('--conf values may contain = and are expanded; a missing = is a usage error', () => {
    expect(parseConfArgs(['k=a=b', 'u=$U'], { U: 'x' })).toEqual(
      new Map([
        ['k', 'a=b'],
        ['u', 'x'],
      ]),
    );
    expect(() => parseConfArgs(['novalue'])).toThrow('--conf novalue: no "=" between the key and its value');
  });
  it('merges JavaOptions keeping non -D options and quoted values', () => {
    expect(splitJavaOptions('-Da="x y" -XX:+UseG1GC  \'-Db=c d\'')).toEqual(['-Da="x y"', '-XX:+UseG1GC', "'-Db=c d'"]);
    expect(mergeJavaOptions(['-Da=1 -XX:+UseG1GC -Dq="p q"', '-Da=2 -verbose:gc'])).toBe('-Da=2 -XX:+UseG1GC -Dq="p q" -verbose:gc');
    const m = mergeLevels([
      new Map([
        ['spark.driver.extraJavaOptions', '-Dx=1 -XX:+UseG1GC'],
        ['k', 'low'],
      ]),
      new Map([
        ['spark.driver.extraJavaOptions', '-Dy="a b"'],
        ['k', 'high'],
      ]),
    ]);
    expect(m.get('spark.driver.extraJavaOptions')).toBe('-Dx=1 -XX:+UseG1GC -Dy="a b"');
    expect(m.get('k')).toBe('high');
  });
  it('remove-config removes KEY, and KEY=VALUE only on a match', () => {
    const p = new Map([
      ['a', '1'],
      ['b', '2'],
    ]);
    expect([...removeKeys(p, ['a=9', 'b'])]).toEqual([['a', '1']]);
    expect([...removeKeys(p, ['a=1'])]).toEqual([['b', '2']]);
  });
});

describe('names and dispatch', () => {
  it('validates DNS-1123 names before any request', () => {
    expect(dns1123Label('ok-1')).toBeUndefined();
    expect(dns1123Label('Bad_Name')).toMatch(/lower case/);
    expect(() => validateRef({ name: 'UPPER', namespace: 'ns' })).toThrow(/invalid username "UPPER"/);
    expect(() => validateRef({ name: 'ok', namespace: 'a.b' })).toThrow(/namespace "a.b"/);
  });
  it('dispatches on the called name, with or without the snap prefix', () => {
    expect(toolFromName('/x/spark-client.spark-submit')).toBe('spark-submit');
    expect(toolFromName('service-account-registry')).toBe('service-account-registry');
    expect(toolFromName('/usr/bin/spark8t')).toBeUndefined();
  });
  it('keeps the application arguments of spark-submit untouched', () => {
    const a = parseWrapperArgs(['--username', 'u', '--class', 'Main', '--conf', 'a=1', 'app.jar', '--conf', 'b=2', 'x y'], 'spark-submit');
    expect(a.username).toBe('u');
    expect(a.conf).toEqual(['a=1']);
    expect(a.rest).toEqual(['--class', 'Main', 'app.jar', '--conf', 'b=2', 'x y']);
    expect(() => parseWrapperArgs(['--deploy-mode', 'nope'], 'spark-submit')).toThrow(/client or cluster/);
  });
});

describe('config edits: optimistic concurrency (a stand-in API that answers 409 as the real one does)', () => {
  /** A Secret store with resourceVersions; `others` edits land between our read and our write. */
  function fakeApi(others: Array<(data: Record<string, string>) => void>) {
    let rv = 1;
    let data: Record<string, string> = { x: Buffer.from('0').toString('base64') };
    const puts: string[] = [];
    const api = {
      async find(): Promise<KubeObject> {
        const read = { metadata: { name: 'spark8t-sa-conf-u', namespace: 'ns', resourceVersion: String(rv) }, data: { ...data } };
        const other = others.shift();
        if (other) other(data), rv++;
        return read;
      },
      async replace(_kind: string, obj: KubeObject): Promise<KubeObject> {
        puts.push(String(obj.metadata.resourceVersion));
        if (obj.metadata.resourceVersion !== String(rv)) throw new KubeApiError(409, 'Conflict', 'Kubernetes API conflict', 'retry');
        data = obj.data as Record<string, string>;
        rv++;
        return obj;
      },
    };
    return {
      reg: new Registry(api as unknown as KubeClient),
      puts,
      stored: () => Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()])),
    };
  }
  const b64 = (s: string) => Buffer.from(s).toString('base64');

  it("writes with the resourceVersion read; on 409 reads again and re-applies the edit, keeping the other run's key", async () => {
    const f = fakeApi([(d) => (d.other1 = b64('1')), (d) => (d.other2 = b64('2'))]);
    await f.reg.editConfig({ name: 'u', namespace: 'ns' }, (p) => new Map([...p, ['mine', 'm']]));
    expect(f.puts).toEqual(['1', '2', '3']);
    expect(f.stored()).toEqual({ x: '0', other1: '1', other2: '2', mine: 'm' });
  });

  it(`gives up after ${EDIT_ATTEMPTS} conflicts with one line, writing nothing`, async () => {
    const f = fakeApi(Array.from({ length: 100 }, (_, i) => (d: Record<string, string>) => (d[`o${i}`] = b64('o'))));
    let calls = 0;
    await expect(
      f.reg.editConfig({ name: 'u', namespace: 'ns' }, (p) => {
        calls++;
        return new Map([...p, ['mine', 'm']]);
      }),
    ).rejects.toThrow(`the configuration of account ns:u kept changing during this edit (${EDIT_ATTEMPTS} attempts); this edit was not applied`);
    expect(calls).toBe(EDIT_ATTEMPTS);
    expect(f.stored().mine).toBeUndefined();
  }, 20_000);
});
