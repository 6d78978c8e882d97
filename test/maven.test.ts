/**
 * The Maven closure of a line's jar roots (src/lib/tools/maven.ts, src/stage/lock.ts): the pom handed to
 * Maven, its answer read back, licences from poms, and a lock refused when its closure was resolved from
 * other roots than matrix.yaml names. Pure; the real resolution is test/lock-maven.test.ts's.
 */
import { describe, expect, it } from 'vitest';
import { closurePom, parseList, pomFacts, spdxOf } from '../src/lib/tools/maven.ts';
import { closureRequest, lockedInputsFor, readLock } from '../src/stage/lock.ts';
import { distributionProblems } from '../src/stage/stage.ts';
import { loadMatrix, validateMatrix } from '../src/config/matrix.ts';
import { projectRoot } from '../src/lib/paths.ts';
import { join } from 'node:path';
import type { LineSpec } from '../src/config/types.ts';

describe('the pom Maven resolves', () => {
  it("excludes each root's own exclusions and everything provided, from every root", () => {
    const pom = closurePom(
      [
        { group: 'org.apache.hadoop', artifact: 'hadoop-aws', version: '3.3.4', exclude: ['com.amazonaws:aws-java-sdk-bundle'] },
        { group: 'com.amazonaws', artifact: 'aws-java-sdk-s3', version: '1.12.262' },
      ],
      ['joda-time:joda-time', 'io.netty:*'],
    );
    const deps = pom.split('<dependency>').slice(1);
    expect(deps).toHaveLength(2);
    expect(deps[0]).toContain('<artifactId>aws-java-sdk-bundle</artifactId>');
    expect(deps[1]).not.toContain('aws-java-sdk-bundle');
    for (const d of deps) {
      expect(d).toContain('<exclusion><groupId>joda-time</groupId><artifactId>joda-time</artifactId></exclusion>');
      expect(d).toContain('<exclusion><groupId>io.netty</groupId><artifactId>*</artifactId></exclusion>');
    }
  });

  it("reads dependency:list's answer: jars of compile and runtime scope, classifiers, module notes", () => {
    const out = [
      '',
      'The following files have been resolved:',
      '   com.amazonaws:aws-java-sdk-core:jar:1.12.262:compile -- module aws.java.sdk.core (auto)',
      '   io.netty:netty-transport-native-epoll:jar:linux-x86_64:4.1.96.Final:runtime',
      '   org.example:a-bom:pom:1.0:compile',
      '   org.example:tests:jar:1.0:test',
      '[INFO] something else',
    ].join('\n');
    expect(parseList(out)).toEqual([
      { group: 'com.amazonaws', artifact: 'aws-java-sdk-core', version: '1.12.262' },
      { group: 'io.netty', artifact: 'netty-transport-native-epoll', version: '4.1.96.Final', classifier: 'linux-x86_64' },
    ]);
  });

  it('names licences of poms in SPDX, through the parent when the pom has none, and refuses an unknown one', () => {
    expect(spdxOf('The Apache License, Version 2.0')).toBe('Apache-2.0');
    expect(spdxOf('Apache License, Version 2.0', 'https://www.apache.org/licenses/LICENSE-2.0.txt')).toBe('Apache-2.0');
    expect(spdxOf('MIT-0', 'https://spdx.org/licenses/MIT-0.html')).toBe('MIT-0');
    expect(spdxOf('Some Proprietary Terms', 'https://example.invalid/terms')).toBeUndefined();
    const f = pomFacts(
      '<project><!-- <licenses><license><name>nope</name></license></licenses> --><parent><groupId>g</groupId><artifactId>p</artifactId><version>1</version></parent></project>',
    );
    expect(f.license).toBeUndefined();
    expect(f.parent).toEqual({ group: 'g', artifact: 'p', version: '1' });
    expect(pomFacts('<project><licenses><license><name>MIT License</name><url>u</url></license></licenses></project>').license).toEqual({
      name: 'MIT License',
      url: 'u',
    });
  });
});

describe("a line's jar closure in the lock", () => {
  const m = loadMatrix();
  const lock = readLock(join(projectRoot, 'sparkcraft.lock.json'));
  const line = m.lines.find((l) => l.track === m.defaultLine)!;

  it('the checkout lock holds the closure of every line (more jars than roots on 3.x: the SDK modules, not the bundle)', () => {
    for (const l of m.lines) {
      const ids = lockedInputsFor(m.project, l, lock).map((i) => i.id);
      for (const j of l.jars) expect(ids).toContain(`maven:${j.group}:${j.artifact}@${j.version}`);
      expect(ids.some((id) => id.includes('aws-java-sdk-bundle') || id.includes('awssdk:bundle'))).toBe(false);
    }
    expect(lockedInputsFor(m.project, line, lock).filter((i) => i.kind === 'maven').length).toBeGreaterThan(line.jars.length);
  });

  it('is stale when a root, an exclusion or a provided jar changes: refused, naming `npm run lock`', () => {
    const changed: LineSpec[] = [
      { ...line, jars: line.jars.map((j, k) => (k === 0 ? { ...j, exclude: [...(j.exclude ?? []), 'x.y:z'] } : j)) },
      { ...line, provided: [...(line.provided ?? []), 'x.y:z'] },
      { ...line, jars: line.jars.slice(1) },
    ];
    for (const l of changed) {
      expect(closureRequest(l)).not.toEqual(closureRequest(line));
      expect(() => lockedInputsFor(m.project, l, lock)).toThrow(/resolved from other roots|does not pin/);
    }
  });

  it("refuses a line whose hadoop-aws is not the line's Hadoop", () => {
    const raw = structuredClone(m);
    const l = raw.lines.find((x) => x.track === m.defaultLine)!;
    l.jars = l.jars.map((j) => (j.artifact === 'hadoop-aws' ? { ...j, version: '3.3.6' } : j));
    expect(() => validateMatrix(raw)).toThrow(/hadoop-aws 3\.3\.6 is not the line's Hadoop 3\.3\.4/);
  });

  it("finds what a distribution's jars/ lacks: a provided artifact, Hadoop at the line's version", () => {
    const jars = ['httpclient-4.5.14.jar', 'hadoop-client-api-3.3.4.jar', 'hadoop-client-runtime-3.3.4.jar', 'joda-time-2.12.5.jar'];
    expect(distributionProblems(jars, { hadoop: '3.3.4', provided: ['org.apache.httpcomponents:httpclient', 'joda-time:joda-time'] })).toEqual([]);
    expect(distributionProblems(jars, { hadoop: '3.3.4', provided: ['org.apache.httpcomponents:httpcore'] })).toEqual([
      'its jars/ has no httpcore-<version>.jar, which matrix.yaml says it provides (org.apache.httpcomponents:httpcore)',
    ]);
    // httpclient-4 is not httpclient5-…: the artifact name is matched whole.
    expect(
      distributionProblems(['httpclient5-5.2.jar', ...jars.slice(1)], { hadoop: '3.3.4', provided: ['org.apache.httpcomponents:httpclient'] }),
    ).toHaveLength(1);
    // A service's server at the line's exact version, never a jar of another version.
    const connect = { 'spark-connect': { override: 'replace' as const, needs: 'spark-connect' } };
    const line = { hadoop: '3.3.4', scala: '2.13', spark: '4.1.4' };
    expect(distributionProblems([...jars, 'spark-connect_2.13-4.1.4.jar'], line, connect)).toEqual([]);
    expect(distributionProblems([...jars, 'spark-connect_2.13-4.1.3.jar'], line, connect)).toEqual([
      "its jars/ has no spark-connect_2.13-4.1.4.jar, which service spark-connect needs (list spark-connect under the line's unavailableServices in matrix.yaml, with the evidence)",
    ]);
    expect(distributionProblems(jars, { hadoop: '3.4.2' })[0]).toBe(
      "its Hadoop is 3.3.4 (hadoop-client-api), not the line's 3.4.2, which its hadoop-aws must match",
    );
  });
});
