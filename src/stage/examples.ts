/**
 * Staging Spark's examples jar's sources. Neither the pyspark distribution nor Maven Central carries
 * `spark-examples_<scala>-<version>.jar`, yet the documented smoke command runs
 * `org.apache.spark.examples.SparkPi` from it. The Java sources live in `src/stage/examples/`; stage
 * copies them to `inputs/examples/`; the rock's `spark-examples` part (rockcraft.yaml) compiles them
 * with javac against the line's Spark jars into `ResolvedLine.paths.examplesJar` and packs a
 * reproducible jar. rockcraft runs that part's override-build; the built-in backend runs the same
 * script (pack/scriptlet.ts). Reads files; `examplesOrigins` is pure.
 */
import { createHash } from 'node:crypto';
import { cp, readdir, readFile } from 'node:fs/promises';
import { join, posix, relative } from 'node:path';
import type { ResolvedLine } from '../config/types.ts';
import { projectRoot } from '../lib/paths.ts';
import type { Origin } from './sbom.ts';

/** The Java sources (a package tree: org/apache/spark/examples/*.java). */
export const EXAMPLES_SOURCES = join(projectRoot, 'src', 'stage', 'examples');

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
export function examplesOrigins(r: Pick<ResolvedLine, 'line' | 'paths'>): { sources: Origin; jar: Origin; authJar: Origin } {
  const { line } = r;
  const jar = { name: posix.basename(r.paths.examplesJar), path: r.paths.examplesJar };
  return {
    sources: { name: 'spark-examples sources (sparkcraft)', version: line.spark, url: 'src/stage/examples', sha256: '', license: 'Apache-2.0' },
    jar: {
      name: jar.name,
      version: line.spark,
      url: 'NOASSERTION',
      sha256: '',
      license: 'Apache-2.0',
      sourceInfo: `built from project sources (examples/ here, src/stage/examples in sparkcraft) when the rock is packed: part spark-examples compiles them with javac against this line's Spark jars into ${jar.path}`,
    },
    authJar: {
      name: posix.basename(r.paths.thriftAuthJar),
      version: line.spark,
      url: 'NOASSERTION',
      sha256: '',
      license: 'Apache-2.0',
      sourceInfo: `built from project sources (examples/io/sparkcraft here, src/stage/examples/io/sparkcraft in sparkcraft) when the rock is packed: part spark-examples compiles them with javac against this line's Spark jars into ${r.paths.thriftAuthJar}`,
    },
  };
}
