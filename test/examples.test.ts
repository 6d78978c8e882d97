import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadMatrix, resolveLine } from '../src/config/matrix.ts';
import { loadTemplates, renderLine } from '../src/render/render.ts';
import { planRock, scriptletOf, treeKey, type RockManifest } from '../src/pack/rock.ts';
import { runScriptlet } from '../src/pack/scriptlet.ts';
import { build } from '../src/pipeline.ts';
import { stage } from '../src/pipeline.ts';
import { workspace } from '../src/lib/workspace.ts';
type StageResult = Awaited<ReturnType<typeof stage>>;
import { RockRunner } from '../src/smoke/runner.ts';
import { sparkPiFromExamplesJar } from '../src/smoke/checks.ts';

const matrix = loadMatrix();
const templates = loadTemplates();
const manifestOf = (track: string) =>
  parse(renderLine(resolveLine(matrix, { line: track }), templates).find((f) => f.path === 'rockcraft.yaml')!.content) as RockManifest;
const sha256 = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
const temps: string[] = [];
const temp = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  temps.push(d);
  return d;
};
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

/** Build the examples jar of a staged line with the manifest's own part, in `cache`. */
async function buildJar(st: StageResult, epoch: number | undefined, cache = join(workspace().cache, 'parts')) {
  const m = parse(await readFile(join(st.dir, 'rockcraft.yaml'), 'utf8')) as RockManifest;
  const plan = planRock(m);
  const part = plan.parts.find((p) => p.name === 'spark-examples')!;
  const run = await runScriptlet(
    scriptletOf(part, plan, st.dir),
    { sourceDateEpoch: epoch === undefined ? undefined : String(epoch), project: plan.name, version: plan.version },
    treeKey,
    { arch: st.resolved.arch, java: st.resolved.java },
    cache,
  );
  return { ...run, jar: join(run.install, st.resolved.paths.examplesJar) };
}

/** spark-submit of the staged Spark on this host, local mode, on loopback. */
function sparkSubmit(st: StageResult, args: string[]) {
  const home = join(st.inputs, 'spark');
  return execa(join(home, 'bin', 'spark-submit'), ['--master', 'local[2]', ...args], {
    env: { SPARK_HOME: home, JAVA_HOME: `/usr/lib/jvm/java-${Math.min(...st.resolved.line.java)}-openjdk-amd64`, SPARK_LOCAL_IP: '127.0.0.1' },
    reject: false,
    all: true,
    timeout: 600_000,
  });
}

describe('the examples jar in the manifests (pure)', () => {
  it('is named after each line of the matrix', () => {
    for (const line of matrix.lines)
      for (const flavour of [undefined, ...line.flavours]) {
        const jar = resolveLine(matrix, { line: line.track, flavour }).paths.examplesJar;
        expect(jar).toBe(`/opt/spark/examples/jars/spark-examples_${line.scala}-${line.spark}.jar`);
      }
  });
  it("every line's rockcraft.yaml builds it in a nil part (javac + jar, the line's lowest JDK as build-package), which the built-in plan runs", () => {
    for (const line of matrix.lines) {
      const m = manifestOf(line.track);
      // Every Java variant of a line gets the same jar: compiled by, and for, its lowest Java.
      const lowest = Math.min(...line.java);
      const part = m.parts['spark-examples']!;
      expect(part).toMatchObject({ plugin: 'nil', source: 'inputs/examples', after: ['spark'], 'build-packages': [`openjdk-${lowest}-jdk-headless`] });
      expect(part['override-build']).toContain(`javac --release ${lowest} `);
      expect(part['override-build']).toContain(`/usr/lib/jvm/java-${lowest}-openjdk-$CRAFT_ARCH_BUILD_ON/bin`);
      expect(part['override-build']).toContain(`jar --create --file "$CRAFT_PART_INSTALL${resolveLine(matrix, { line: line.track }).paths.examplesJar}"`);
      const planned = planRock(m).parts.find((p) => p.name === 'spark-examples');
      expect(planned).toMatchObject({
        source: 'inputs/examples',
        prefix: '',
        build: { after: ['spark'], packages: [`openjdk-${lowest}-jdk-headless`], script: part['override-build'] },
      });
      expect(scriptletOf(planned!, planRock(m), '/b').stage).toEqual([{ at: 'opt/spark', dir: '/b/inputs/spark' }]);
    }
  });
  it('refuses what it would not run as craft-parts does: override-build of a dump part, an after that is not a part', () => {
    const m = manifestOf(matrix.defaultLine);
    expect(() => planRock({ ...m, parts: { x: { plugin: 'dump', source: '.', 'override-build': 'true' } } })).toThrow(
      /part x overrides the dump plugin's build/,
    );
    const plan = planRock({ ...m, parts: { x: { plugin: 'nil', source: '.', 'override-build': 'true', after: ['nope'] } } });
    expect(() => scriptletOf(plan.parts[0]!, plan, '/b')).toThrow(/part x comes after nope, which is not a part/);
  });
});

describe('the examples jar, compiled with javac against the staged Spark jars', () => {
  let st: StageResult;
  beforeAll(async () => {
    st = await stage();
  }, 1_200_000);

  it('is reproducible: two fresh builds give the same bytes; entries sorted, every time the epoch; cached by its inputs', async () => {
    // Each cache in a folder of its own: a part's build lock lives beside its cache (cacheLock), so two
    // caches side by side in the temporary folder would share it and the two builds would wait for each other.
    const caches = [join(temp('parts-a-'), 'parts'), join(temp('parts-b-'), 'parts')];
    {
      const epoch = 1_700_000_000;
      const entries = async (jar: string) => {
        const list = await execa('jar', ['tvf', jar], { env: { TZ: 'UTC' } });
        return list.stdout
          .trim()
          .split('\n')
          .map((l) => /^\s*\d+ (.+ \d{4}) (\S+)$/.exec(l)!)
          .map((r) => ({ time: r[1], name: r[2] }));
      };
      // Two builds at once, each in its own cache (the builds share nothing but the staged inputs).
      const [a, b] = await Promise.all([buildJar(st, epoch, caches[0]), buildJar(st, epoch, caches[1])]);
      expect([a.cached, b.cached]).toEqual([false, false]);
      expect(sha256(b.jar)).toBe(sha256(a.jar));
      const again = await buildJar(st, epoch, caches[0]);
      expect(again).toMatchObject({ cached: true, install: a.install });
      // Negative control: another epoch is another jar (the times in it come from SOURCE_DATE_EPOCH);
      // built in cache a while the two builds below use cache b.
      const otherBuild = buildJar(st, epoch + 3600, caches[0]);
      // Without SOURCE_DATE_EPOCH (rockcraft's managed build), and with one before 1980: the earliest time a jar holds.
      const early: string[] = [];
      for (const e of [undefined, 2_345_678]) for (const r of await entries((await buildJar(st, e, caches[1])).jar)) early.push(String(r.time));
      const other = await otherBuild;
      expect(other.cached).toBe(false);
      expect(sha256(other.jar)).not.toBe(sha256(a.jar));
      const rows = await entries(a.jar);
      expect(rows.map((r) => r.name)).toEqual([
        'META-INF/',
        'META-INF/MANIFEST.MF',
        // the class-data training run of the Java 21 rocks (templates/rock/opt/spark/cds/train.sh)
        'org/apache/spark/examples/ClassDataTraining$End.class',
        'org/apache/spark/examples/ClassDataTraining.class',
        'org/apache/spark/examples/JavaWordCount.class',
        'org/apache/spark/examples/SparkPi.class',
      ]);
      expect(new Set(rows.map((r) => r.time))).toEqual(new Set(['Tue Nov 14 22:13:20 UTC 2023']));
      expect(new Set(early)).toEqual(new Set(['Tue Jan 01 00:00:02 UTC 1980']));
      const x = temp('jar-x-');
      await execa('jar', ['xf', a.jar, 'META-INF/MANIFEST.MF'], { cwd: x });
      expect(readFileSync(join(x, 'META-INF/MANIFEST.MF'), 'utf8')).toBe(
        `Manifest-Version: 1.0\r\nCreated-By: sparkcraft\r\nImplementation-Title: spark-examples\r\nImplementation-Version: ${st.resolved.line.spark}\r\n\r\n`,
      );
    }
  }, 600_000);

  it('a failing script is one clear line and leaves nothing in the cache', async () => {
    const cache = temp('parts-f-');
    {
      const m = parse(await readFile(join(st.dir, 'rockcraft.yaml'), 'utf8')) as RockManifest;
      const plan = planRock(m);
      const part = { ...plan.parts.find((p) => p.name === 'spark-examples')! };
      part.build = { ...part.build!, script: 'echo compiling; echo "error: no such class" >&2; exit 3' };
      const err = await runScriptlet(
        scriptletOf(part, plan, st.dir),
        { project: 'x', version: '1' },
        treeKey,
        { arch: st.resolved.arch, java: st.resolved.java },
        cache,
      ).catch((e: Error) => e);
      expect((err as Error).message).toBe('part spark-examples: override-build failed with status 3: compiling | error: no such class');
      expect((await execa('ls', ['-A', cache])).stdout).toBe('');
    }
  });

  for (const track of [matrix.defaultLine, '4.1']) {
    it(`${track}: compiles against that line's jars; SparkPi and JavaWordCount run on that Spark`, async () => {
      const s = track === matrix.defaultLine ? st : await stage({ line: track });
      const started = Date.now();
      const { jar } = await buildJar(s, 1_700_000_000, temp('parts-l-'));
      const seconds = (Date.now() - started) / 1000;
      expect(jar.endsWith(`/spark-examples_${s.resolved.line.scala}-${s.resolved.line.spark}.jar`)).toBe(true);
      const pi = await sparkSubmit(s, ['--class', 'org.apache.spark.examples.SparkPi', `local://${jar}`, '4']);
      expect(pi.exitCode, pi.all.slice(-1500)).toBe(0);
      expect(pi.stdout).toMatch(/^Pi is roughly 3\.1\d*$/m);
      expect(pi.all).toMatch(/Finished task 3\.0 in stage 0\.0/);
      const words = join(temp('words-'), 'words.txt');
      writeFileSync(words, 'to be or\nnot to be\n');
      const wc = await sparkSubmit(s, ['--class', 'org.apache.spark.examples.JavaWordCount', jar, words]);
      expect(wc.exitCode, wc.all.slice(-1500)).toBe(0);
      expect(wc.stdout.trim().split('\n').sort()).toEqual(['be: 2', 'not: 1', 'or: 1', 'to: 2']);
      console.log(`examples jar of ${track}: ${readFileSync(jar).length} bytes, built in ${seconds.toFixed(1)} s`);
    }, 1_200_000);
  }
});

describe('the examples jar in the built rock', () => {
  it('is the file the manifest script makes, and the documented SparkPi command prints "Pi is roughly 3.1"', async () => {
    const b = await build('rock', { backend: 'builtin' });
    const st = await stage();
    // SOURCE_DATE_EPOCH is not set here, as in rockcraft's managed build: the jar's times are 1980's.
    expect(process.env.SOURCE_DATE_EPOCH).toBeUndefined();
    const want = sha256((await buildJar(st, undefined)).jar);
    const rock = await RockRunner.load(b.artifact, 'charmed-spark:examples-test');
    const path = st.resolved.paths.examplesJar;
    const ls = await rock.run(['-c', `stat -c '%u:%g %a' ${path} && sha256sum ${path}`], { entrypoint: '/bin/bash' });
    expect(ls.exitCode, ls.stderr).toBe(0);
    expect(ls.stdout.split('\n')[0]).toBe('584792:584792 644');
    expect(ls.stdout.split('\n')[1]).toBe(`${want}  ${path}`);
    expect(await sparkPiFromExamplesJar(rock, path)).toMatch(/^Pi is roughly 3\.1/);
  }, 1_800_000);
});
