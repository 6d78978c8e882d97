/**
 * JSON Schema validation with ajv (draft 2020-12 keywords that our schemas use), reporting every
 * problem as one line with its key path (`lines[1].jars[0].group: must match …`). Pure once a schema
 * is compiled. Callers own their schemas (config/ for the matrix and the lock, render/ for the
 * manifests) and may add string formats (`formats`) by name.
 */
import { Ajv, type ErrorObject, type Format, type ValidateFunction } from 'ajv';

/** A JSON Schema object as we write them (plain data). */
export type JsonSchema = Record<string, unknown>;

/** `a.b[0].c` from ajv's `/a/b/0/c`. */
export function keyPath(pointer: string, extra?: string): string {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (extra !== undefined) parts.push(extra);
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out ? `.${p}` : p;
  return out;
}

function describe(e: ErrorObject, value: (pointer: string) => unknown): string {
  const p = e.params as Record<string, unknown>;
  const got = (ptr: string) => JSON.stringify(value(ptr));
  switch (e.keyword) {
    case 'required':
      return `${keyPath(e.instancePath, String(p.missingProperty))}: is required`;
    case 'additionalProperties':
      return `${keyPath(e.instancePath, String(p.additionalProperty))}: is not a known key`;
    case 'type':
      return `${keyPath(e.instancePath) || '(top level)'}: must be ${String(p.type).replace(/,/g, ' or ')}, got ${got(e.instancePath)}`;
    case 'enum':
      return `${keyPath(e.instancePath) || '(top level)'}: must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, got ${got(e.instancePath)}`;
    case 'pattern':
      return `${keyPath(e.instancePath)}: ${got(e.instancePath)} does not match ${String(p.pattern)}`;
    case 'format':
      return `${keyPath(e.instancePath)}: ${got(e.instancePath)} is not a valid ${String(p.format)}`;
    case 'minLength':
      return `${keyPath(e.instancePath)}: must not be empty`;
    case 'maxLength':
      return `${keyPath(e.instancePath)}: longer than ${String(p.limit)} characters`;
    case 'minItems':
    case 'minProperties':
      return `${keyPath(e.instancePath) || '(top level)'}: needs at least ${String(p.limit)} item(s)`;
    case 'propertyNames':
      return `${keyPath(e.instancePath, String(p.propertyName))}: is not a known key`;
    default:
      return `${keyPath(e.instancePath) || '(top level)'}: ${e.message ?? e.keyword}`;
  }
}

function pointerValue(doc: unknown, pointer: string): unknown {
  let v: unknown = doc;
  for (const raw of pointer.split('/').slice(1)) {
    const k = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  }
  return v;
}

/** A validator: the problems of `value` against `schema`, one line each, in document order. */
export type Validator = (value: unknown) => string[];

/** Compile `schema` once; `formats` are extra named string formats (a RegExp or a check). */
export function compileSchema(schema: JsonSchema, formats: Record<string, Format> = {}): Validator {
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
  for (const [name, f] of Object.entries(formats)) ajv.addFormat(name, f);
  const fn: ValidateFunction = ajv.compile(schema);
  return (value) => {
    if (fn(value)) return [];
    // `propertyNames` reports the key twice (its own error and the failed inner check): keep one line each.
    const lines = (fn.errors ?? [])
      .filter((e) => !(e.keyword === 'pattern' && e.propertyName !== undefined))
      .map((e) => describe(e, (ptr) => pointerValue(value, ptr)));
    return [...new Set(lines)];
  };
}
