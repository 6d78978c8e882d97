/**
 * The error catalog: every code a UserError can carry, with a one-line summary of what went
 * wrong, the default hint (what to do) and the exit status. Pure data, imports nothing: the
 * spark8t executable bundles it through src/lib/errors.ts.
 *
 * A throw site gives the specific message (what failed, where); it gives a hint or an exit status
 * only when it knows better than the entry here (`hint` and `exitCode` in the UserError options
 * win over the catalog's). `hint: null` means the sites' messages say what to do themselves.
 *
 * Adding a code is one entry in the section of the tool that raises it (SPARK8T_ERRORS for
 * src/spark8t, SPARKCRAFT_ERRORS for the rest, SHARED_ERRORS for both); tsc then accepts it at
 * throw sites, and `npm run errors:readme` rewrites the README's table (test/error-catalog.test.ts
 * fails until it does, and fails for a code that no src/ file uses).
 */

export interface ErrorEntry {
  /** What went wrong, in one line. */
  readonly summary: string;
  /** What to do when the throw site gives no hint of its own; null: the message says it. */
  readonly hint: string | null;
  /** The exit status of the process that reports it. */
  readonly exit: number;
}

/** Raised by both tools. */
export const SHARED_ERRORS = {
  E_USAGE: { summary: 'a command-line argument or option is wrong', hint: null, exit: 2 },
} as const satisfies Record<string, ErrorEntry>;

/**
 * Raised by the spark8t executable (src/spark8t). The messages of E_ACCOUNT_NOT_FOUND,
 * E_PRIMARY_NOT_FOUND, E_EXISTS and E_NAMESPACE are those of the Python spark8t 1.6; the first three
 * are printed alone on standard output by service-account-registry (exit 1), as the reference does.
 */
export const SPARK8T_ERRORS = {
  E_ACCOUNT_NOT_FOUND: {
    summary: 'the service account does not exist',
    hint: 'see service-account-registry list, or create it with service-account-registry create',
    exit: 1,
  },
  E_PRIMARY_NOT_FOUND: {
    summary: 'no service account is marked primary',
    hint: 'pass --username and --namespace, or create an account with --primary',
    exit: 1,
  },
  E_PRIMARY_AMBIGUOUS: {
    summary: 'more than one account is primary (its label on both ServiceAccount and RoleBinding); both are named',
    hint: 'an administrator removes the label app.kubernetes.io/spark8t-primary from all of them but one (ServiceAccount and RoleBinding)',
    exit: 1,
  },
  E_SECRET_AT_SUBMIT: {
    summary: 'cluster mode: a secret Hadoop property (S3 key, token) was given at submit time, not stored in the account',
    hint: 'an administrator stores it with service-account-registry add-config (it then reaches the pods by reference), or run in client mode',
    exit: 1,
  },
  E_EXISTS: {
    summary: 'an object of the service account to create already exists',
    hint: 'delete the account first, or choose another --username',
    exit: 1,
  },
  E_INVALID_NAME: { summary: 'a username or namespace is not a valid Kubernetes name', hint: 'Kubernetes names follow RFC 1123 (DNS-1123)', exit: 2 },
  E_NAMESPACE: {
    summary: 'the namespace does not exist and this user may not create it',
    hint: 'create it as an administrator first, or use an existing namespace',
    exit: 1,
  },
  E_CREATE: {
    summary: 'creating a service account failed; what was made is removed again',
    hint: 'check your permissions in that namespace (spark8t needs to create ServiceAccounts, Roles, RoleBindings and Secrets)',
    exit: 1,
  },
  E_DELETE: { summary: 'a service account was only partly deleted', hint: 'check your permissions and run delete again', exit: 1 },
  E_PROPERTY: {
    summary: 'a properties line has no key (named by file, line and key, never the value)',
    hint: "write it as key=value (or Spark's key value / key:value)",
    exit: 1,
  },
  E_DRIVER_FAILED: {
    summary: 'cluster mode: the driver container ended non-zero; its exit code is the status, its reason (OOMKilled…) named',
    hint: 'read the driver log; for OOMKilled raise spark.driver.memoryOverhead or spark.driver.memory',
    exit: 1,
  },
  E_DRIVER_GONE: {
    summary: 'cluster mode: the driver pod disappeared before its final state was seen',
    hint: 'the line says when and where it was last seen; its result is unknown: run the job again',
    exit: 91,
  },
  E_DRIVER_EVICTED: {
    summary: 'cluster mode: the driver pod was evicted or preempted',
    hint: 'free resources on the node, or give the driver a higher priority',
    exit: 92,
  },
  E_DRIVER_NODE_LOST: { summary: "cluster mode: the driver's node went away", hint: 'run the job again once the cluster is whole', exit: 93 },
  E_DRIVER_UNKNOWN: {
    summary: 'cluster mode: Spark stopped waiting, but the driver is not known to have ended with 0',
    hint: 'check the driver pod (kubectl describe pod)',
    exit: 94,
  },
  E_PROPERTIES_FILE: { summary: 'a properties file cannot be read', hint: 'check the path', exit: 1 },
  E_CONF: { summary: 'a --conf argument is not key=value', hint: 'write --conf spark.some.key=value', exit: 2 },
  E_CERTIFICATE: {
    summary: 'import-certificate: the file holds no certificate, or the trust store cannot take it',
    hint: 'give a PEM file (-----BEGIN CERTIFICATE-----)',
    exit: 2,
  },
  E_KUBECONFIG: {
    summary: 'the kubeconfig is missing, unreadable or mistyped (a field named by its path), or lacks what was asked for',
    hint: 'fix the kubeconfig',
    exit: 1,
  },
  E_EXEC_PLUGIN: { summary: "the kubeconfig's credential plugin failed", hint: 'run it by hand to see why', exit: 1 },
  E_K8S_CONNECT: { summary: 'the Kubernetes API did not answer (connection, DNS, timeout or TLS)', hint: 'check the cluster and your kubeconfig', exit: 1 },
  E_K8S_401: {
    summary: 'the Kubernetes API refused the credentials (401)',
    hint: 'the credentials were refused: check the token or client certificate in your kubeconfig (it may have expired)',
    exit: 1,
  },
  E_K8S_403: {
    summary: 'the Kubernetes API forbade the request (403)',
    hint: 'your user lacks the RBAC permission for this; ask an administrator or use another --context',
    exit: 1,
  },
  E_K8S_404: { summary: 'a Kubernetes object was not found (404)', hint: 'check the name and namespace', exit: 1 },
  E_K8S_409: {
    summary: 'a Kubernetes object conflicts with one that exists (409)',
    hint: 'it already exists or changed meanwhile; delete it first or retry',
    exit: 1,
  },
  E_K8S_422: {
    summary: 'the Kubernetes API rejected an object as invalid (422)',
    hint: 'the object was rejected as invalid; check names (DNS-1123) and values',
    exit: 1,
  },
  E_K8S_HTTP: { summary: 'the Kubernetes API answered with another HTTP error', hint: 'check the API server logs', exit: 1 },
  E_SPARK_HOME: { summary: "Spark's launcher is not under SPARK_HOME", hint: 'set SPARK_HOME to a Spark distribution', exit: 1 },
  E_SPAWN: { summary: "Spark's launcher could not be started", hint: 'check SPARK_HOME', exit: 1 },
  E_POD_TEMPLATE: {
    summary: 'a pod template given in spark.kubernetes.{driver,executor}.podTemplateFile cannot be read or is not a Pod',
    hint: 'give the path of a readable YAML or JSON Pod manifest',
    exit: 2,
  },
  E_DRIVER_HOST: {
    summary: 'an interactive shell needs spark.driver.host and it could not be detected',
    hint: 'pass --conf spark.driver.host=<an address the cluster can reach>',
    exit: 2,
  },
} as const satisfies Record<string, ErrorEntry>;

/** Raised by the sparkcraft toolchain (config, render, stage, build, smoke, publish). */
export const SPARKCRAFT_ERRORS = {
  E_MANY: { summary: 'several problems, found by checks that run before any change (each with its own hint)', hint: null, exit: 1 },
  E_INTERNAL: {
    summary: 'an unexpected failure, not a UserError (the code --json documents give it)',
    hint: 'rerun with --log-level DEBUG for the stack trace and report it',
    exit: 1,
  },
  // config and render
  E_MATRIX: { summary: 'matrix.yaml cannot be read or is invalid (the message names the key)', hint: null, exit: 1 },
  E_LINE: { summary: 'no such Spark line in the release matrix', hint: 'use a track listed under lines: in matrix.yaml', exit: 1 },
  E_FLAVOUR: {
    summary: 'the flavour is not offered for this line or artifact, or cannot be built yet',
    hint: 'see the flavours of each line in matrix.yaml',
    exit: 1,
  },
  E_SERVICE: {
    summary: "the line's rock has no such service (the matrix says why)",
    hint: 'ask for a line that has it (the message lists them)',
    exit: 1,
  },
  E_ARCH: {
    summary: 'the matrix does not build this architecture, or publish was given one architecture of a family that has several',
    hint: 'use one listed under architectures: in matrix.yaml; publish every architecture together (no --arch)',
    exit: 1,
  },
  E_JAVA: { summary: 'the line is not built with this Java version', hint: "use one of the line's java: versions in matrix.yaml", exit: 1 },
  E_RISK: { summary: 'unknown release risk', hint: 'use a risk listed under risks: in matrix.yaml', exit: 1 },
  E_SOURCE_DATE_EPOCH: {
    summary: 'SOURCE_DATE_EPOCH is set but is not a whole number of seconds since 1970',
    hint: 'set it to a whole number greater than 0 (e.g. `git log -1 --format=%ct`), or unset it',
    exit: 1,
  },
  E_TEMPLATE: { summary: 'a template is missing or does not render', hint: 'fix the template under templates/', exit: 1 },
  E_MANIFEST: { summary: 'a rendered manifest is invalid for its craft tool or the built-in backend', hint: 'fix its template under templates/', exit: 1 },
  E_STALE: {
    summary: 'the committed rendered files differ from what matrix.yaml and templates/ produce',
    hint: 'run `npm run render` and commit the result',
    exit: 1,
  },
  // stage
  E_LOCK: {
    summary: 'the lock file is missing, invalid or does not pin what the matrix needs',
    hint: 'run `npm run lock` and commit sparkcraft.lock.json',
    exit: 1,
  },
  E_LOCK_RESOLVE: {
    summary: 'resolving the inputs to pin (PyPI, Maven Central, pip) failed',
    hint: 'check the versions in matrix.yaml and that PyPI and Maven Central are reachable',
    exit: 1,
  },
  E_LOCK_LICENSE: {
    summary: "a jar of a line's Maven closure has no licence sparkcraft can name in SPDX",
    hint: 'name the artifact as a root of the line in matrix.yaml with its `license`',
    exit: 1,
  },
  E_DISTRIBUTION: {
    summary: "the line's Spark distribution does not ship what matrix.yaml says it provides (a jar, or Hadoop at the line's version)",
    hint: "correct the line's `provided` or `hadoop` in matrix.yaml, then run `npm run lock`",
    exit: 1,
  },
  E_DOWNLOAD: { summary: 'an input could not be downloaded', hint: 'check the network or proxy; cached inputs are reused on the next run', exit: 1 },
  E_CHECKSUM: { summary: 'a download does not match its pinned checksum', hint: 'the file changed upstream or the lock is wrong; nothing was staged', exit: 1 },
  E_DISK_FULL: { summary: 'no space left on device', hint: 'free space in dist/ and the cache', exit: 1 },
  E_STAGE: { summary: 'a staged input is missing or unusable', hint: 'run `npm run stage` first', exit: 1 },
  E_TOOL: { summary: 'a tool this step needs is not installed or failed to run', hint: 'run `npm run setup`', exit: 1 },
  E_STEP_LOCK: {
    summary: "a step's lock (src/lib/state.ts withLock: flock on build/.locks or <cache>/locks) could not be taken",
    hint: 'check that the lock folder is writable; a killed run releases its lock by itself',
    exit: 1,
  },
  E_GO_BUILD: { summary: 'building a Go tool failed', hint: 'check that the Go module proxy is reachable', exit: 1 },
  E_GO_SUM: {
    summary: "a Go module does not match the hash its build's committed go.sum pins, or go.sum (or go.mod) does not pin it",
    hint: 'the module changed upstream or in the module cache, or the pins are wrong: nothing was built; regenerate scripts/<tool> only on purpose',
    exit: 1,
  },
  // build
  E_BOOTSTRAP: { summary: 'mmdebstrap could not make the base file system', hint: 'check that the Debian mirror is reachable', exit: 1 },
  E_BUILD: { summary: "a part's override-build script failed", hint: "the script is the part's override-build in rockcraft.yaml", exit: 1 },
  E_UNSUPPORTED: { summary: 'the manifest uses what this backend cannot build', hint: 'install the craft tool and use --backend craft', exit: 1 },
  E_CRAFT: { summary: 'rockcraft or snapcraft pack failed or made other files than one artifact', hint: 'read the craft tool log above', exit: 1 },
  E_SQUASHFS: { summary: 'mksquashfs or unsquashfs failed (the message carries its error)', hint: null, exit: 1 },
  E_SNAP_YAML: { summary: 'the meta/snap.yaml built would be refused by snapd', hint: 'fix the snap template under templates/', exit: 1 },
  E_BASE_ARCHIVE: {
    summary: 'the --base-archive file is not the base rock a layered flavour needs',
    hint: 'pass the base rock the release publishes',
    exit: 1,
  },
  // smoke and the local cluster
  E_CLUSTER: { summary: 'the local cluster is not running or its description is unreadable', hint: 'run scripts/local-k8s.sh start', exit: 1 },
  E_IMAGE: { summary: "an image could not be put on or removed from the local node's content store", hint: 'see ctr -n k8s.io images ls on the node', exit: 1 },
  E_PUBLISH: { summary: 'publishing a rock to the local registry did not leave the tag there', hint: 'read the publish:rock output above', exit: 1 },
  E_SMOKE: { summary: 'smoke checks failed', hint: "read the failed checks' output above", exit: 1 },
  // publish: artifacts and plans
  E_ARTIFACT: {
    summary: 'the artifact to publish is missing or unreadable',
    hint: 'build it first (npm run build:rock or build:snap), or pass --artifact FILE',
    exit: 1,
  },
  E_TAG: { summary: 'a tag the matrix derives is not a valid OCI tag', hint: 'fix the tags in matrix.yaml', exit: 1 },
  E_IMMUTABLE_TAG: { summary: 'a tag naming a full version already holds another image', hint: 'publish a new version, or pass --force to overwrite', exit: 1 },
  E_PLAN_INCOMPLETE: { summary: 'the publish plan could not read every existing tag', hint: 'check registry access and retry', exit: 1 },
  E_SNAP_MISMATCH: { summary: 'the snap is not the one this line releases', hint: 'rebuild the snap for this line', exit: 1 },
  // publish: registry
  E_NO_CREDENTIALS: { summary: 'no registry credentials are set', hint: 'set REGISTRY_USER and REGISTRY_PASSWORD (or GITHUB_TOKEN for ghcr.io)', exit: 1 },
  E_REGISTRY_AUTH: {
    summary: 'the registry rejected the credentials (401)',
    hint: 'set REGISTRY_USER and REGISTRY_PASSWORD (or GITHUB_TOKEN for ghcr.io) to valid credentials',
    exit: 1,
  },
  E_REGISTRY_DENIED: {
    summary: 'the registry denied the operation to these credentials (403)',
    hint: 'the account or token needs rights to the package (to push with GITHUB_TOKEN: permissions packages: write)',
    exit: 1,
  },
  E_REGISTRY_TLS: { summary: "the registry's TLS certificate did not verify", hint: 'pass --registry-cert-dir DIR holding the registry CA as ca.crt', exit: 1 },
  E_REGISTRY_UNAVAILABLE: { summary: 'the registry could not be reached or kept failing', hint: 'check that the registry is reachable and retry', exit: 1 },
  E_REGISTRY: { summary: 'a registry operation failed', hint: 'check the registry and the image reference, then retry', exit: 1 },
  E_DIGEST_MISMATCH: {
    summary: 'the registry holds another digest than the one pushed',
    hint: 'the registry rewrote the manifest; check the registry and the artifact',
    exit: 1,
  },
  // publish: signing and verifying
  E_SIGNING: { summary: 'signing or attesting the image failed', hint: null, exit: 1 },
  E_SIGNING_KEY: { summary: 'the signing key could not be read or decrypted', hint: 'check the signing key and COSIGN_PASSWORD', exit: 1 },
  E_PROVENANCE: { summary: 'the provenance cannot be made', hint: 'publish from a git checkout of the project', exit: 1 },
  E_VERIFY: { summary: 'the image does not verify: signature, attestations or digest', hint: null, exit: 1 },
  E_VERIFY_KEY: { summary: 'the public key to verify with could not be read', hint: 'pass --key FILE with a cosign public key (PEM)', exit: 1 },
  // publish: Snap Store
  E_STORE_UNAVAILABLE: {
    summary: 'the Snap Store cannot be used from here (no snapcraft, or no store credentials)',
    hint: 'the plan above is what would run',
    exit: 1,
  },
  E_STORE_AUTH: { summary: 'the Snap Store refused the credentials', hint: 'refresh SNAPCRAFT_STORE_CREDENTIALS (snapcraft export-login)', exit: 1 },
  E_STORE: { summary: 'a Snap Store operation failed', hint: 'see snapcraft output above', exit: 1 },
} as const satisfies Record<string, ErrorEntry>;

export type Spark8tErrorCode = keyof typeof SHARED_ERRORS | keyof typeof SPARK8T_ERRORS;
export type ErrorCode = Spark8tErrorCode | keyof typeof SPARKCRAFT_ERRORS;

/** Every code, in catalog order (shared, spark8t, sparkcraft). */
export const ERRORS: Readonly<Record<ErrorCode, ErrorEntry>> = { ...SHARED_ERRORS, ...SPARK8T_ERRORS, ...SPARKCRAFT_ERRORS };
