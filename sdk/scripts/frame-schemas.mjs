// The hub frames of asyncapi.yaml as the SDKs check them at run time: each
// frame type's schema (the whole frame: type, message, from) with every
// local $ref inlined and only the keywords the checkers read (TypeScript
// validate.ts, C# FrameSchemas.cs), and the frame types by direction.
// Used by gen-ts-pkg.mjs and gen-cs.mjs.

const ref = (doc, r) => r.replace(/^#\//, '').split('/').reduce((o, k) => o[k.replace(/~1/g, '/').replace(/~0/g, '~')], doc);

const keep = new Set(['type', 'const', 'enum', 'required', 'properties', 'items', 'minLength', 'maxLength', 'minimum', 'maximum', 'minItems', 'maxItems', 'pattern', 'oneOf', 'anyOf', 'allOf', 'nullable']);

// resolve inlines every local $ref (the hub schemas have no cycles) and
// keeps only the keywords in keep.
function resolve(doc, s, depth = 0) {
  if (depth > 50) throw new Error('schema nesting too deep (a cycle?)');
  if (Array.isArray(s)) return s.map((x) => resolve(doc, x, depth + 1));
  if (!s || typeof s !== 'object') return s;
  if (s.$ref) return resolve(doc, ref(doc, s.$ref), depth + 1);
  const out = {};
  for (const [k, v] of Object.entries(s)) {
    if (!keep.has(k)) continue;
    if (k === 'properties') out[k] = Object.fromEntries(Object.entries(v).map(([p, ps]) => [p, resolve(doc, ps, depth + 1)]));
    else out[k] = resolve(doc, v, depth + 1);
  }
  return out;
}

/** frameSchemas returns { schemas: {type: schema}, client: Set, server: Set } for an AsyncAPI document. */
export function frameSchemas(asyncapi) {
  const schemas = {};
  const client = new Set();
  const server = new Set();
  for (const channel of Object.values(asyncapi.channels)) {
    for (const [action, set] of [['publish', client], ['subscribe', server]]) {
      const op = channel[action];
      if (!op) continue;
      const msgs = op.message.oneOf ?? [op.message];
      for (const m of msgs) {
        const msg = m.$ref ? ref(asyncapi, m.$ref) : m;
        const frame = resolve(asyncapi, msg.payload);
        const type = frame.properties?.type?.const;
        if (typeof type !== 'string') throw new Error(`message ${msg.name}: payload has no const type`);
        schemas[type] = frame;
        set.add(type);
      }
    }
  }
  return { schemas, client, server };
}
