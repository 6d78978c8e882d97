import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdtempSync, writeFileSync, mkdirSync, chmodSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { hostArch, resolveLine, validateMatrix } from '../src/config/matrix.ts';
import { FIXTURE_MATRIX, fixtureMatrix } from './support/fixture.ts';
import { check, loadTemplates, renderLine, validateManifests } from '../src/render/render.ts';
import { flavourContext } from '../src/flavours/index.ts';
import type { Matrix, ResolvedLine } from '../src/config/types.ts';

/** What the cell's flavour module gives its templates. */
const ext = (r: ResolvedLine) => flavourContext(r);
import { ROOT } from './support/k8s.ts';
import { planRock, type RockManifest } from '../src/pack/rock.ts';
import { CDS_PRIME_SCRIPT } from '../src/lib/cds.ts';

// Logic on the fixture matrix (made-up versions): a version bump in matrix.yaml changes nothing here.
const matrix = fixtureMatrix();
const templates = loadTemplates();

describe('release matrix', () => {
  it('resolves tags, tracks and channels from the scheme', () => {
    const r = resolveLine(matrix, { line: '7.2', risk: 'edge' });
    expect(r.line.spark).toBe('7.2.11');
    expect(r.image.tags).toEqual(['7.2.11-22.04_edge', '7.2-22.04_edge']);
    expect(r.image.ref).toBe('registry.example/sparkcraft/charmed-spark:7.2-22.04_edge');
    expect(r.snap).toEqual({ name: 'spark-client', version: '7.2.11', channel: '7.2/edge' });
    expect(resolveLine(matrix, { line: '7.2', risk: 'stable' }).image.tags).toEqual(['7.2.11-22.04_stable', '7.2-22.04_stable', '7.2-22.04']);
    expect(resolveLine(matrix, { line: '8.0' }).image.tags[0]).toBe('8.0.2-24.04_edge');
    expect(() => resolveLine(matrix, { line: '2.4' })).toThrow(/no Spark line "2.4".*/);
  });
  it('names the key path and reason of every invalid entry', () => {
    const raw = parse(readFileSync(FIXTURE_MATRIX, 'utf8'));
    raw.lines[1].spark = '7.3.0';
    raw.lines[0].jars[0].version = 'x y';
    raw.lines[2].snap.base = 'core22';
    delete raw.project.uid;
    let msg = '';
    try {
      validateMatrix(raw, 'm.yaml');
    } catch (e) {
      msg = (e as Error).message;
    }
    // The schema's problems first (all of them), then, on a matrix of the right shape, the cross-checks.
    expect(msg).toContain('m.yaml: lines[0].jars[0].version: "x y" is not a valid maven-version');
    expect(msg).toContain('m.yaml: project.uid: is required');
    raw.lines[0].jars[0].version = '3.9.1';
    raw.project.uid = 584792;
    msg = '';
    try {
      validateMatrix(raw, 'm.yaml');
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toContain('m.yaml: lines[1].spark 7.3.0 is not in track 7.2');
    expect(msg).toContain('m.yaml: lines[2].snap.base core22 does not match rock base ubuntu@24.04');
  });
  it('refuses an unknown key anywhere with its key path, and a value that would reach a script or a path unchecked', () => {
    const raw = parse(readFileSync(join(ROOT, 'matrix.yaml'), 'utf8'));
    raw.flavours.jupyter.servics = {}; // a typo of services: silently ignored before
    raw.lines[1].rapids = {}; // an old key
    raw.flavours.jupyter.pypi[0].version = '4.6.6" ; touch /tmp/x; echo "';
    raw.project.pebble.module = 'github.com/canonical/pebble\nreplace x => ../../';
    raw.flavours.spark.services.sparkd.command = '/bin/bash x\nstartup: disabled';
    let msg = '';
    try {
      validateMatrix(raw, 'm.yaml');
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toContain('m.yaml: flavours.jupyter.servics: is not a known key');
    expect(msg).toContain('m.yaml: lines[1].rapids: is not a known key');
    expect(msg).toMatch(/m\.yaml: flavours\.jupyter\.pypi\[0\]\.version: ".*" is not a valid pep440-version/);
    expect(msg).toMatch(/m\.yaml: project\.pebble\.module: ".*" is not a valid go-module-path/);
    expect(msg).toMatch(/m\.yaml: flavours\.spark\.services\.sparkd\.command: ".*" does not match/);
  });
});

/** The real matrix widened to every value the cell resolver knows (arm64, a second Java), which only tests build. */
function widened(): Matrix {
  const raw = parse(readFileSync(FIXTURE_MATRIX, 'utf8'));
  raw.architectures = ['amd64', 'arm64'];
  raw.project.debianSuites = { ...raw.project.debianSuites, '21': { suite: 'trixie', python: '3.13', cds: true } };
  for (const l of raw.lines) if (!l.java.includes(21)) l.java = [...l.java, 21];
  return validateMatrix(raw, 'widened');
}

describe('class-data sharing in the cells whose Java has cds', () => {
  const wide = widened();
  const line = wide.lines[0]!.track;
  const rendered = (java: number) => {
    const files = renderLine(resolveLine(wide, { line, arch: 'amd64', java }), templates);
    return { files, manifest: parse(files.find((f) => f.path === 'rockcraft.yaml')!.content) as RockManifest };
  };
  it('a cds cell has the spark-cds part after harden, with the script the built-in backend runs, and ships train.sh; a cell without has neither', () => {
    const on = rendered(21);
    expect(on.manifest.parts['spark-cds']).toEqual({ plugin: 'nil', after: ['harden'], 'override-prime': CDS_PRIME_SCRIPT });
    expect(planRock(on.manifest).cds).toBe('spark-cds');
    const train = on.files.find((f) => f.path === 'files/rock/opt/spark/cds/train.sh')!;
    expect(train.mode).toBe(0o755);
    expect(train.content).toContain('export JAVA_HOME=/usr/lib/jvm/java-21-openjdk-amd64 ');
    const off = rendered(17);
    expect(off.manifest.parts['spark-cds']).toBeUndefined();
    expect(planRock(off.manifest).cds).toBeUndefined();
    expect(off.files.some((f) => f.path.includes('/cds/'))).toBe(false);
  });
  it('the built-in backend refuses a spark-cds part whose script it does not know, pointing at rockcraft', () => {
    const { manifest } = rendered(21);
    const edited = {
      ...manifest,
      parts: { ...manifest.parts, 'spark-cds': { ...manifest.parts['spark-cds']!, 'override-prime': `${CDS_PRIME_SCRIPT}echo more\n` } },
    };
    expect(() => planRock(edited)).toThrow(/part spark-cds has an override-prime the built-in backend does not run/);
  });
});

describe('release cells (line × flavour × architecture × Java)', () => {
  it('every cell of every risk resolves and renders, each name derived once', async () => {
    const wide = widened();
    let withOwnVersion = 0;
    let cells = 0;
    let refused = 0;
    for (const line of wide.lines) {
      for (const name of line.flavours) {
        const f = wide.flavours[name]!;
        for (const arch of wide.architectures) {
          for (const java of line.java) {
            for (const risk of wide.risks) {
              const sel = { line: line.track, flavour: name, risk, arch, java };
              if (f.wheelPython && f.wheelPython !== wide.project.debianSuites[String(java)]!.python) {
                // wheels locked for another Python than the cell's suite has: refused by name
                expect(() => resolveLine(wide, sel)).toThrow(`flavour ${name}'s wheels are locked for Python ${f.wheelPython}`);
                refused++;
                continue;
              }
              const r = resolveLine(wide, sel);
              cells++;
              const def = java === line.java[0];
              const j = def ? '' : `-java${java}`;
              const own = f.versionOf === 'jars' ? f.lines![line.track]!.jars![0]!.version : f.versionOf === 'pypi' ? f.pypi![0]!.version : f.tagVersion;
              const version = own ? `${line.spark}-${own}` : line.spark;
              if (own) withOwnVersion++;
              expect(r.flavourVersion).toBe(own);
              const base = line.rock.base.split('@')[1];
              expect(r.version).toBe(version);
              expect([r.arch, r.java, r.defaultJava]).toEqual([arch, java, def]);
              expect(r.javaHome).toBe(`/usr/lib/jvm/java-${java}-openjdk-${arch}`);
              expect([r.debianSuite, r.python]).toEqual(java === 21 ? ['trixie', '3.13'] : ['bookworm', '3.11']);
              expect(r.platform.go).toBe(arch);
              expect(r.key).toBe(`${line.track}/${name}/${arch}-java${java}`);
              expect(r.image.tags).toEqual([
                `${version}${j}-${base}_${risk}`,
                `${line.track}${j}-${base}_${risk}`,
                ...(risk === 'stable' ? [`${line.track}${j}-${base}`] : []),
              ]);
              expect(r.image.ref).toBe(`${matrix.project.registry}/${f.image}:${line.track}${j}-${base}_${risk}`);
              expect(r.snap).toEqual({ name: matrix.project.snapName, version: line.spark, channel: `${line.track}/${risk}` });
              expect(r.paths).toEqual({
                build: `build/${line.track}/${name}/${arch}-java${java}`,
                inputs: `build/${line.track}/${name}/${arch}-java${java}/inputs`,
                rock: `dist/${f.image}_${version}${j}_${arch}.rock`,
                snap: `dist/${matrix.project.snapName}_${line.spark}${j}_${arch}.snap`,
                examplesJar: `/opt/spark/examples/jars/spark-examples_${line.scala}-${line.spark}.jar`,
                thriftAuthJar: `/opt/spark/jars/sparkcraft-thriftserver-auth-${line.spark}.jar`,
              });
              if (f.available === false) continue;
              if (risk !== wide.defaultRisk) continue; // the manifests differ by risk only in names checked above
              const files = renderLine(r, templates, await ext(r));
              const rock = parse(files.find((x) => x.path === 'rockcraft.yaml')!.content);
              expect(rock.name).toBe(f.image);
              expect(rock.version).toBe(version);
              // A cell's craft manifest lists its own platform only: its JAVA_HOME is that architecture's.
              expect(Object.keys(rock.platforms)).toEqual([arch]);
              if (f.over) {
                expect(r.base!.image.name).toBe(wide.flavours[f.over]!.image);
                expect([r.base!.version, r.base!.arch, r.base!.java]).toEqual([line.spark, arch, java]);
                expect(files.some((x) => x.path.startsWith('snap/') || x.path.startsWith('files/snap/'))).toBe(false);
                continue;
              }
              expect(rock.environment.JAVA_HOME).toBe(r.javaHome);
              expect(rock.parts.runtime['stage-packages']).toContain(`openjdk-${java}-jre-headless`);
              // Jars compiled at build time run on every Java of the line.
              expect(rock.parts['spark-examples']['override-build']).toContain(`javac --release ${Math.min(...line.java)} `);
              const snap = parse(files.find((x) => x.path === 'snap/snapcraft.yaml')!.content);
              expect(snap.environment.JAVA_HOME).toBe(`$SNAP${r.javaHome}`);
              const defaults = files.find((x) => x.path === 'files/snap/etc/spark8t/conf/spark-defaults.conf')!.content;
              expect(defaults).toContain(`spark.kubernetes.container.image=${r.image.ref}`);
            }
          }
        }
      }
    }
    expect(withOwnVersion).toBeGreaterThan(0);
    // jupyter (wheels for 3.11) on the default line's Java 21 cells (trixie, 3.13): both architectures, every risk
    expect(refused).toBe(2 * wide.risks.length);
    expect(cells + refused).toBe(wide.lines.reduce((n, l) => n + l.flavours.length * 2 * l.java.length * wide.risks.length, 0));
  });
  it("the architecture is the host's unless given; one the matrix does not build, or a Java the line lacks, is refused by name", () => {
    expect(resolveLine(matrix, {}).arch).toBe(hostArch());
    expect(hostArch('x64')).toBe('amd64');
    expect(hostArch('arm64')).toBe('arm64');
    expect(() => resolveLine(matrix, { arch: 'arm64' })).toThrow(/architecture "arm64" is not built by this matrix/);
    expect(() => resolveLine(matrix, { java: 11 })).toThrow(/Spark 7\.2 is not built with Java 11/);
    expect(() => validateMatrix({ ...widened(), architectures: ['amd64', 'sparc'] }, 'm')).toThrow(/architectures: sparc is not one of amd64, arm64/);
  });
});

describe('rendering', () => {
  it('renders and validates every line and available flavour', () => {
    for (const line of matrix.lines) {
      const files = renderLine(resolveLine(matrix, { line: line.track }), templates);
      const rock = parse(files.find((f) => f.path === 'rockcraft.yaml')!.content);
      expect(rock.base).toBe(line.rock.base);
      expect(rock['run-user']).toBe('_daemon_');
      expect(rock.services.sparkd).toMatchObject({ startup: 'enabled', 'on-success': 'shutdown', 'on-failure': 'shutdown' });
      expect(rock.services['history-server'].startup).toBe('disabled');
      expect(rock.services['thrift-server']).toMatchObject({
        startup: 'disabled',
        command: '/bin/bash /opt/pebble/thrift-server.sh [ ]',
        'on-failure': 'shutdown',
      });
      // spark-connect only where the line does not mark it unavailable; `needs` is matrix data, not pebble's
      if (line.unavailableServices?.['spark-connect']) expect(rock.services['spark-connect']).toBeUndefined();
      else
        expect(rock.services['spark-connect']).toEqual({
          override: 'replace',
          summary: expect.any(String),
          command: '/bin/bash /opt/pebble/spark-connect.sh [ ]',
          startup: 'disabled',
          'on-failure': 'shutdown',
        });
      // the part that builds the examples jar also builds the Thrift server's password check, onto Spark's classpath
      const build = rock.parts['spark-examples']['override-build'] as string;
      expect(build).toContain(`jar --create --file "$CRAFT_PART_INSTALL/opt/spark/jars/sparkcraft-thriftserver-auth-${line.spark}.jar"`);
      expect(rock.environment).toMatchObject({
        SPARK_HOME: '/opt/spark',
        SPARK_CONFS: '/etc/spark8t/conf',
        HOME: '/var/lib/spark',
        SPARK_USER_DATA: '/var/lib/spark',
        SPARK_LOG_DIR: '/var/log/spark',
        SPARK_BEELINE_OPTS: '-Duser.home=/var/lib/spark',
      });
      const snap = parse(files.find((f) => f.path === 'snap/snapcraft.yaml')!.content);
      expect(snap.version).toBe(line.spark);
      expect(Object.keys(snap.apps)).toEqual([
        'service-account-registry',
        'spark-submit',
        'spark-shell',
        'pyspark',
        'spark-sql',
        'import-certificate',
        'beeline',
      ]);
      expect(snap.apps.beeline.plugs).not.toContain('network-bind');
      expect(files.find((f) => f.path === 'files/snap/bin/beeline')!.content).toContain('exec "$SNAP/opt/spark/bin/beeline" "$@"');
      expect(snap.apps['spark-shell'].plugs).toContain('network-bind');
      expect(snap.plugs['dot-kube-config']).toEqual({ interface: 'personal-files', read: ['$HOME/.kube/config'] });
      const defaults = files.find((f) => f.path === 'files/snap/etc/spark8t/conf/spark-defaults.conf')!.content;
      expect(defaults).toContain(
        `spark.kubernetes.container.image=${matrix.project.registry}/charmed-spark:${line.track}-${line.rock.base.split('@')[1]}_edge`,
      );
    }
  });
  it('refuses a manifest the craft tools would refuse, naming the key', () => {
    const files = renderLine(resolveLine(matrix, {}), templates);
    const rock = parse(files[0]!.content);
    rock.services.sparkd.startup = 'sometimes';
    rock.parts.spark.plugins = 'dump';
    const bad = files.map((f) => (f.path === 'rockcraft.yaml' ? { ...f, content: stringify(rock) } : f));
    expect(() => validateManifests(bad, '3.5/spark')).toThrow(
      /services\.sparkd\.startup: must be one of "enabled", "disabled".*parts\.spark\.plugins: is not a known key/,
    );
  });
  it('the committed manifests are current (render --check)', async () => {
    expect(await check()).toEqual([]);
    // The negative control: the same matrix with another default line.
    const other = join(mkdtempSync(join(tmpdir(), 'other-default-')), 'matrix.yaml');
    writeFileSync(other, readFileSync(join(ROOT, 'matrix.yaml'), 'utf8').replace(/^defaultLine: .*$/m, 'defaultLine: "3.4"'));
    const r = await execa('bash', [join(ROOT, 'scripts/sparkcraft.sh'), 'render', '--check', '--matrix', other], { reject: false });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/committed rockcraft\.yaml and snap\/snapcraft\.yaml and flavours\/gpu\/rockcraft\.yaml differ/);
  });
});

describe('scripts in the rock keep arguments intact', () => {
  const files = renderLine(resolveLine(matrix, {}), templates);
  const dir = mkdtempSync(join(tmpdir(), 'scripts-'));
  for (const f of files.filter((x) => x.path.startsWith('files/rock/'))) {
    const p = join(dir, f.path.slice('files/rock/'.length));
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, f.content);
    chmodSync(p, f.mode);
  }
  const entry = join(dir, 'opt/spark/entrypoint.sh');
  it('entrypoint driver: spark-submit in client mode with every argument as given', async () => {
    const r = await execa('bash', [entry, 'driver', '--properties-file', '/opt/spark/conf/spark.properties', '--class', 'A B', 'x y'], {
      env: { SPARK_ENTRYPOINT_DRY_RUN: '1', SPARK_HOME: '/opt/spark', SPARK_DRIVER_BIND_ADDRESS: '10.0.0.5' },
    });
    expect(r.stdout.split('\n')).toEqual([
      '/opt/spark/bin/spark-submit',
      '--conf',
      'spark.driver.bindAddress=10.0.0.5',
      '--conf',
      'spark.executorEnv.SPARK_DRIVER_POD_IP=10.0.0.5',
      '--deploy-mode',
      'client',
      '--properties-file',
      '/opt/spark/conf/spark.properties',
      '--class',
      'A B',
      'x y',
    ]);
  });
  it('entrypoint executor: the KubernetesExecutorBackend java command with the pod environment', async () => {
    const r = await execa('bash', [entry, 'executor'], {
      env: {
        SPARK_ENTRYPOINT_DRY_RUN: '1',
        SPARK_HOME: '/opt/spark',
        JAVA_HOME: '/jvm',
        SPARK_EXECUTOR_MEMORY: '2g',
        SPARK_DRIVER_URL: 'spark://d:7078',
        SPARK_EXECUTOR_ID: '3',
        SPARK_EXECUTOR_CORES: '2',
        SPARK_APPLICATION_ID: 'app-1',
        SPARK_EXECUTOR_POD_IP: '10.1.1.1',
        SPARK_JAVA_OPT_0: '-Dk=v w',
      },
    });
    const cmd = r.stdout.split('\n');
    expect(cmd.slice(0, 4)).toEqual(['/jvm/bin/java', '-Dk=v w', '-Xms2g', '-Xmx2g']);
    expect(cmd).toContain('org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend');
    expect(cmd.join(' ')).toContain('--driver-url spark://d:7078 --executor-id 3 --cores 2 --app-id app-1 --hostname 10.1.1.1');
  });
  describe('class-data sharing (cds/spark.jsa in SPARK_HOME)', () => {
    // A SPARK_HOME with an archive and its class path, and a spark-submit that prints what it was given.
    const home = mkdtempSync(join(tmpdir(), 'cds-home-'));
    mkdirSync(join(home, 'cds'));
    mkdirSync(join(home, 'bin'));
    writeFileSync(join(home, 'cds/spark.jsa'), 'archive');
    writeFileSync(join(home, 'cds/classpath'), `${home}/jars/a.jar:${home}/jars/b.jar\n`);
    writeFileSync(join(home, 'bin/spark-submit'), '#!/bin/bash\necho "opts=$SPARK_SUBMIT_OPTS"\nprintf \'%s\\n\' "$@"\n', { mode: 0o755 });
    const props = (body: string) => {
      const f = join(mkdtempSync(join(tmpdir(), 'cds-props-')), 'spark.properties');
      writeFileSync(f, body);
      return f;
    };
    const driver = (env: Record<string, string>, ...args: string[]) =>
      execa('bash', [entry, 'driver', ...args], { env: { SPARK_HOME: home, SPARK_DRIVER_BIND_ADDRESS: '10.0.0.5', ...env }, extendEnv: false, reject: false });
    const executor = (env: Record<string, string>) =>
      execa('bash', [entry, 'executor'], { env: { SPARK_ENTRYPOINT_DRY_RUN: '1', SPARK_HOME: home, JAVA_HOME: '/jvm', ...env }, extendEnv: false });
    const archiveOpts = [`-XX:SharedArchiveFile=${home}/cds/spark.jsa`, '-Xshare:auto'];

    it('driver: the archive in SPARK_SUBMIT_OPTS and its class path as spark.driver.extraClassPath, first', async () => {
      const r = await driver({}, '--properties-file', props('spark.app.name=x\n'), '--class', 'A');
      expect(r.exitCode, r.stderr).toBe(0);
      const out = r.stdout.split('\n');
      expect(out[0]).toBe(`opts=${archiveOpts.join(' ')}`);
      expect(out.slice(5, 7)).toEqual(['--conf', `spark.driver.extraClassPath=${home}/jars/a.jar:${home}/jars/b.jar`]);
      expect(r.stderr).not.toContain('cds:');
    });
    it("driver: a job's own spark.driver.extraClassPath (properties file, --conf or --driver-class-path) keeps it, without the archive, in one line", async () => {
      for (const args of [
        ['--properties-file', props('spark.app.name=x\nspark.driver.extraClassPath=/opt/extra/my.jar\n')],
        ['--properties-file', props('spark.driver.extraClassPath : /opt/extra/my.jar\n')],
        ['--conf', 'spark.driver.extraClassPath=/opt/extra/my.jar'],
        ['--driver-class-path', '/opt/extra/my.jar'],
      ]) {
        const r = await driver({}, ...args, '--class', 'A');
        expect(r.exitCode, r.stderr).toBe(0);
        expect(r.stdout.split('\n')[0]).toBe('opts=');
        expect(r.stdout).not.toContain(`${home}/jars/a.jar`);
        expect(r.stderr.trim()).toBe('cds: spark.driver.extraClassPath is set, so this JVM starts without the class-data archive');
      }
      // an empty value is no class path of its own
      const empty = await driver({}, '--properties-file', props('spark.driver.extraClassPath=\n'), '--class', 'A');
      expect(empty.stdout.split('\n')[0]).toBe(`opts=${archiveOpts.join(' ')}`);
    });
    it('driver: SPARK_CDS=off starts without the archive, silently, and passes the setting on to the executors', async () => {
      const r = await driver({ SPARK_CDS: 'off' }, '--properties-file', props('spark.app.name=x\n'), '--class', 'A');
      expect(r.stdout.split('\n')[0]).toBe('opts=');
      expect(r.stdout).not.toContain('extraClassPath');
      expect(r.stdout).toContain('--conf\nspark.executorEnv.SPARK_CDS=off\n');
      expect(r.stderr).toBe('');
    });
    it('executor: the archive first among the JVM options and its class path first on -cp; its own class path or SPARK_CDS=off keep it off', async () => {
      const cmd = (await executor({})).stdout.split('\n');
      expect(cmd.slice(0, 3)).toEqual(['/jvm/bin/java', ...archiveOpts]);
      expect(cmd[cmd.indexOf('-cp') + 1]).toBe(`${home}/jars/a.jar:${home}/jars/b.jar:${home}/jars/*`);
      const own = await executor({ SPARK_CLASSPATH: '/opt/extra/my.jar' });
      expect(own.stderr.trim()).toBe('cds: spark.executor.extraClassPath is set, so this JVM starts without the class-data archive');
      const ownCmd = own.stdout.split('\n');
      expect(ownCmd).not.toContain(archiveOpts[0]);
      expect(ownCmd[ownCmd.indexOf('-cp') + 1]).toBe(`/opt/extra/my.jar:${home}/jars/*`);
      const off = await executor({ SPARK_CDS: 'off' });
      expect(off.stdout.split('\n')).not.toContain(archiveOpts[0]);
      expect(off.stderr).toBe('');
    });
    it('no archive in the rock (Java 17 cells): nothing changes, nothing is said', async () => {
      const bare = mkdtempSync(join(tmpdir(), 'cds-bare-'));
      const r = await execa('bash', [entry, 'executor'], { env: { SPARK_ENTRYPOINT_DRY_RUN: '1', SPARK_HOME: bare, JAVA_HOME: '/jvm' }, extendEnv: false });
      const cmd = r.stdout.split('\n');
      expect(cmd[1]).toBe('-Xms1g');
      expect(cmd[cmd.indexOf('-cp') + 1]).toBe(`${bare}/jars/*`);
      expect(r.stderr).toBe('');
    });
  });
  it('trust.sh: every certificate of the files in the CA folder goes into a trust store under /tmp (keytool once each), named to spark-submit, the history server, beeline and the executor; a file without one stops the start naming it', async () => {
    // keytool's stand-in: logs its arguments, writes the store
    const jdk = mkdtempSync(join(tmpdir(), 'jdk-'));
    mkdirSync(join(jdk, 'bin'));
    mkdirSync(join(jdk, 'lib/security'), { recursive: true });
    writeFileSync(join(jdk, 'lib/security/cacerts'), 'system CAs');
    writeFileSync(
      join(jdk, 'bin/keytool'),
      `#!/bin/bash\necho "$*" >> "${jdk}/calls"; while [ $# -gt 0 ]; do case $1 in -keystore) s=$2;; -file) f=$2;; esac; shift; done; cat "$f" >> "$s"\n`,
      { mode: 0o755 },
    );
    const ca = mkdtempSync(join(tmpdir(), 'ca-'));
    const pem = (n: string) => `-----BEGIN CERTIFICATE-----\n${n}\n-----END CERTIFICATE-----\n`;
    writeFileSync(join(ca, 'ca.crt'), `${pem('QUFB')}some text between\n${pem('QkJC')}`);
    writeFileSync(join(ca, 'other.pem'), pem('Q0ND'));
    mkdirSync(join(ca, '..data')); // what a mounted Secret also holds
    const env = { SPARK_ENTRYPOINT_DRY_RUN: '1', SPARK_HOME: '/opt/spark', JAVA_HOME: jdk, SPARK_TRUSTED_CA_DIR: ca, SPARK_EXECUTOR_MEMORY: '1g' };
    const r = await execa('bash', [entry, 'executor'], { env });
    expect(r.stderr).toContain(`trust: 3 certificate(s) from ${ca} trusted by this pod's JVMs`);
    const calls = readFileSync(join(jdk, 'calls'), 'utf8').trim().split('\n');
    expect(calls.map((c) => /-alias (\S+)/.exec(c)?.[1])).toEqual(['spark8t-ca-ca.crt.1', 'spark8t-ca-ca.crt.2', 'spark8t-ca-other.pem.1']);
    const store = /-keystore (\S+)/.exec(calls[0]!)![1]!;
    expect(store).toMatch(/^\/tmp\/trust\.\w+\/truststore\.jks$/);
    expect(readFileSync(store, 'utf8')).toBe(`system CAs${pem('QUFB')}${pem('QkJC')}${pem('Q0ND')}`);
    const cmd = r.stdout.split('\n');
    expect(cmd.slice(1, 4)).toEqual([
      `-Djavax.net.ssl.trustStore=${store}`,
      '-Djavax.net.ssl.trustStorePassword=changeit',
      '-Djavax.net.ssl.trustStoreType=JKS',
    ]);
    const opts = await execa('bash', ['-c', `. "${dir}/opt/spark/trust.sh" 2>/dev/null; echo "$SPARK_SUBMIT_OPTS|$SPARK_HISTORY_OPTS|$SPARK_BEELINE_OPTS"`], {
      env: { ...env, SPARK_BEELINE_OPTS: '-Duser.home=/var/lib/spark' },
    });
    const [submit, history, beeline] = opts.stdout.split('|');
    expect(submit).toMatch(/^-Djavax\.net\.ssl\.trustStore=\/tmp\/trust\.\w+\/truststore\.jks -Djavax/);
    expect(history).toBe(submit);
    expect(beeline).toBe(`-Duser.home=/var/lib/spark ${submit}`);
    // no CA folder: nothing changes
    const plain = await execa('bash', [entry, 'executor'], { env: { ...env, SPARK_TRUSTED_CA_DIR: join(ca, 'absent') } });
    expect(plain.stdout).not.toContain('trustStore');
    writeFileSync(join(ca, 'notes.txt'), 'not a certificate');
    const bad = await execa('bash', [entry, 'executor'], { env, reject: false });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain(`trust: ${ca}/notes.txt holds no PEM certificate`);
  });
  it("the snap's wrappers name a trust store to the JVMs they start: import-certificate's, else the snap's own copy of the JDK's", async () => {
    const snap = mkdtempSync(join(tmpdir(), 'snap-'));
    const user = mkdtempSync(join(tmpdir(), 'snap-user-'));
    mkdirSync(join(snap, 'bin'));
    for (const f of files.filter((x) => x.path.startsWith('files/snap/bin/')))
      writeFileSync(join(snap, 'bin', f.path.slice('files/snap/bin/'.length)), f.content, { mode: 0o755 });
    // spark8t's stand-in: what its Spark children would get
    writeFileSync(join(snap, 'bin/spark8t'), '#!/bin/bash\necho "$1|${SPARK_SUBMIT_OPTS:-}|${SPARK_BEELINE_OPTS:-}"\n', { mode: 0o755 });
    const run = async (app: string) =>
      (await execa('bash', [join(snap, 'bin', app)], { env: { SNAP: snap, SPARK_USER_DATA: user, PATH: process.env.PATH! }, extendEnv: false })).stdout;
    expect(await run('spark-submit')).toBe('spark-submit||');
    mkdirSync(join(snap, 'etc/ssl/certs/java'), { recursive: true });
    writeFileSync(join(snap, 'etc/ssl/certs/java/cacerts'), 'x');
    const jdk = `-Djavax.net.ssl.trustStore=${snap}/etc/ssl/certs/java/cacerts -Djavax.net.ssl.trustStorePassword=changeit`;
    expect(await run('spark-sql')).toBe(`spark-sql|${jdk}|${jdk}`);
    writeFileSync(join(user, 'truststore.jks'), 'y');
    const mine = `-Djavax.net.ssl.trustStore=${user}/truststore.jks -Djavax.net.ssl.trustStorePassword=changeit`;
    expect(await run('pyspark')).toBe(`pyspark|${mine}|${mine}`);
    expect(await run('import-certificate')).toBe('import-certificate||');
  });
  it('sparkd: refuses unknown roles, idles without one', async () => {
    const bad = await execa('bash', [join(dir, 'opt/pebble/sparkd.sh'), 'painter'], { reject: false });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('unknown role "painter"');
    const idle = execa('bash', [join(dir, 'opt/pebble/sparkd.sh')], { reject: false });
    let ended = false;
    void idle.then(() => (ended = true));
    await new Promise((r) => setTimeout(r, 1500));
    expect(ended).toBe(false);
    idle.kill();
    await idle;
  });
  it('thrift-server: refuses a missing password, a bad port or mode before starting anything; else spark-submit as the account, the pod as the driver', async () => {
    const script = join(dir, 'opt/pebble/thrift-server.sh');
    const data = mkdtempSync(join(tmpdir(), 'ts-data-'));
    const run = (env: Record<string, string>) =>
      execa('bash', [script, '--username', 'u1', '--conf', 'a=b c'], { env: { SPARK_USER_DATA: data, ...env }, extendEnv: false, reject: false });
    const none = await run({ PATH: process.env.PATH! });
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toContain('THRIFT_SERVER_PASSWORD is not set');
    expect((await run({ PATH: process.env.PATH!, THRIFT_SERVER_PASSWORD: 'p', THRIFT_SERVER_PORT: '10x' })).stderr).toContain(
      "THRIFT_SERVER_PORT must be a port number, got '10x'",
    );
    expect((await run({ PATH: process.env.PATH!, THRIFT_SERVER_AUTH: 'LDAP' })).stderr).toContain("THRIFT_SERVER_AUTH must be CUSTOM or NONE, got 'LDAP'");
    // spark8t's spark-submit stand-in: prints its arguments, one per line, and the password's presence
    const bin = mkdtempSync(join(tmpdir(), 'ts-bin-'));
    writeFileSync(join(bin, 'spark-client.spark-submit'), '#!/bin/bash\nprintf "%s\\n" "$@"; echo "cwd=$PWD pw=${THRIFT_SERVER_PASSWORD:+set}"\n', {
      mode: 0o755,
    });
    const ok = await run({ PATH: `${bin}:${process.env.PATH}`, THRIFT_SERVER_PASSWORD: 'pw-1', POD_IP: '10.1.2.3', POD_NAME: 'ts-0' });
    expect(ok.exitCode, ok.stderr).toBe(0);
    const [said, ...args] = ok.stdout.split('\n');
    expect(said).toBe(`thrift-server: port 10000, authentication CUSTOM, metastore in ${data}/metastore`);
    expect(args.slice(0, 10)).toEqual([
      '--conf',
      'spark.driver.host=10.1.2.3',
      '--conf',
      'spark.driver.bindAddress=0.0.0.0',
      '--conf',
      'spark.kubernetes.driver.pod.name=ts-0',
      '--username',
      'u1',
      '--conf',
      'a=b c',
    ]);
    expect(args.slice(10, 14)).toEqual(['--deploy-mode', 'client', '--class', 'org.apache.spark.sql.hive.thriftserver.HiveThriftServer2']);
    expect(args).toContain(`spark.hadoop.javax.jdo.option.ConnectionURL=jdbc:derby:;databaseName=${data}/metastore/metastore_db;create=true`);
    const internal = args.indexOf('spark-internal');
    expect(args.slice(internal + 1)).toEqual([
      '--hiveconf',
      'hive.server2.thrift.port=10000',
      '--hiveconf',
      'hive.server2.thrift.bind.host=0.0.0.0',
      '--hiveconf',
      'hive.server2.authentication=CUSTOM',
      '--hiveconf',
      'hive.server2.custom.authentication.class=io.sparkcraft.thriftserver.SecretPasswordProvider',
      `cwd=${data}/metastore pw=set`,
    ]);
    expect(ok.stdout + ok.stderr).not.toContain('pw-1');
    const open = await run({ PATH: `${bin}:${process.env.PATH}`, THRIFT_SERVER_AUTH: 'NONE' });
    expect(open.stdout).toContain('hive.server2.authentication=NONE');
    expect(open.stdout).not.toContain('spark.driver.host=');
  });
  it("spark-connect: refuses a rock without the line's server, a missing token, a bad port or mode; else spark-submit as the account", async () => {
    const script = join(dir, 'opt/pebble/spark-connect.sh');
    const r = resolveLine(matrix, {});
    const home = mkdtempSync(join(tmpdir(), 'sc-home-'));
    const run = (env: Record<string, string>) =>
      execa('bash', [script, '--username', 'u1'], { env: { SPARK_HOME: home, SPARK_USER_DATA: home, ...env }, extendEnv: false, reject: false });
    const noServer = await run({ PATH: process.env.PATH!, SPARK_CONNECT_AUTHENTICATE_TOKEN: 't' });
    expect(noServer.exitCode).toBe(2);
    expect(noServer.stderr).toContain(
      `this rock's Spark ${r.line.spark} has no Spark Connect server (${home}/jars/spark-connect_${r.line.scala}-${r.line.spark}.jar)`,
    );
    mkdirSync(join(home, 'jars'));
    // another version's jar is not the server
    writeFileSync(join(home, 'jars', `spark-connect_${r.line.scala}-0.0.1.jar`), '');
    expect((await run({ PATH: process.env.PATH!, SPARK_CONNECT_AUTHENTICATE_TOKEN: 't' })).exitCode).toBe(2);
    writeFileSync(join(home, 'jars', `spark-connect_${r.line.scala}-${r.line.spark}.jar`), '');
    expect((await run({ PATH: process.env.PATH! })).stderr).toContain('SPARK_CONNECT_AUTHENTICATE_TOKEN is not set');
    expect((await run({ PATH: process.env.PATH!, SPARK_CONNECT_AUTH: 'BASIC' })).stderr).toContain("SPARK_CONNECT_AUTH must be TOKEN or NONE, got 'BASIC'");
    expect((await run({ PATH: process.env.PATH!, SPARK_CONNECT_AUTHENTICATE_TOKEN: 't', SPARK_CONNECT_PORT: 'x' })).exitCode).toBe(2);
    const bin = mkdtempSync(join(tmpdir(), 'sc-bin-'));
    writeFileSync(
      join(bin, 'spark-client.spark-submit'),
      '#!/bin/bash\nprintf "%s\\n" "$@"; echo "token=${SPARK_CONNECT_AUTHENTICATE_TOKEN:+set} cwd=$PWD"\n',
      {
        mode: 0o755,
      },
    );
    const ok = await run({ PATH: `${bin}:${process.env.PATH}`, SPARK_CONNECT_AUTHENTICATE_TOKEN: 'tok-1', POD_IP: '10.1.2.3', POD_NAME: 'sc-0' });
    expect(ok.exitCode, ok.stderr).toBe(0);
    const [said, ...args] = ok.stdout.split('\n');
    expect(said).toBe('spark-connect: port 15002, authentication TOKEN');
    expect(args).toEqual([
      '--conf',
      'spark.driver.host=10.1.2.3',
      '--conf',
      'spark.driver.bindAddress=0.0.0.0',
      '--conf',
      'spark.kubernetes.driver.pod.name=sc-0',
      '--username',
      'u1',
      '--deploy-mode',
      'client',
      '--class',
      'org.apache.spark.sql.connect.service.SparkConnectServer',
      '--conf',
      'spark.connect.grpc.binding.port=15002',
      '--conf',
      'spark.connect.grpc.binding.address=0.0.0.0',
      'spark-internal',
      `token=set cwd=${home}`,
    ]);
    expect(ok.stdout + ok.stderr).not.toContain('tok-1');
    const open = await run({ PATH: `${bin}:${process.env.PATH}`, SPARK_CONNECT_AUTH: 'NONE', SPARK_CONNECT_AUTHENTICATE_TOKEN: 'tok-2' });
    expect(open.stdout.trim().split('\n').at(-1)).toBe(`token= cwd=${home}`);
  });
  it('every script passes bash -n', async () => {
    for (const f of files.filter((x) => x.mode === 0o755)) {
      const p = join(dir, 'check.sh');
      writeFileSync(p, f.content);
      expect((await execa('bash', ['-n', p], { reject: false })).exitCode, f.path).toBe(0);
    }
  });
});
