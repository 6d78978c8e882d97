/**
 * The architectures the family can be built for, by their Debian names, with what each tool calls
 * them (the role rockcraft's SUPPORTED_ARCHS plays). Pure data: a new architecture is a row here and
 * an entry in matrix.yaml's `architectures`. `pip` lists the manylinux platform tags, newest first,
 * whose wheels run on the glibc of the built-in backend's Debian (2.36 on bookworm).
 */
export interface ArchNames {
  /** OCI image platform `architecture`. */
  oci: string;
  /** GOARCH. */
  go: string;
  /** bun's `--target`. */
  bun: string;
  /** Node's `process.arch`. */
  node: string;
  /** The GNU triplet Debian's multiarch paths use (`x86_64-linux-gnu`). */
  triplet: string;
  pip: string[];
  /**
   * Jars of Spark's distribution that carry a JNI library per platform (file-name prefix → the one this
   * architecture loads): the cell's tree keeps that one and drops the others (src/stage/native-libs.ts).
   */
  jni: Record<string, string>;
}

const manylinux = (cpu: string) => [`manylinux_2_36_${cpu}`, `manylinux_2_28_${cpu}`, `manylinux_2_17_${cpu}`, `manylinux2014_${cpu}`];

export const ARCHITECTURES: Record<string, ArchNames> = {
  amd64: {
    oci: 'amd64',
    go: 'amd64',
    bun: 'bun-linux-x64',
    node: 'x64',
    triplet: 'x86_64-linux-gnu',
    pip: [...manylinux('x86_64'), 'manylinux1_x86_64', 'linux_x86_64', 'any'],
    jni: { 'rocksdbjni-': 'librocksdbjni-linux64.so' },
  },
  arm64: {
    oci: 'arm64',
    go: 'arm64',
    bun: 'bun-linux-arm64',
    node: 'arm64',
    triplet: 'aarch64-linux-gnu',
    pip: [...manylinux('aarch64'), 'linux_aarch64', 'any'],
    jni: { 'rocksdbjni-': 'librocksdbjni-linux-aarch64.so' },
  },
};

/** Debian's name for the architecture of this host (Node's `x64` is `amd64`). */
export function hostArch(nodeArch: string = process.arch): string {
  return Object.entries(ARCHITECTURES).find(([, a]) => a.node === nodeArch)?.[0] ?? nodeArch;
}
