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
  /** SPDX licence identifier, for the SBOM. */
  license: string;
}

/** A PyPI distribution (the Spark distribution itself, or flavour extras such as jupyterlab). */
export interface PypiSpec {
  name: string;
  version: string;
  license: string;
}

export interface FlavourSpec {
  /** `spark`, `jupyter`, `kyuubi`, ... */
  name: string;
  /** OCI image name, e.g. `charmed-spark-jupyterlab`. */
  image: string;
  /** Extra version that enters the tag (`<spark>-<extra>`), e.g. the jupyterlab version. */
  tagVersion?: string;
  /** Extra PyPI packages installed into the image. */
  pypi?: PypiSpec[];
  /** false when the flavour's inputs cannot be staged yet; `reason` says why. */
  available?: boolean;
  reason?: string;
  /** Extra pebble services (name → command), rendered into the rock. */
  services?: Record<string, { command: string; startup: 'enabled' | 'disabled'; environment?: Record<string, string> }>;
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
  /** Python the flavour's wheels are resolved for (the built-in backend's base: Debian bookworm's 3.11). */
  wheelPython?: string;
}

/** The RAPIDS Accelerator for the gpu flavour: a Maven jar plus the Spark shim it runs with. */
export interface RapidsSpec extends JarSpec {
  /**
   * The jar's shim (one of its `sparkNNN/` folders) the plugin runs with on this line's Spark. When it
   * is the line's own version (`spark344` for 3.4.4) the plugin finds it by itself; any other (`spark355`
   * for 3.5.9: the jar has no shim for that patch and refuses it by name) becomes
   * spark.rapids.shims-provider-override in the flavour's defaults (`rapidsShimOverride`).
   */
  shim: string;
}

export interface LineSpec {
  /** Spark minor line, also the snap track and the image's moving tag: `3.5`. */
  track: string;
  /** Full Spark version (semver): `3.5.9`. */
  spark: string;
  scala: string;
  java: number;
  python: string;
  hadoop: string;
  /** The py4j source zip under python/lib (PYTHONPATH names it). */
  py4j: string;
  rock: { base: 'ubuntu@22.04' | 'ubuntu@24.04' };
  snap: { base: 'core22' | 'core24' };
  /** Where Spark comes from: the pyspark distribution on PyPI (reachable here) or the Apache tarball. */
  distribution: { pypi: PypiSpec; tarball?: string };
  jars: JarSpec[];
  flavours: string[];
  /** The gpu flavour's plugin jar (lines offering gpu). */
  rapids?: RapidsSpec;
}

export interface Matrix {
  /** The line rendered into the committed top-level manifests. */
  defaultLine: string;
  risks: Risk[];
  /** Risk the committed manifests and default builds use. */
  defaultRisk: Risk;
  project: {
    registry: string; // ghcr.io/canonical
    source: string; // https://github.com/... (OCI label)
    snapName: string; // spark-client
    runUser: string; // _daemon_
    uid: number; // 584792
    pebble: { module: string; version: string };
  };
  flavours: Record<string, FlavourSpec>;
  lines: LineSpec[];
}

/** One buildable thing: a line × flavour × risk with every derived name computed (by `resolveLine` only). */
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
  /** The flavour this one is layered over, resolved (same line, risk and arch); undefined for the base. */
  base?: ResolvedLine;
  /** Debian architecture of this host (`amd64`, `arm64`): what the built-in backend builds for. */
  arch: string;
  /**
   * Image reference parts. `tags`: the immutable `<version>-<base>_<risk>` first, then the moving
   * `<track>-<base>_<risk>` (and `<track>-<base>` on stable); `ref` is the first moving tag's reference.
   */
  image: { registry: string; name: string; tags: string[]; ref: string };
  /** The snap: name, version and Snap Store channel (`3.5/edge`). */
  snap: { name: string; version: string; channel: string };
  /** Paths relative to the project root. */
  paths: {
    /** The build folder `build/<track>/<flavour>` (manifests, files/, inputs/). */
    build: string;
    /** What stage fills: `build/<track>/<flavour>/inputs`. */
    inputs: string;
    /** `dist/<image>_<version>_<arch>.rock` */
    rock: string;
    /** `dist/<snap>_<spark>_<arch>.snap` */
    snap: string;
  };
}
