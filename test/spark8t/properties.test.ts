/**
 * Properties files in and out, checked against the two programs that read them: the Python spark8t
 * 1.6 reference (its own parser, run from its venv) for the user's files, and Java's
 * `java.util.Properties.load` (what Spark reads its --properties-file with) for the file handed to Spark.
 * No cluster: a JDK and the reference's venv (scripts/setup.d/30-spark8t-py.sh) are all it needs.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatProperties, parseConfArgs, parseProperties, readProperties } from '../../src/spark8t/conf/properties.ts';
import { ROOT } from '../support/k8s.ts';
import { CACHE } from './support.ts';

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
let dir: string;

/** Java's reading of each file: a list of [key, value] (sorted by key), or the exception's class. */
const JAVA_DUMP = `
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;
public class PropsDump {
  public static void main(String[] files) throws Exception {
    Base64.Encoder b = Base64.getEncoder();
    for (String f : files) {
      System.out.println("FILE");
      Properties p = new Properties();
      // As Spark's Utils.getPropertiesFromFile: a UTF-8 reader handed to Properties.load.
      try (Reader r = new InputStreamReader(new FileInputStream(f), StandardCharsets.UTF_8)) {
        p.load(r);
      } catch (IllegalArgumentException e) {
        System.out.println("ERROR " + e.getClass().getName());
        continue;
      }
      for (String k : new TreeSet<>(p.stringPropertyNames()))
        System.out.println(b.encodeToString(k.getBytes(StandardCharsets.UTF_8)) + " " + b.encodeToString(p.getProperty(k).getBytes(StandardCharsets.UTF_8)));
    }
  }
}
`;

type Read = Array<[string, string]> | { error: string };

async function javaLoad(texts: string[]): Promise<Read[]> {
  const files = texts.map((t, i) => {
    const f = join(dir, `java-${i}.properties`);
    writeFileSync(f, t);
    return f;
  });
  const src = join(dir, 'PropsDump.java');
  writeFileSync(src, JAVA_DUMP);
  // Java 11+ runs a single source file directly: no class file to keep.
  const r = await execa('java', [src, ...files]);
  const out: Read[] = [];
  for (const line of r.stdout.split('\n')) {
    if (line === 'FILE') out.push([]);
    else if (line.startsWith('ERROR ')) out[out.length - 1] = { error: line.slice(6) };
    else if (line) {
      const [k, v] = line.split(' ').map((s) => Buffer.from(s, 'base64').toString('utf8'));
      (out[out.length - 1] as Array<[string, string]>).push([k!, v!]);
    }
  }
  expect(out).toHaveLength(texts.length);
  return out;
}

const PY = join(CACHE, 'venv-spark8t', 'bin', 'python');
/** The reference's PropertyFile.read on each file: its properties, or the exception's class. */
async function referenceRead(texts: string[], env: Record<string, string> = {}): Promise<Read[]> {
  if (!existsSync(PY)) await execa('bash', [join(ROOT, 'scripts/setup.d/30-spark8t-py.sh')]);
  const files = texts.map((t, i) => {
    const f = join(dir, `py-${i}.conf`);
    writeFileSync(f, t);
    return f;
  });
  const script = [
    'import json, sys',
    'from spark8t.utils import PropertyFile',
    'out = []',
    'for f in sys.argv[1:]:',
    '    try: out.append(sorted(PropertyFile.read(f).props.items()))',
    '    except Exception as e: out.append({"error": type(e).__name__})',
    'print(json.dumps(out))',
  ].join('\n');
  const r = await execa(PY, ['-c', script, ...files], { env: { PYTHONIOENCODING: 'utf-8', LC_ALL: 'C.UTF-8', ...env }, extendEnv: false });
  return JSON.parse(r.stdout) as Read[];
}

function oursRead(text: string, env: Record<string, string> = {}): Read {
  try {
    return [...parseProperties(text, env, 'f.conf')].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  } catch (e) {
    return { error: (e as Error).message };
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'props-'));
});

describe('a malformed properties line', () => {
  it('is refused naming the file, line and key, never the value', () => {
    for (const [text, where] of [
      [`a=1\n=${SECRET}\n`, 'f.conf:2'],
      [`# c\n:${SECRET}\n`, 'f.conf:2'],
    ] as const) {
      let msg = '';
      try {
        parseProperties(text, {}, 'f.conf');
      } catch (e) {
        msg = (e as Error).message;
      }
      expect(msg).toContain(where);
      expect(msg).toContain('no key');
      expect(msg).not.toContain(SECRET);
    }
  });
  it('--conf without "=" is a usage error that names the key and not the value (Spark refuses it too)', () => {
    for (const arg of [`spark.hadoop.fs.s3a.secret.key:${SECRET}`, `spark.hadoop.fs.s3a.secret.key ${SECRET}`]) {
      let err: { message: string; exitCode: number } | undefined;
      try {
        parseConfArgs([arg], {});
      } catch (e) {
        err = e as never;
      }
      expect(err?.exitCode).toBe(2);
      expect(err?.message).toContain('spark.hadoop.fs.s3a.secret.key');
      expect(err?.message).not.toContain(SECRET);
    }
    expect(() => parseConfArgs([`=${SECRET}`], {})).toThrow(/no key/);
    expect(() => parseConfArgs([`=${SECRET}`], {})).not.toThrow(SECRET);
  });
  it('an unreadable file names the file', () => {
    expect(() => readProperties(join(dir, 'absent.conf'))).toThrow(/absent\.conf \(ENOENT\)/);
  });
});

describe("Spark's own key value and key:value forms (java.util.Properties), which the reference refuses", () => {
  it('parse as Spark reads them', () => {
    const p = parseProperties(
      [
        `spark.hadoop.fs.s3a.secret.key   ${SECRET}`,
        'spark.master\tspark://m:7077',
        'spark.a:1',
        'spark.b : two words ',
        '  spark.c',
        '! a Java comment',
        'spark.d=x=y',
      ].join('\n'),
      {},
      'f.conf',
    );
    expect([...p]).toEqual([
      ['spark.hadoop.fs.s3a.secret.key', SECRET],
      ['spark.master', 'spark://m:7077'],
      ['spark.a', '1'],
      ['spark.b', 'two words'],
      ['spark.c', ''],
      ['spark.d', 'x=y'],
    ]);
  });
});

/**
 * Lines as users write them. Each is read by ours, by the reference and by Java. Where the reference
 * reads it, ours must agree with the reference; where the reference fails, ours must agree with Java
 * (Spark's own reading). The exceptions are listed in DIFFERENCES, and in the README.
 */
const LINES = [
  'spark.a=1',
  'spark.a = 1 ',
  'spark.a =x=y',
  'spark.a x=1',
  'spark.a\t=1',
  'spark.a=$HOME/x',
  'spark.a=${HOME}/x',
  'spark.a=$NOPE',
  'spark.a=',
  '!spark.a=1',
  '#spark.a=1',
  '  # spark.a=1',
  'spark.a=C:\\temp',
  'spark.a=é€😀',
  'spark.a 1',
  'spark.a   two words',
  'spark.a:1',
  'spark.a : 1',
  'spark.a\t1',
  'spark.a',
  '! comment',
  'spark.a=1\r',
  'spark.a:x:y',
  'spark.a:=1',
  '=1',
];
/** Lines where ours differs on purpose from both readings above: ours refuses them. */
const DIFFERENCES: Record<string, string> = {
  '=1': 'no key: the reference takes the value as the key (key "1"), Java an empty key; ours refuses the line',
};

describe('ours, the Python reference and java.util.Properties on the same files', () => {
  it('where the reference reads a line ours reads it the same; where it fails ours reads it as Java does', async () => {
    const env = { HOME: '/h' };
    const texts = LINES.map((l) => `${l}\n`);
    const [ref, java] = await Promise.all([referenceRead(texts, env), javaLoad(texts)]);
    const table = LINES.map((line, i) => ({ line, ours: oursRead(texts[i]!, env), ref: ref[i]!, java: java[i]! }));
    for (const row of table) {
      if (row.line in DIFFERENCES) {
        expect(row.ours, row.line).toMatchObject({ error: expect.stringContaining('no key') });
        continue;
      }
      const refFailed = !Array.isArray(row.ref);
      expect(row.ours, `${JSON.stringify(row.line)} (reference ${JSON.stringify(row.ref)}, Java ${JSON.stringify(row.java)})`).toEqual(
        refFailed ? row.java : row.ref,
      );
    }
    // The comparison has cases of both kinds, and the reference really fails on Spark's forms.
    const refFails = table.filter((r) => !Array.isArray(r.ref)).map((r) => r.line);
    expect(refFails).toEqual(expect.arrayContaining(['spark.a 1', 'spark.a:1', 'spark.a', '! comment']));
    expect(refFails.length).toBeLessThan(LINES.length / 2);
  }, 120_000);
});

describe('the properties file handed to Spark', () => {
  /** Keys and values that break an unescaped key=value file. */
  const TRICKY: Array<[string, string]> = [
    ['spark.a', 'C:\\temp\\new'],
    ['spark.b', 'ends-with-backslash\\'],
    ['spark.c', 'after'],
    ['spark.d', 'x\nspark.injected=yes'],
    ['spark.e', 'x\r\ny\tz\f'],
    ['spark.f', 'a=b:c #d !e'],
    ['spark.g', '#starts with hash'],
    ['spark.h', '!starts with bang'],
    ['spark.i', '=starts with equals'],
    ['spark.j', ':starts with colon'],
    ['spark.k', 'é€😀 ünïcödé'],
    ['spark.l', '\\u0041 is not A'],
    ['spark.m', 'a\\\\b'],
    ['spark.n', ''],
    ['key with spaces', 'v'],
    ['key=with=equals', 'v'],
    ['key:with:colons', 'v'],
    ['#hash-key', 'v'],
    ['!bang-key', 'v'],
    ['back\\slash\\key', 'v'],
    ['ключ', 'значение'],
    ['spark.driver.extraJavaOptions', '-Dx="a b" -XX:+UseG1GC'],
  ];
  it('is read back by java.util.Properties exactly as written, whatever the keys and values hold', async () => {
    const text = formatProperties(new Map(TRICKY));
    const [back] = await javaLoad([text]);
    const want = [...TRICKY].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    expect(back).toEqual(want);
  }, 60_000);
  it('is one line per property, plain ASCII', () => {
    const text = formatProperties(new Map(TRICKY));
    expect(text.split('\n').filter(Boolean)).toHaveLength(TRICKY.length);
    expect(text).toMatch(/^[\x20-\x7e\n]*$/);
    expect(formatProperties(new Map([['spark.a', 'C:\\temp\\new']]))).toBe('spark.a=C:\\\\temp\\\\new\n');
    // Separators inside a value need no escape (only a key's are); the Java round trip above checks it.
    expect(formatProperties(new Map([['spark.driver.extraJavaOptions', '-Da=b -Dc:d']]))).toBe('spark.driver.extraJavaOptions=-Da=b -Dc:d\n');
    expect(formatProperties(new Map([['a=b c', ' v']]))).toBe('a\\=b\\ c=\\ v\n');
  });
});
