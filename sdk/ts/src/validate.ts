// A small JSON Schema checker for the subset asyncapi.yaml uses (type,
// const, enum, required, properties, items, string/number/array bounds,
// pattern, oneOf/anyOf/allOf, nullable), so that HubClient can check
// incoming frames without a runtime dependency. Unknown fields are
// allowed: the hub contract says clients ignore them.

export interface Schema {
  type?: string | string[];
  const?: unknown;
  enum?: unknown[];
  required?: string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  oneOf?: Schema[];
  anyOf?: Schema[];
  allOf?: Schema[];
  nullable?: boolean;
  'x-nullable'?: boolean;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function typeMatches(want: string, got: string): boolean {
  return want === got || (want === 'number' && got === 'integer');
}

/** validate returns the first violation of value against schema, or undefined. */
export function validate(schema: Schema, value: unknown, path = '$'): string | undefined {
  if (value === null && schema.nullable) return undefined;
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    const got = typeOf(value);
    if (!types.some((t) => typeMatches(t, got))) return `${path}: want ${types.join('|')}, got ${got}`;
  }
  if ('const' in schema && schema.const !== value) return `${path}: want ${JSON.stringify(schema.const)}`;
  if (schema.enum && !schema.enum.includes(value)) return `${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`;
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && [...value].length < schema.minLength) return `${path}: shorter than ${schema.minLength}`;
    if (schema.maxLength !== undefined && [...value].length > schema.maxLength) return `${path}: longer than ${schema.maxLength}`;
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) return `${path}: does not match ${schema.pattern}`;
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) return `${path}: below ${schema.minimum}`;
    if (schema.maximum !== undefined && value > schema.maximum) return `${path}: above ${schema.maximum}`;
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) return `${path}: fewer than ${schema.minItems} items`;
    if (schema.maxItems !== undefined && value.length > schema.maxItems) return `${path}: more than ${schema.maxItems} items`;
    if (schema.items) {
      for (let i = 0; i < value.length; i++) {
        const e = validate(schema.items, value[i], `${path}[${i}]`);
        if (e) return e;
      }
    }
  }
  if (typeOf(value) === 'object') {
    const obj = value as Record<string, unknown>;
    for (const k of schema.required ?? []) if (!(k in obj)) return `${path}.${k}: required`;
    for (const [k, s] of Object.entries(schema.properties ?? {})) {
      if (k in obj) {
        const e = validate(s, obj[k], `${path}.${k}`);
        if (e) return e;
      }
    }
  }
  for (const s of schema.allOf ?? []) {
    const e = validate(s, value, path);
    if (e) return e;
  }
  if (schema.anyOf && !schema.anyOf.some((s) => validate(s, value, path) === undefined)) return `${path}: matches none of anyOf`;
  if (schema.oneOf && schema.oneOf.filter((s) => validate(s, value, path) === undefined).length !== 1) return `${path}: does not match exactly one of oneOf`;
  return undefined;
}
