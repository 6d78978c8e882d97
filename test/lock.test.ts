/** The lock's cross-check of a downloaded jar with the .sha1 beside it, against a loopback server. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { checkMavenSha1, keyPath, validateLock, type LockFile } from '../src/stage/lock.ts';
import { stage } from '../src/pipeline.ts';
import { workspace } from '../src/lib/workspace.ts';
import { UserError } from '../src/lib/errors.ts';
import { ROOT } from './support/k8s.ts';

const jar = join(mkdtempSync(join(tmpdir(), 'lock-sha1-')), 'a.jar');
// Bigger than one read chunk, so that the streamed digest covers several.
const body = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
const sha1 = createHash('sha1').update(body).digest('hex');
let server: Server;
let base: string;

beforeAll(async () => {
  writeFileSync(jar, body);
  server = createServer((req, res) => {
    if (req.url === '/good.jar.sha1') res.end(`${sha1}  good.jar\n`);
    else if (req.url === '/bad.jar.sha1') res.end('0'.repeat(40));
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('checkMavenSha1', () => {
  it('accepts a jar whose sha1 is the one served beside it (a "sum  name" line)', async () => {
    await expect(checkMavenSha1('maven:x', `${base}/good.jar`, jar)).resolves.toBeUndefined();
  });
  it('refuses one whose sha1 differs, naming both', async () => {
    await expect(checkMavenSha1('maven:x', `${base}/bad.jar`, jar)).rejects.toMatchObject({
      code: 'E_CHECKSUM',
      message: `maven:x: sha1 ${sha1} differs from Maven Central's ${'0'.repeat(40)}`,
    });
  });
  it('accepts one without a .sha1 (nothing to cross-check)', async () => {
    await expect(checkMavenSha1('maven:x', `${base}/none.jar`, jar)).resolves.toBeUndefined();
  });
});

/**
 * A crafted lock is refused by type before anything is downloaded or touched: each value in one line
 * naming its key path, with a loopback server counting requests (none) and a file outside the cache
 * that a `sha256` of `../../..` once deleted (kept).
 */
describe('a crafted lock file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lock-crafted-'));
  const root = join(dir, 'root');
  const cache = join(dir, 'cache');
  const victim = join(dir, 'victim.txt');
  const spark8t = join(dir, 'spark8t');
  let requests = 0;
  let srv: Server;
  let loop = '';
  const good = JSON.parse(readFileSync(join(ROOT, 'sparkcraft.lock.json'), 'utf8')) as LockFile;
  const spark = 'pypi:pyspark@3.5.9';
  const jmx = 'maven:io.prometheus.jmx:jmx_prometheus_javaagent@1.0.1';
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  beforeAll(async () => {
    mkdirSync(root);
    mkdirSync(cache);
    for (const n of ['matrix.yaml', 'templates']) symlinkSync(join(ROOT, n), join(root, n));
    writeFileSync(victim, 'not the cache\n');
    writeFileSync(spark8t, '#!/bin/sh\n');
    srv = createServer((_, res) => {
      requests++;
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    loop = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((r) => srv.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  // What each crafted value is, and the key path its one line must name.
  const cases: Array<[string, (l: LockFile) => void, RegExp]> = [
    [
      'a pure wheel given an architecture in its id (a platform wheel is the only one that names one)',
      (l) => {
        const w = 'wheel:jupyterlab@4.6.6';
        const i = l.inputs[w]!;
        delete l.inputs[w];
        l.inputs[`${w}+amd64`] = { ...i, id: `${w}+amd64` };
      },
      /inputs\["wheel:jupyterlab@4\.6\.6\+amd64"\]\.id names "amd64", not an architecture of a platform wheel/,
    ],
    [
      "a jar's id naming a classifier its URL's file does not carry (the plain x86_64 jar passed off as the arm64 one)",
      (l) => {
        const arm = 'maven:com.nvidia:rapids-4-spark_2.12@25.04.0+cuda12-arm64';
        l.inputs[arm]!.url = l.inputs['maven:com.nvidia:rapids-4-spark_2.12@25.04.0']!.url;
      },
      /inputs\["maven:com\.nvidia:rapids-4-spark_2\.12@25\.04\.0\+cuda12-arm64"\]\.id names the classifier "cuda12-arm64", which its url's file does not carry/,
    ],
    [
      'a sha256 that is a path out of the cache',
      (l) => (l.inputs[spark]!.sha256 = relative(join(cache, 'downloads', 'sha256'), victim)),
      new RegExp(`inputs\\["${esc(spark)}"\\]\\.sha256 is not a sha256-hex`),
    ],
    [
      'an upper-case sha256',
      (l) => (l.inputs[spark]!.sha256 = l.inputs[spark]!.sha256.toUpperCase()),
      /inputs\["pypi:pyspark@3\.5\.9"\]\.sha256 is not a sha256-hex/,
    ],
    [
      'a maven version that climbs out of jars/',
      (l) => (l.inputs[jmx]!.version = '1.0.1/../../../../escaped'),
      new RegExp(`inputs\\["${esc(jmx)}"\\]\\.version is not a maven-version`),
    ],
    [
      'a maven name with a path in it',
      (l) => (l.inputs[jmx]!.name = 'io.prometheus.jmx:../../x'),
      new RegExp(`inputs\\["${esc(jmx)}"\\]\\.name is not a maven-name`),
    ],
    [
      'a pypi version with a shell command in it',
      (l) => (l.inputs[spark]!.version = '3.5.9" ; touch /tmp/x; echo "'),
      /inputs\["pypi:pyspark@3\.5\.9"\]\.version is not a pep440-version/,
    ],
    [
      'a download URL that is plain http on a loopback port',
      (l) => (l.inputs[spark]!.url = `${loop}/pyspark.tar.gz`),
      /inputs\["pypi:pyspark@3\.5\.9"\]\.url does not match/,
    ],
    [
      'an https URL on a host no input comes from',
      (l) => (l.inputs[jmx]!.url = 'https://evil.example/jmx.jar'),
      new RegExp(`inputs\\["${esc(jmx)}"\\]\\.url does not match \\^https://repo1`),
    ],
    [
      'a go module path that is not one',
      (l) => (l.inputs['go:github.com/canonical/pebble@v1.26.0']!.name = '../pebble'),
      /inputs\["go:github\.com\/canonical\/pebble@v1\.26\.0"\]\.name is not a go-module-path/,
    ],
    [
      'an id that is not its key',
      (l) => (l.inputs[spark]!.id = 'pypi:pyspark@3.5.8'),
      /inputs\["pypi:pyspark@3\.5\.9"\]\.id is "pypi:pyspark@3\.5\.8", not its key/,
    ],
    [
      'an unknown field',
      (l) => ((l.inputs[spark] as unknown as Record<string, string>).path = '/etc'),
      /inputs\["pypi:pyspark@3\.5\.9"\] has an unknown key "path"/,
    ],
    [
      'a sha256 that is not a string',
      (l) => ((l.inputs[spark] as unknown as Record<string, unknown>).sha256 = 42),
      /inputs\["pypi:pyspark@3\.5\.9"\]\.sha256 must be string: 42/,
    ],
    ['a line list that is not a list', (l) => ((l.lines as unknown as Record<string, unknown>)['3.5'] = 'pypi:pyspark@3.5.9'), /lines\["3\.5"\] must be array/],
  ];
  for (const [what, craft, names] of cases) {
    it(`refuses ${what} in one line naming its key path; nothing is downloaded and nothing outside the cache is touched`, async () => {
      const lock = structuredClone(good);
      craft(lock);
      const file = join(dir, 'lock.json');
      writeFileSync(file, JSON.stringify(lock, null, 2));
      const err = await stage({ line: '3.5', lockFile: file, spark8t }, workspace(root, { cache })).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(UserError);
      const line = (err as UserError).oneLine();
      expect(line).not.toContain('\n');
      expect(line).toMatch(new RegExp(`^lock file ${esc(file)}: `));
      expect(line).toMatch(names);
      expect(requests).toBe(0);
      expect(readFileSync(victim, 'utf8')).toBe('not the cache\n');
      expect(existsSync(join(dir, 'escaped'))).toBe(false);
      expect(readdirSync(cache).filter((n) => n !== 'sha256' && n !== 'downloads')).toEqual([]);
      expect(existsSync(join(cache, 'downloads', 'sha256')) ? readdirSync(join(cache, 'downloads', 'sha256')) : []).toEqual([]);
    });
  }
  it('the checkout lock passes, and so does a wheel, a go module and a PEP 440 post-release', () => {
    expect(Object.keys(validateLock(good, 'sparkcraft.lock.json').inputs).length).toBe(Object.keys(good.inputs).length);
    expect(good.inputs['wheel:certifi@2026.10.19.post1']).toBeDefined();
  });
  it('names the key path of any JSON pointer, escaped keys included', () => {
    expect(keyPath('/inputs/go:github.com~1x~1y@v1.0.0/sha256')).toBe('inputs["go:github.com/x/y@v1.0.0"].sha256');
    expect(keyPath('/lines/3.5/0')).toBe('lines["3.5"][0]');
    expect(keyPath('')).toBe('(the top level)');
  });
});
