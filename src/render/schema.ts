/**
 * A small validator for the subset of JSON Schema our manifest schemas use. Reports every problem
 * with its key path. No dependency: the schemas are plain data in schemas.ts.
 */
export interface Schema {
  type?:
    | 'object'
    | 'array'
    | 'string'
    | 'integer'
    | 'number'
    | 'boolean'
    | 'null'
    | Array<'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean' | 'null'>;
  properties?: Record<string, Schema>;
  patternProperties?: Record<string, Schema>;
  additionalProperties?: boolean | Schema;
  required?: string[];
  enum?: unknown[];
  pattern?: string;
  items?: Schema;
  minItems?: number;
  minLength?: number;
  maxLength?: number;
  description?: string;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

export function validate(value: unknown, schema: Schema, path = ''): string[] {
  const out: string[] = [];
  const at = path || '(top level)';
  if (schema.type) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    const t = typeOf(value);
    if (!types.includes(t as never) && !(t === 'integer' && types.includes('number'))) {
      return [`${at}: must be ${types.join(' or ')}, got ${t}`];
    }
  }
  if (schema.enum && !schema.enum.includes(value))
    out.push(`${at}: must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}, got ${JSON.stringify(value)}`);
  if (typeof value === 'string') {
    if (schema.pattern && !new RegExp(schema.pattern).test(value)) out.push(`${at}: ${JSON.stringify(value)} does not match ${schema.pattern}`);
    if (schema.minLength !== undefined && value.length < schema.minLength) out.push(`${at}: must not be empty`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength) out.push(`${at}: longer than ${schema.maxLength} characters`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) out.push(`${at}: needs at least ${schema.minItems} item(s)`);
    if (schema.items) for (const [i, v] of value.entries()) out.push(...validate(v, schema.items!, `${path}[${i}]`));
  }
  if (typeOf(value) === 'object') {
    const obj = value as Record<string, unknown>;
    for (const r of schema.required ?? []) if (!(r in obj)) out.push(`${path ? `${path}.` : ''}${r}: is required`);
    for (const [k, v] of Object.entries(obj)) {
      const kp = path ? `${path}.${k}` : k;
      const direct = schema.properties?.[k];
      if (direct) {
        out.push(...validate(v, direct, kp));
        continue;
      }
      const pat = Object.entries(schema.patternProperties ?? {}).find(([re]) => new RegExp(re).test(k));
      if (pat) {
        out.push(...validate(v, pat[1], kp));
        continue;
      }
      if (schema.additionalProperties === false) out.push(`${kp}: unknown key`);
      else if (typeof schema.additionalProperties === 'object') out.push(...validate(v, schema.additionalProperties, kp));
    }
  }
  return out;
}
