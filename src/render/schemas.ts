/**
 * What rockcraft and snapcraft accept, for the keys our manifests use, written from their
 * reference documentation (rockcraft.yaml format; snapcraft.yaml reference; craft-parts part
 * properties; pebble layer specification). Unknown keys are errors, as the craft tools make them. Checked with ajv (src/lib/schema.ts).
 */
import type { JsonSchema } from '../lib/schema.ts';

type Schema = JsonSchema;

const str: Schema = { type: 'string', minLength: 1 };
const strList: Schema = { type: 'array', items: str };
const env: Schema = { type: 'object', additionalProperties: { type: 'string' } };

/** craft-parts part properties (the subset shared by rockcraft and snapcraft). */
const part: Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['plugin'],
  properties: {
    plugin: { type: 'string', enum: ['nil', 'dump', 'make', 'python', 'go', 'maven', 'ant', 'autotools', 'cmake', 'npm', 'rust'] },
    source: str,
    'source-type': { type: 'string', enum: ['local', 'tar', 'git', 'deb', 'zip', 'file', 'snap', 'rpm', '7z'] },
    'source-checksum': { type: 'string', pattern: '^(md5|sha1|sha224|sha256|sha384|sha512)/[0-9a-f]+$' },
    'stage-packages': strList,
    // The overlay step is rockcraft's (a layer over the base's files); snapcraft has none.
    'overlay-packages': strList,
    'overlay-script': { type: 'string' },
    'build-packages': strList,
    after: strList,
    organize: { type: 'object', additionalProperties: { type: 'string' } },
    stage: strList,
    prime: strList,
    'override-build': { type: 'string' },
    'override-stage': { type: 'string' },
    'override-prime': { type: 'string' },
    permissions: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        properties: { path: str, owner: { type: 'integer' }, group: { type: 'integer' }, mode: { type: 'string', pattern: '^[0-7]{3,4}$' } },
      },
    },
  },
};

const pebbleService: Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['override', 'command'],
  properties: {
    override: { type: 'string', enum: ['merge', 'replace'] },
    summary: { type: 'string' },
    description: { type: 'string' },
    command: str,
    startup: { type: 'string', enum: ['enabled', 'disabled'] },
    'on-success': { type: 'string', enum: ['restart', 'shutdown', 'failure-shutdown', 'success-shutdown', 'ignore'] },
    'on-failure': { type: 'string', enum: ['restart', 'shutdown', 'failure-shutdown', 'success-shutdown', 'ignore'] },
    environment: env,
    'user-id': { type: 'integer' },
    user: str,
    'group-id': { type: 'integer' },
    group: str,
    'working-dir': str,
    after: strList,
    before: strList,
    requires: strList,
  },
};

export const rockcraftSchema: Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'version', 'base', 'platforms', 'parts', 'summary', 'description', 'license'],
  properties: {
    name: { type: 'string', pattern: '^[a-z0-9]([a-z0-9-]*[a-z0-9])?$', maxLength: 40 },
    title: str,
    summary: { type: 'string', minLength: 1, maxLength: 78 },
    description: str,
    version: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9.+~_-]{0,31}$' },
    license: str,
    base: { type: 'string', enum: ['bare', 'ubuntu@20.04', 'ubuntu@22.04', 'ubuntu@24.04'] },
    'build-base': { type: 'string', enum: ['ubuntu@20.04', 'ubuntu@22.04', 'ubuntu@24.04', 'devel'] },
    platforms: {
      type: 'object',
      minProperties: 1,
      patternProperties: { '^(amd64|arm64|armhf|ppc64el|riscv64|s390x)$': { type: ['object', 'null'] } },
      additionalProperties: false,
    },
    'run-user': { type: 'string', enum: ['_daemon_'] },
    'entrypoint-service': str,
    environment: env,
    services: { type: 'object', additionalProperties: pebbleService },
    checks: { type: 'object' },
    parts: { type: 'object', additionalProperties: part },
  },
};

const app: Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['command'],
  properties: {
    command: { type: 'string', pattern: '^[A-Za-z0-9/._#:$+-][^\\s]*( .*)?$' },
    'command-chain': strList,
    plugs: strList,
    environment: env,
    daemon: { type: 'string', enum: ['simple', 'forking', 'oneshot', 'notify', 'dbus'] },
    aliases: strList,
  },
};

export const snapcraftSchema: Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'base', 'version', 'summary', 'description', 'confinement', 'parts'],
  properties: {
    name: { type: 'string', pattern: '^(?=.*[a-z])[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$' },
    title: str,
    summary: { type: 'string', minLength: 1, maxLength: 78 },
    description: str,
    version: { type: 'string', pattern: '^[a-zA-Z0-9](?:[a-zA-Z0-9:.+~-]{0,30}[a-zA-Z0-9+~])?$' },
    license: str,
    base: { type: 'string', enum: ['core18', 'core20', 'core22', 'core24'] },
    grade: { type: 'string', enum: ['stable', 'devel'] },
    confinement: { type: 'string', enum: ['strict', 'classic', 'devmode'] },
    architectures: {
      type: 'array',
      items: {
        type: 'object',
        properties: { 'build-on': { type: ['string', 'array'] }, 'build-for': { type: ['string', 'array'] } },
        additionalProperties: false,
      },
    },
    platforms: { type: 'object', additionalProperties: { type: ['object', 'null'] } },
    environment: env,
    plugs: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        required: ['interface'],
        properties: { interface: str, read: strList, write: strList },
        additionalProperties: false,
      },
    },
    apps: { type: 'object', patternProperties: { '^[a-zA-Z0-9](?:-?[a-zA-Z0-9])*$': app }, additionalProperties: false },
    hooks: { type: 'object' },
    parts: { type: 'object', additionalProperties: part },
  },
};
