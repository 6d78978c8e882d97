/** The JSON Schema formats of src/config/formats.ts: what each accepts and refuses, directly and through Ajv. */
import { describe, expect, it } from 'vitest';
import { Ajv } from 'ajv';
import { addSparkcraftFormats, FORMATS } from '../src/config/formats.ts';

const table: Record<string, { ok: string[]; bad: string[] }> = {
  'sha256-hex': { ok: ['a'.repeat(64), '0123456789abcdef'.repeat(4)], bad: ['A'.repeat(64), 'a'.repeat(63), `${'a'.repeat(64)}\n`, '../../../etc/passwd', ''] },
  'maven-group': { ok: ['org.apache.hadoop', 'com.nvidia', 'software.amazon.awssdk'], bad: ['..', 'org/apache', 'org..apache', '.org', '', 'a b'] },
  'maven-artifact': { ok: ['rapids-4-spark_2.12', 'iceberg-spark-runtime-3.4_2.12', 'aws-java-sdk-bundle'], bad: ['../x', 'a/b', '-x', ''] },
  'maven-version': { ok: ['1.12.262', '25.04.0', '2.0.0-SNAPSHOT', '1.0+build'], bad: ['1.0.1/../../x', '..', '1.0 ', '$(id)', ''] },
  'maven-name': { ok: ['org.apache.hadoop:hadoop-aws', 'com.nvidia:rapids-4-spark_2.13'], bad: ['org.apache.hadoop', 'a:b:c', 'a:../b', ':b'] },
  'pep440-version': {
    ok: ['3.5.9', '2026.10.19.post1', '1.0rc1', '1.0.dev3', '1!2.0', '1.0+local.7', 'v1.0', '1.0-1', '4.0.0.dev1'],
    bad: ['4.6.6" ; touch x; echo "', '1.0 ', '1..0', 'latest', '', '1.0\n'],
  },
  'python-name': { ok: ['pyspark', 'jupyter-server', 'typing_extensions', 'A.b'], bad: ['-x', 'x-', 'a/b', 'a b', ''] },
  'go-module-path': {
    ok: ['github.com/canonical/pebble', 'golang.org/x/mod', 'example.com/A/b~c'],
    bad: ['pebble', '../pebble', 'github.com/../x', 'github.com/x/', 'GitHub.com/x', 'github.com/x y', 'github.com/x\n'],
  },
  'go-version': { ok: ['v1.26.0', 'v0.0.0-20240101000000-abcdef123456', 'v2.0.0+incompatible'], bad: ['1.26.0', 'v1.26', 'v1.26.0 ', 'v01.2.3'] },
  'oci-repository': {
    ok: ['ubuntu', 'ghcr.io/canonical/charmed-spark', 'localhost:5000/a/b', '127.0.0.1:5000/x'],
    bad: ['Ubuntu', 'a//b', 'ghcr.io/x:tag', '-x', ''],
  },
  'oci-tag': { ok: ['3.5.9-22.04_edge', 'latest', '_x'], bad: ['-x', '.x', 'a/b', 'x'.repeat(129), ''] },
  'oci-digest': { ok: [`sha256:${'a'.repeat(64)}`], bad: ['sha256:xyz', `:${'a'.repeat(64)}`] },
  'oci-reference': {
    ok: ['ghcr.io/canonical/charmed-spark:3.5.9', `ubuntu@sha256:${'a'.repeat(64)}`, 'localhost:5000/a:b', 'charmed-spark'],
    bad: ['ghcr.io/x:ta g', 'x;rm -rf /', 'ghcr.io/X/y', 'a:b:c', ''],
  },
  'path-segment': { ok: ['hadoop-aws-3.3.4.jar', 'a_b+c'], bad: ['.', '..', '.hidden', '-rf', 'a/b', 'a\0b', ''] },
};

describe('formats', () => {
  for (const [name, { ok, bad }] of Object.entries(table)) {
    it(`${name}: accepts ${ok.length}, refuses ${bad.length}`, () => {
      for (const s of ok) expect(FORMATS[name]!(s), JSON.stringify(s)).toBe(true);
      for (const s of bad) expect(FORMATS[name]!(s), JSON.stringify(s)).toBe(false);
    });
  }
  it('every format is in the table, and all are registered on an Ajv instance (strict mode knows them)', () => {
    expect(Object.keys(FORMATS).sort()).toEqual(Object.keys(table).sort());
    const ajv = addSparkcraftFormats(new Ajv({ strict: true }));
    const v = ajv.compile({ type: 'object', properties: { d: { type: 'string', format: 'sha256-hex' }, r: { type: 'string', format: 'oci-reference' } } });
    expect(v({ d: 'a'.repeat(64), r: 'ghcr.io/a/b:1' })).toBe(true);
    expect(v({ d: 'A'.repeat(64) })).toBe(false);
    expect(v.errors?.[0]).toMatchObject({ instancePath: '/d', keyword: 'format', params: { format: 'sha256-hex' } });
  });
});
