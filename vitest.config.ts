import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

/**
 * The suite in three tiers (vitest projects; `npm run test:unit|test:tools|test:cluster`, `npm test` runs
 * all three in that order, scripts/test.sh):
 * - unit: pure logic on the fixture matrix (test/fixtures/matrix.yaml). No tool that setup installs
 *   (podman, skopeo, squashfs-tools, umoci, pigz, bun, go, java, mmdebstrap, cosign, actionlint), no
 *   build or stage, no network (loopback servers inside the test process only), no Kubernetes. The base
 *   system (sh, bash, tar, git, coreutils) and the project's own CLI under node may run. Files run in
 *   parallel: a unit test has no shared state (its own temporary directories, workspace and cache).
 * - tools: the real tools and the build (rock, snap, spark8t, stage, the local registry, cosign), the
 *   network for downloads; no Kubernetes node. Two lanes, each one file at a time: `tools` shares dist/,
 *   build/ and the cache's builds; `tools-side` (TOOLS_SIDE) holds only state of its own, and `npm test`
 *   runs it beside `tools`.
 * - cluster: anything that needs scripts/local-k8s.sh's apiserver or node: `cluster-node` (the node's own
 *   test) alone first, then `cluster` (the Spark scenarios) with `cluster-side` beside it, each one file
 *   at a time.
 * A file belongs to the tier of the heaviest thing it does; the lists below name the tools and cluster
 * files, every other file is a unit file (so a new file lands in the fast tier and must keep its rules).
 */
/** Stops and starts the node itself: alone, before the other cluster files. */
export const CLUSTER_NODE = ['test/local-k8s.test.ts'];

/** Spark on the node: the scenarios of src/smoke/cluster.ts, in one namespace, in order. */
export const CLUSTER = ['test/cluster.test.ts'];

/**
 * The cluster tier's second lane, beside test/cluster.test.ts: files that use the apiserver, the node and
 * the local S3 under names of their own (namespaces, accounts, buckets) and never run a pod from the
 * line's image by its name (scenario 8 evicts that image from the node for a while). The scenarios
 * leave the 2 cores idle about a third of their time (32.8 %, vmstat, 2026-12-07).
 */
export const CLUSTER_SIDE = [
  'test/s3.test.ts',
  'test/smoke.test.ts',
  'test/spark8t/config-concurrency.test.ts',
  'test/spark8t/exe.test.ts',
  'test/spark8t/isolation.test.ts',
  'test/spark8t/kubeconfig.test.ts',
  'test/spark8t/registry.test.ts',
  'test/spark8t/wrappers.test.ts',
];

export const TOOLS = [
  // Builds the default line's arm64 rock and runs it under qemu-user-static (binfmt_misc, root): ~4 min.
  'test/arm64-rock.test.ts',
  'test/base-archive.test.ts',
  // Registers qemu-user-static through binfmt_misc (root) and runs an arm64 executable Go cross-compiles.
  'test/binfmt.test.ts',
  'test/build.test.ts',
  'test/cache-verify.test.ts',
  'test/concurrent.test.ts',
  'test/examples.test.ts',
  'test/flavour-gpu.test.ts',
  'test/flavour-jupyter.test.ts',
  'test/flavour-stage.test.ts',
  'test/fresh-machine.test.ts',
  'test/noop.test.ts',
  'test/publish-attest.test.ts',
  'test/reproducible-scratch.test.ts',
  // Builds the rock and reads every layer of it (the hardening rule, issue 23).
  'test/rock-hardening.test.ts',
  'test/sign.test.ts',
  // bun compiles spark8t for arm64 (its runtime from the npm registry, once).
  'test/spark8t/build-arch.test.ts',
  'test/stage.test.ts',
];

/**
 * The tools tier's second lane: files whose state is all their own (temporary folders, their own caches,
 * servers on loopback, the local registry under a name of their own): no build into the checkout's
 * dist/ or build/, no Debian root or layer of the shared cache being made, no binfmt_misc entry. The
 * tools tier one file at a time left the 2 cores idle 29.5 % of its time (vmstat, 2026-12-07), so `npm test` runs
 * this lane beside the first (scripts/test.sh); `npm run test:tools` runs both, one file at a time.
 */
export const TOOLS_SIDE = [
  // Debian's headless Chromium (playwright-core) on pages served on loopback.
  'test/browser.test.ts',
  'test/cosign-setup.test.ts',
  'test/fetch-faults.test.ts',
  // Builds pebble with go from a file:// proxy of ours (tampered and genuine modules).
  'test/go-pins.test.ts',
  'test/jks.test.ts',
  'test/local-s3.test.ts',
  // Maven (Debian's) resolving the lines' jar roots against Maven Central.
  'test/lock-maven.test.ts',
  'test/publish-cli.test.ts',
  'test/publish-registry.test.ts',
  'test/publish-snap.test.ts',
  // Two real minbase Debian roots (mmdebstrap), ~40 s.
  'test/rootfs-path.test.ts',
  'test/snap-runner.test.ts',
  'test/spark8t/properties.test.ts',
  'test/stage-unpack.test.ts',
  // 8 lock-holding processes and a SIGKILLed holder: real processes and flock(1), 13 s.
  'test/state.test.ts',
  // A private mount namespace (unshare -m, root) for the in-pod case.
  'test/spark8t/kubeconfig-fields.test.ts',
  'test/workflows.test.ts',
];

const ALL = ['test/**/*.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 600_000,
    reporters: ['default'],
    projects: [
      // Vitest's default is one worker fewer than the cores, which is one on a 2-core machine.
      {
        extends: true,
        test: {
          name: 'unit',
          include: ALL,
          exclude: [...TOOLS, ...TOOLS_SIDE, ...CLUSTER_NODE, ...CLUSTER, ...CLUSTER_SIDE],
          fileParallelism: true,
          maxWorkers: Math.max(2, availableParallelism() - 1),
        },
      },
      // Each tools and cluster project runs one file at a time; scripts/test.sh runs a side lane beside its main one.
      { extends: true, test: { name: 'tools', include: TOOLS, fileParallelism: false } },
      { extends: true, test: { name: 'tools-side', include: TOOLS_SIDE, fileParallelism: false } },
      { extends: true, test: { name: 'cluster-node', include: CLUSTER_NODE, fileParallelism: false } },
      { extends: true, test: { name: 'cluster', include: CLUSTER, fileParallelism: false } },
      { extends: true, test: { name: 'cluster-side', include: CLUSTER_SIDE, fileParallelism: false } },
    ],
  },
});
