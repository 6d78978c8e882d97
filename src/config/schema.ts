/**
 * The JSON Schema of matrix.yaml: every key the matrix may have, with its type and format; an
 * unknown key anywhere is refused with its key path. Pure data; the formats (Maven ids, PEP 440,
 * Go module paths, OCI names) are src/config/formats.ts's. What a schema cannot say (a track
 * listed twice, a flavour over a missing one, a jar built for another Scala) is checked in
 * src/config/matrix.ts after it.
 */
import type { JsonSchema } from '../lib/schema.ts';

const nonEmpty = { type: 'string', minLength: 1 };
const semverish = { type: 'string', pattern: '^\\d+\\.\\d+\\.\\d+([-+][0-9A-Za-z.-]+)?$' };
/** A Maven coordinate part (group, artifact, version, classifier). */
const mavenId = { type: 'string', format: 'maven-group' };
const mavenVersion = { type: 'string', format: 'maven-version' };
/** A PEP 440 public version (`4.6.6`, `1.0rc1`, `2.0.post1`). */
const pep440 = { type: 'string', format: 'pep440-version' };
/** A name safe in a file name, a tag and a YAML scalar (flavours, services). */
const name = { type: 'string', pattern: '^[a-z][a-z0-9]*(-[a-z0-9]+)*$' };
const track = '^\\d+\\.\\d+$';

const jar = {
  type: 'object',
  additionalProperties: false,
  required: ['group', 'artifact', 'version', 'license'],
  properties: {
    group: mavenId,
    artifact: { type: 'string', format: 'maven-artifact' },
    version: mavenVersion,
    classifier: { type: 'string', format: 'path-segment' },
    classifiers: { type: 'object', propertyNames: { pattern: '^[a-z0-9]+$' }, additionalProperties: { type: 'string', format: 'path-segment' } },
    license: nonEmpty,
  },
};
/** `group:artifact`, the artifact maybe `*` (a Maven exclusion). */
const groupArtifact = { type: 'string', pattern: '^[A-Za-z0-9_.-]+:([A-Za-z0-9_.-]+|\\*)$' };
const rootJar = {
  ...jar,
  properties: { ...jar.properties, exclude: { type: 'array', uniqueItems: true, items: groupArtifact } },
};
const pypi = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'version', 'license'],
  properties: { name: { type: 'string', format: 'python-name' }, version: pep440, license: nonEmpty },
};
/** One line of text with no character YAML or a shell would read as syntax at its start. */
const text = { type: 'string', pattern: '^[^\\s\\n#&*!|>\'"%@`{}\\[\\]-][^\\n]*$' };
const service = {
  type: 'object',
  additionalProperties: false,
  required: ['override'],
  properties: {
    override: { enum: ['merge', 'replace'] },
    summary: text,
    command: text,
    startup: { enum: ['enabled', 'disabled'] },
    'on-success': { enum: ['restart', 'shutdown', 'failure-shutdown', 'success-shutdown', 'ignore'] },
    'on-failure': { enum: ['restart', 'shutdown', 'failure-shutdown', 'success-shutdown', 'ignore'] },
    environment: { type: 'object', propertyNames: { pattern: '^[A-Z_][A-Z0-9_]*$' }, additionalProperties: text },
    needs: { type: 'string', pattern: '^[a-z][a-z0-9-]*$' },
  },
};

const flavour = {
  type: 'object',
  additionalProperties: false,
  required: ['image'],
  properties: {
    name,
    image: { type: 'string', pattern: '^[a-z0-9]+([._-][a-z0-9]+)*$' },
    tagVersion: { type: 'string', pattern: '^[0-9][0-9A-Za-z.]*$' },
    versionOf: { enum: ['jars', 'pypi'] },
    jars: { type: 'array', items: jar },
    pypi: { type: 'array', items: pypi },
    lines: {
      type: 'object',
      propertyNames: { pattern: track },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: {
          jars: { type: 'array', items: jar },
          pypi: { type: 'array', items: pypi },
          settings: {
            type: 'object',
            propertyNames: { pattern: '^[a-zA-Z][a-zA-Z0-9]*$' },
            additionalProperties: { type: 'string', pattern: '^[A-Za-z0-9_.:-]+$' },
          },
        },
      },
    },
    available: { type: 'boolean' },
    reason: nonEmpty,
    services: { type: 'object', propertyNames: name, additionalProperties: service },
    over: name,
    entrypointService: name,
    summary: text,
    wheelPython: { type: 'string', pattern: '^3\\.\\d+$' },
  },
};

const line = {
  type: 'object',
  additionalProperties: false,
  required: ['track', 'spark', 'scala', 'java', 'hadoop', 'py4j', 'rock', 'snap', 'distribution', 'jars', 'flavours'],
  properties: {
    track: { type: 'string', pattern: track },
    spark: semverish,
    scala: { enum: ['2.12', '2.13'] },
    java: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: [11, 17, 21, 25] } },
    hadoop: semverish,
    py4j: { type: 'string', pattern: '^py4j-[\\d.]+-src\\.zip$' },
    rock: { type: 'object', additionalProperties: false, required: ['base'], properties: { base: { enum: ['ubuntu@22.04', 'ubuntu@24.04'] } } },
    snap: { type: 'object', additionalProperties: false, required: ['base'], properties: { base: { enum: ['core22', 'core24'] } } },
    distribution: {
      type: 'object',
      additionalProperties: false,
      required: ['pypi'],
      properties: { pypi: pypi, tarball: { type: 'string', pattern: '^https://' } },
    },
    jars: { type: 'array', items: rootJar },
    provided: { type: 'array', uniqueItems: true, items: groupArtifact },
    flavours: { type: 'array', minItems: 1, items: name },
    unavailableServices: { type: 'object', propertyNames: name, additionalProperties: nonEmpty },
  },
};

export const matrixSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['defaultLine', 'defaultRisk', 'risks', 'architectures', 'project', 'flavours', 'lines'],
  properties: {
    defaultLine: { type: 'string', pattern: track },
    defaultRisk: { enum: ['edge', 'beta', 'candidate', 'stable'] },
    risks: { type: 'array', items: { enum: ['edge', 'beta', 'candidate', 'stable'] } },
    architectures: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', pattern: '^[a-z0-9]+$' } },
    project: {
      type: 'object',
      additionalProperties: false,
      required: ['registry', 'source', 'snapName', 'runUser', 'uid', 'pebble', 'debianSuites'],
      properties: {
        registry: { type: 'string', format: 'oci-repository' },
        source: { type: 'string', pattern: '^https://[^\\s]+$' },
        snapName: { type: 'string', pattern: '^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$' },
        runUser: { enum: ['_daemon_'] },
        uid: { type: 'integer', minimum: 1 },
        pebble: {
          type: 'object',
          additionalProperties: false,
          required: ['module', 'version'],
          properties: {
            module: { type: 'string', format: 'go-module-path' },
            version: { type: 'string', format: 'go-version' },
          },
        },
        debianSuites: {
          type: 'object',
          propertyNames: { pattern: '^\\d+$' },
          additionalProperties: {
            type: 'object',
            additionalProperties: false,
            required: ['suite', 'python'],
            properties: { suite: { type: 'string', pattern: '^[a-z]+$' }, python: { type: 'string', pattern: '^3\\.\\d+$' }, cds: { type: 'boolean' } },
          },
        },
      },
    },
    flavours: { type: 'object', propertyNames: name, additionalProperties: flavour },
    lines: { type: 'array', minItems: 1, items: line },
  },
};
