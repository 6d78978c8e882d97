/**
 * The release matrix (`matrix.yaml` at the project root) is the only place a version, tag or jar is
 * named. These types are the contract between config → render → stage → build → smoke → publish.
 * `src/config/matrix.ts` loads and validates the YAML into these shapes; everything downstream
 * receives a `ResolvedLine` (one Spark line × one flavour with every derived value computed).
 */

export type Risk = 'edge' | 'beta' | 'candidate' | 'stable';

/** A Maven Central artifact staged into /opt/spark/jars. */
export interface JarSpec {
  group: string;
  artifact: string;
  version: string;
  /** Optional classifier (e.g. `shaded`). */
  classifier?: string;
  /**
   * The classifier per architecture where the jar differs by architecture (RAPIDS: the plain jar carries
   * x86_64's native libraries, `cuda12-arm64` AArch64's): a cell of that architecture gets that file.
   */
  classifiers?: Record<string, string>;
  /** SPDX licence identifier, for the SBOM. */
  license: string;
}

/**
 * A root of a line's jars: it and its runtime closure (Maven's resolution, `npm run lock`) are staged,
 * without what it excludes and what the line's distribution provides.
 */
export interface RootJarSpec extends JarSpec {
  /** `group:artifact` (artifact may be `*`) left out of its closure (e.g. hadoop-aws's own aws-java-sdk-bundle). */
  exclude?: string[];
}

/** A PyPI distribution (the Spark distribution itself, or flavour extras such as jupyterlab). */
export interface PypiSpec {
  name: string;
  version: string;
  license: string;
}

/** A pebble service a flavour declares in matrix.yaml; rendered into its rock's `services:` in this key order. */
export interface ServiceSpec {
  override: 'merge' | 'replace';
  summary?: string;
  command?: string;
  startup?: 'enabled' | 'disabled';
  'on-success'?: string;
  'on-failure'?: string;
  environment?: Record<string, string>;
  /**
   * A jar of Spark's distribution the service runs (`spark-connect`): a line's rock has the service only
   * when its distribution carries `jars/<needs>_<scala>-<spark>.jar`, the line's exact version (stage
   * checks it); a line without one names the service in its `unavailableServices` with the evidence.
   * Not a pebble key: the manifest never shows it.
   */
  needs?: string;
}

/** What a flavour adds on one line (`flavours.<name>.lines.<track>`): jars, wheels and settings of its own. */
export interface FlavourLineSpec {
  jars?: JarSpec[];
  pypi?: PypiSpec[];
  /** Values for the flavour's module (e.g. the gpu flavour's `shim`); checked by that module. */
  settings?: Record<string, string>;
}

/**
 * A flavour, registered as rockcraft registers its extensions: data here (its inputs, services,
 * version rule, per-line additions) plus, optionally, `src/flavours/<name>.ts` (its render context,
 * checks of its settings, smoke scenarios). Generic code never names a flavour.
 */
export interface FlavourSpec {
  /** `spark`, `jupyter`, `kyuubi`, ... (the key in `flavours:`). */
  name: string;
  /** OCI image name, e.g. `charmed-spark-jupyterlab`. */
  image: string;
  /** A fixed version of its own that enters the tag (`<spark>-<this>`). */
  tagVersion?: string;
  /** Or: its version is that of its first jar (`jars`) or first PyPI requirement (`pypi`) on the line. */
  versionOf?: 'jars' | 'pypi';
  /** Maven jars staged into the flavour's inputs (every line); per-line ones go in `lines`. */
  jars?: JarSpec[];
  /** Extra PyPI requirements installed into the image (their closure is locked as wheels). */
  pypi?: PypiSpec[];
  /** Per-line additions, by track. */
  lines?: Record<string, FlavourLineSpec>;
  /** false when the flavour's inputs cannot be staged yet; `reason` says why. */
  available?: boolean;
  reason?: string;
  /** Pebble services rendered into the rock's manifest (the base's own, or a flavour's layer). */
  services?: Record<string, ServiceSpec>;
  /**
   * The flavour this one is layered over (`spark`): its image is that rock's layers byte for byte
   * plus the layers of its own parts and one pebble layer, as the reference builds its flavours
   * `FROM` the base image. Absent for the base itself.
   */
  over?: string;
  /** The pebble service the image's entrypoint enters (`pebble enter --args <service>`); the base's otherwise. */
  entrypointService?: string;
  /** One line on what the flavour adds (the manifest's summary). */
  summary?: string;
  /** Python the flavour's wheels are resolved for: a cell whose suite has another Python is refused (E_FLAVOUR). */
  wheelPython?: string;
}

export interface LineSpec {
  /** Spark minor line, also the snap track and the image's moving tag: `3.5`. */
  track: string;
  /** Full Spark version (semver): `3.5.9`. */
  spark: string;
  scala: string;
  /** The Java versions the line is built with; the first is the line's default (its tags carry no Java). */
  java: number[];
  hadoop: string;
  /** The py4j source zip under python/lib (PYTHONPATH names it). */
  py4j: string;
  rock: { base: 'ubuntu@22.04' | 'ubuntu@24.04' };
  snap: { base: 'core22' | 'core24' };
  /** Where Spark comes from: the pyspark distribution on PyPI (reachable here) or the Apache tarball. */
  distribution: { pypi: PypiSpec; tarball?: string };
  /** The roots of the jars added to Spark's (their closures are locked, src/stage/lock.ts). */
  jars: RootJarSpec[];
  /**
   * `group:artifact` the distribution's jars/ already ships, left out of every closure (the distribution's
   * version serves); stage checks each is there.
   */
  provided?: string[];
  flavours: string[];
  /** Services its rock leaves out (their `needs` is not in this line's distribution), each with the evidence. */
  unavailableServices?: Record<string, string>;
}

export interface Matrix {
  /** The line rendered into the committed top-level manifests. */
  defaultLine: string;
  risks: Risk[];
  /** Risk the committed manifests and default builds use. */
  defaultRisk: Risk;
  /** Debian architectures the family is built for (`amd64`, `arm64`); each must be in src/lib/arch.ts. */
  architectures: string[];
  project: {
    registry: string; // ghcr.io/canonical
    source: string; // https://github.com/... (OCI label)
    snapName: string; // spark-client
    runUser: string; // _daemon_
    uid: number; // 584792
    pebble: { module: string; version: string };
    /** The built-in backend's Debian suite per Java version, and the Python 3 that suite's python3 is (`"17": {suite: bookworm, python: "3.11"}`). */
    debianSuites: Record<string, { suite: string; python: string; cds?: boolean }>;
  };
  flavours: Record<string, FlavourSpec>;
  lines: LineSpec[];
}

/**
 * A release cell: one line × flavour × architecture × Java (at one risk) with every derived name
 * computed, by `resolveLine` only (src/config/matrix.ts). Every step takes one; nothing else derives
 * a tag, a file name, a channel, an image reference, a jar path or a cache key.
 */
export interface ResolvedLine {
  /** The matrix's project settings (registry, source, snap name, run user, pebble). */
  project: Matrix['project'];
  line: LineSpec;
  flavour: FlavourSpec;
  risk: Risk;
  /** `22.04` from `ubuntu@22.04`. */
  baseVersion: string;
  /** The rock's version: Spark's, plus the flavour's own version (`3.5.9`, `3.5.9-4.6.6`, `3.5.9-25.04.0`). */
  version: string;
  /** The flavour's own version (jupyterlab's, the RAPIDS jar's); undefined for the base. */
  flavourVersion?: string;
  /** The flavour this one is layered over, resolved (same line, risk, arch and Java); undefined for the base. */
  base?: ResolvedLine;
  /** Debian architecture the cell is built for (`amd64`, `arm64`); the host's unless asked. */
  arch: string;
  /** What the cell's craft manifests list as `platforms`: the cell's architecture alone (its JAVA_HOME is that architecture's). */
  architectures: string[];
  /** The architecture's names in the tools that take one (src/lib/arch.ts). */
  platform: { oci: string; go: string; bun: string; pip: string[]; triplet: string };
  /** The cell's Java version (the line's default unless asked) and where its JRE lives in the image. */
  java: number;
  javaHome: string;
  /** Whether `java` is the line's default (the default variant's tags carry no Java). */
  defaultJava: boolean;
  /** The built-in backend's Debian suite for this Java. */
  debianSuite: string;
  /** The image's Python (`3.11`): the suite's python3, which the smoke asserts. */
  python: string;
  /** Whether the rock ships a class-data sharing archive of Spark's classes (the Java's `cds` in matrix.yaml; src/pack/cds.ts). */
  cds: boolean;
  /** The flavour's inputs on this line: its jars and PyPI requirements, and its module's settings. */
  inputs: { jars: JarSpec[]; pypi: PypiSpec[]; settings: Record<string, string> };
  /** `3.5/spark/amd64-java17`: the cell, in every cache key and record. */
  key: string;
  /**
   * Image reference parts. `tags`: the immutable `<version>-<base>_<risk>` first, then the moving
   * `<track>-<base>_<risk>` (and `<track>-<base>` on stable); `ref` is the first moving tag's reference.
   */
  image: { registry: string; name: string; tags: string[]; ref: string };
  /** The snap: name, version and Snap Store channel (`3.5/edge`). */
  snap: { name: string; version: string; channel: string };
  /** Paths relative to the project root. */
  paths: {
    /** The build folder `build/<track>/<flavour>/<arch>-java<N>` (manifests, files/, inputs/). */
    build: string;
    /** What stage fills: `<build folder>/inputs`. */
    inputs: string;
    /** `dist/<image>_<version>_<arch>.rock` (`_java<N>` before the arch for a non-default Java) */
    rock: string;
    /** `dist/<snap>_<spark>_<arch>.snap` */
    snap: string;
    /**
     * Spark's examples jar in the rock, which its `spark-examples` part builds from sparkcraft's sources
     * (src/stage/examples/): `/opt/spark/examples/jars/spark-examples_<scala>-<spark>.jar`, Spark's own name.
     */
    examplesJar: string;
    /**
     * The Thrift JDBC server's password check (hive.server2.authentication=CUSTOM), which the same part
     * compiles from src/stage/examples/io/sparkcraft/: on Spark's classpath, in /opt/spark/jars.
     */
    thriftAuthJar: string;
  };
}
