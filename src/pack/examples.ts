/**
 * Spark's examples jar, built from sparkcraft's own sources. Neither the pyspark distribution nor
 * Maven Central carries `spark-examples_<scala>-<version>.jar`, yet the documented smoke command
 * runs `org.apache.spark.examples.SparkPi` from it. The Java sources live in `src/pack/examples/`;
 * stage copies them to `inputs/examples/`; the rock's `spark-examples` part (rockcraft.yaml)
 * compiles them with javac against the line's Spark jars and packs a reproducible jar. rockcraft
 * runs that part's override-build; the built-in backend runs the same script (scriptlet.ts).
 */
import { createHash } from 'node:crypto';
import { cp, readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { LineSpec } from '../config/types.ts';
import { projectRoot } from '../lib/paths.ts';
import type { Origin } from '../stage/sbom.ts';

/** The Java sources (a package tree: org/apache/spark/examples/*.java). */
export const EXAMPLES_SOURCES = join(projectRoot, 'src', 'pack', 'examples');

/** Where the examples jar lands in the rock; its name follows Spark's (`spark-examples_2.12-3.5.9.jar`). */
export function examplesJar(line: Pick<LineSpec, 'scala' | 'spark'>): { name: string; dir: string; path: string } {
  const name = `spark-examples_${line.scala}-${line.spark}.jar`;
  const dir = '/opt/spark/examples/jars';
  return { name, dir, path: `${dir}/${name}` };
}

async function sourceFiles(dir = EXAMPLES_SOURCES): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else if (e.isFile()) out.push(join(d, e.name));
    }
  };
  await walk(dir);
  return out.sort();
}

/** A hash of the sources (names and contents): stage restages, and the part rebuilds, when it changes. */
export async function examplesSourcesKey(dir = EXAMPLES_SOURCES): Promise<string> {
  const h = createHash('sha256');
  for (const f of await sourceFiles(dir))
    h.update(`${relative(dir, f)}\0`)
      .update(await readFile(f))
      .update('\0');
  return h.digest('hex');
}

/** Copy the sources into a staging tree (`inputs/examples`). */
export async function stageExamples(dest: string): Promise<void> {
  await cp(EXAMPLES_SOURCES, dest, { recursive: true });
}

/** SBOM packages: the staged sources, and the jar the rock's part builds from them at pack time. */
export function examplesOrigins(line: LineSpec): { sources: Origin; jar: Origin } {
  const jar = examplesJar(line);
  return {
    sources: { name: 'spark-examples sources (sparkcraft)', version: line.spark, url: 'src/pack/examples', sha256: '', license: 'Apache-2.0' },
    jar: {
      name: jar.name,
      version: line.spark,
      url: 'NOASSERTION',
      sha256: '',
      license: 'Apache-2.0',
      sourceInfo: `built from project sources (examples/ here, src/pack/examples in sparkcraft) when the rock is packed: part spark-examples compiles them with javac against this line's Spark jars into ${jar.path}`,
    },
  };
}
