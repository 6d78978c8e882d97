/**
 * The string formats of sparkcraft's JSON Schemas (the lock file's, the matrix's): each a pure
 * predicate, and `addSparkcraftFormats` registers them all on an Ajv instance. Each format says what
 * a value may be wherever it ends up (a path, a URL, a command line, a script), so a value that is
 * refused here never reaches any of them. Pure: no I/O.
 *
 * - `sha256-hex`: 64 lower-case hex digits (a content address; it names files in the cache).
 * - `maven-group`, `maven-artifact`, `maven-version`: Maven coordinates' parts; `maven-name` is
 *   `group:artifact`.
 * - `pep440-version`: a version PEP 440 accepts (packaging's VERSION_PATTERN, no surrounding space);
 *   `python-name`: a project name PEP 508 accepts.
 * - `go-module-path`, `go-version`: a Go module path as golang.org/x/mod/module.CheckPath accepts it
 *   (a dotted lower-case host first; no `.`/`..` elements), and a module version (semver with `v`).
 * - `oci-repository`, `oci-tag`, `oci-digest`, `oci-reference`: the grammar of
 *   distribution/reference (`[host[:port]/]path[:tag][@digest]`).
 * - `path-segment`: one safe file-name part (no `/`, not `.`/`..`, no leading dot or dash).
 */
import type { Ajv } from 'ajv';

const re = (source: string, flags = '') => new RegExp(`^(?:${source})$`, flags);

// Maven: what Maven's own model validator allows in ids (`[A-Za-z0-9_\-.]+`), without `..` (a path).
const MAVEN_ID = '(?!.*\\.\\.)[A-Za-z0-9_][A-Za-z0-9_.-]*';
const MAVEN_VERSION = '(?!.*\\.\\.)[A-Za-z0-9_][A-Za-z0-9_.+-]*';

// PEP 440, as packaging.version.VERSION_PATTERN (case-insensitive).
const PEP440 =
  'v?(?:[0-9]+!)?[0-9]+(?:\\.[0-9]+)*' +
  '(?:[-_.]?(?:alpha|a|beta|b|preview|pre|c|rc)[-_.]?[0-9]*)?' +
  '(?:-[0-9]+|[-_.]?(?:post|rev|r)[-_.]?[0-9]*)?' +
  '(?:[-_.]?dev[-_.]?[0-9]*)?' +
  '(?:\\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?';
const PYTHON_NAME = '[A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9]';

// Go: golang.org/x/mod/module's CheckPath (import path elements, a host with a dot first).
const GO_HOST = '[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+';
const GO_ELEM = '[A-Za-z0-9_~-](?:[A-Za-z0-9._~-]*[A-Za-z0-9_~-])?';
const GO_VERSION =
  'v(?:0|[1-9][0-9]*)\\.(?:0|[1-9][0-9]*)\\.(?:0|[1-9][0-9]*)(?:-[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*)?(?:\\+[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*)?';

// OCI: distribution/reference's regexp.go.
const ALNUM = '[a-z0-9]+';
const PATH_COMPONENT = `${ALNUM}(?:(?:[._]|__|-+)${ALNUM})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9A-Fa-f:.]+\\])(?::[0-9]+)?`;
const OCI_REPOSITORY = `(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const OCI_TAG = '[\\w][\\w.-]{0,127}';
const OCI_DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,}';

/** Every format by name: a predicate on a string (pure). */
export const FORMATS: Record<string, (s: string) => boolean> = {
  'sha256-hex': (s) => /^[0-9a-f]{64}$/.test(s),
  'maven-group': (s) => re(`${MAVEN_ID}`).test(s),
  'maven-artifact': (s) => re(`${MAVEN_ID}`).test(s),
  'maven-version': (s) => re(MAVEN_VERSION).test(s),
  'maven-name': (s) => re(`${MAVEN_ID}:${MAVEN_ID}`).test(s),
  'pep440-version': (s) => re(PEP440, 'i').test(s),
  'python-name': (s) => re(PYTHON_NAME, 'i').test(s),
  'go-module-path': (s) => s.length <= 1024 && re(`${GO_HOST}(?:/${GO_ELEM})*`).test(s) && !s.split('/').some((e) => /^\.+$/.test(e)),
  'go-version': (s) => re(GO_VERSION).test(s),
  'oci-repository': (s) => s.length <= 255 && re(OCI_REPOSITORY).test(s),
  'oci-tag': (s) => re(OCI_TAG).test(s),
  'oci-digest': (s) => re(OCI_DIGEST).test(s),
  'oci-reference': (s) => {
    const m = re(`(${OCI_REPOSITORY})(?::${OCI_TAG})?(?:@${OCI_DIGEST})?`).exec(s);
    return !!m && m[1]!.length <= 255;
  },
  'path-segment': (s) => s.length <= 255 && /^[A-Za-z0-9_+][A-Za-z0-9_.+-]*$/.test(s),
};

/** Register every format of FORMATS on `ajv` (string formats; other types pass, as JSON Schema says). */
export function addSparkcraftFormats<T extends Ajv>(ajv: T): T {
  for (const [name, validate] of Object.entries(FORMATS)) ajv.addFormat(name, { type: 'string', validate });
  return ajv;
}
