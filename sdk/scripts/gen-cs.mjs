// Generates C# models for Unity from openapi.yaml or asyncapi.yaml with
// Modelina, in a C# 7.2 subset (compiles with Debian's mono mcs and in Unity's
// C# 9), without `dynamic` (IL2CPP), serialised by Newtonsoft.Json through
// attributes only (works with Debian's Json.NET 6.0.8 and Unity's 13.x).
// From openapi.yaml it also writes ParadiseClient.cs (one method per
// operation) and, per oneOf schema with a discriminator (ChatStreamEvent), a
// parser by its discriminator; from asyncapi.yaml, Frames.cs (a frame parser
// by `type`).
// usage: node scripts/gen-cs.mjs <spec.yaml> <outDir> <namespace>
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import yaml from 'js-yaml';
import modelina from '@asyncapi/modelina';
import { frameSchemas } from './frame-schemas.mjs';
const { CSharpFileGenerator, CSharpGenerator } = modelina;

const [input, outDir, namespace] = process.argv.slice(2);
const text = await readFile(input, 'utf8');
const doc = yaml.load(text);
const isOpenAPI = typeof doc.openapi === 'string';
const pascal = (s) => String(s).split(/[^A-Za-z0-9]+/).filter(Boolean).map((w) => w[0].toUpperCase() + w.slice(1)).join('');

// OpenAPI 3.0 -> JSON Schema for Modelina, which ignores `nullable`:
// nullable primitives become `type: [t, 'null']`; a nullable `allOf: [$ref]`
// wrapper becomes the bare $ref (C# references are nullable anyway).
function normalize(node) {
  if (Array.isArray(node)) return node.map(normalize);
  if (!node || typeof node !== 'object') return node;
  const out = Object.fromEntries(Object.entries(node).map(([k, v]) => [k, normalize(v)]));
  if (out.properties) {
    const nullables = Object.entries(node.properties).filter(([, v]) => v && (v.nullable === true || (v.$ref && doc.components?.schemas?.[v.$ref.split('/').pop()]?.nullable === true))).map(([k]) => k);
    if (nullables.length) out['x-nullable-properties'] = nullables;
  }
  if (out.nullable === true) {
    delete out.nullable;
    if (out.allOf?.length === 1 && out.allOf[0].$ref && !out.properties) return { $ref: out.allOf[0].$ref };
    if (typeof out.type === 'string' && out.type !== 'object') out.type = [out.type, 'null'];
  }
  return out;
}
if (isOpenAPI) {
  for (const [name, s] of Object.entries(doc.components?.schemas ?? {})) {
    if (!s.title) throw new Error(`components.schemas.${name} has no title (Modelina names models by title)`);
  }
}

const valueTypes = new Set(['int', 'long', 'double', 'bool', 'System.DateTimeOffset', 'System.DateTime', 'System.TimeSpan', 'System.Guid']);
const t = (name, { constrainedModel, partOfProperty }) => {
  const nullable = (partOfProperty && !partOfProperty.required) || constrainedModel.options.isNullable;
  return nullable && valueTypes.has(name) ? `${name}?` : name; // no `T?` on references: C# 8
};
const typeMapping = {
  Object: (a) => a.constrainedModel.name,
  Reference: (a) => t(a.constrainedModel.ref instanceof modelina.ConstrainedEnumModel ? a.constrainedModel.name : a.constrainedModel.name, a)
    + (a.constrainedModel.ref instanceof modelina.ConstrainedEnumModel && ((a.partOfProperty && !a.partOfProperty.required) || a.constrainedModel.options.isNullable) ? '?' : ''),
  Any: () => 'object',
  Union: () => 'object',
  Float: (a) => t('double', a),
  Integer: (a) => t(a.constrainedModel.options.format === 'int64' ? 'long' : 'int', a),
  String: (a) => t(a.constrainedModel.options.format === 'date-time' ? 'System.DateTimeOffset' : 'string', a),
  Boolean: (a) => t('bool', a),
  Array: (a) => `List<${a.constrainedModel.valueModel.type}>`,
  Dictionary: (a) => `Dictionary<${a.constrainedModel.key.type}, ${a.constrainedModel.value.type}>`,
  Enum: (a) => t('string', a),
  Tuple: () => 'List<object>',
};

const preset = {
  class: {
    self: async ({ renderer, model }) => {
      renderer.dependencyManager.addDependency('using System.Collections.Generic;');
      renderer.dependencyManager.addDependency('using Newtonsoft.Json;');
      const desc = model.originalInput?.description;
      const props = [];
      for (const p of Object.values(model.properties)) {
        const raw = p.unconstrainedPropertyName;
        const name = pascal(raw) === model.name ? `${pascal(raw)}Value` : pascal(raw);
        const c = p.property.options.const;
        const pdesc = p.property.originalInput?.description;
        const doc = pdesc ? `/// <summary>${pdesc.trim().replace(/\s*\n\s*/g, ' ').replace(/&/g, '&amp;').replace(/</g, '&lt;')}</summary>\n` : '';
        if (c) {
          props.push(`${doc}[JsonProperty("${raw}", Required = Required.Always)]\npublic string ${name} { get { return ${c.value}; } }`);
          continue;
        }
        const nullable = !!p.property.options.isNullable || (model.originalInput?.['x-nullable-properties'] ?? []).includes(raw);
        const req = p.required ? (nullable ? 'Required.AllowNull' : 'Required.Always') : 'Required.Default, NullValueHandling = NullValueHandling.Ignore';
        props.push(`${doc}[JsonProperty("${raw}", Required = ${req})]\npublic ${p.property.type} ${name} { get; set; }`);
      }
      const sum = desc ? `/// <summary>${desc.trim().replace(/\s*\n\s*/g, ' ').replace(/&/g, '&amp;').replace(/</g, '&lt;')}</summary>\n` : '';
      return `${sum}public partial class ${model.name}\n{\n${renderer.indent(props.join('\n\n'))}\n}`;
    },
  },
  enum: {
    self: async ({ renderer, model }) => {
      renderer.dependencyManager.addDependency('using System.Runtime.Serialization;');
      renderer.dependencyManager.addDependency('using Newtonsoft.Json;');
      renderer.dependencyManager.addDependency('using Newtonsoft.Json.Converters;');
      const raw = model.originalInput.enum;
      // An integer enum (sample rates 8000/16000/24000) is a number on the
      // wire: its members carry their values (V8000 = 8000) and
      // Paradise.NumericEnumConverter writes and reads them as JSON numbers
      // (StringEnumConverter would write "8000", which the server rejects).
      if (raw.every((v) => Number.isInteger(v))) {
        const items = raw.map((v) => `V${v} = ${v}`);
        return `[JsonConverter(typeof(Paradise.NumericEnumConverter))]\npublic enum ${model.name}\n{\n${renderer.indent(items.join(',\n'))}\n}`;
      }
      // Members must be identifiers: "-name" (a descending ordering) is NameDesc.
      const member = (v) => (String(v).startsWith('-') ? `${pascal(String(v).slice(1))}Desc` : pascal(v));
      const items = raw.map((v) => `[EnumMember(Value = ${JSON.stringify(String(v))})]\n${member(v)}`);
      return `[JsonConverter(typeof(StringEnumConverter))]\npublic enum ${model.name}\n{\n${renderer.indent(items.join(',\n'))}\n}`;
    },
  },
};

const generator = new CSharpFileGenerator({
  typeMapping,
  presets: [preset],
  processorOptions: {
    jsonSchema: { ignoreAdditionalProperties: true, interpretSingleEnumAsConst: true },
    openapi: { includeComponentSchemas: true },
  },
});
await rm(outDir, { recursive: true, force: true });
const inputDoc = isOpenAPI ? normalize(doc) : text;
const models = await generator.generateCompleteModels(inputDoc, { namespace });
const names = [];
const { mkdir } = await import('node:fs/promises');
await mkdir(outDir, { recursive: true });
for (const m of models) {
  if (!m.modelName || !(m.model instanceof modelina.ConstrainedObjectModel || m.model instanceof modelina.ConstrainedEnumModel)) continue; // primitives, unions
  if (m.modelName.startsWith('Slash')) continue; // per-channel unions (one name for both directions)
  if (/^Anonymous|^Data[A-Z]|^Api/.test(m.modelName)) throw new Error(`unnamed model ${m.modelName}: give its schema a title`);
  names.push(m.modelName);
  await writeFile(path.join(outDir, `${m.modelName}.cs`), m.result + '\n');
}

// A static class with Parse(json): from a discriminator value (a frame's or
// an event's `type`) to the class generated for it; null for an unknown one.
const summary = (t) => String(t ?? '').trim().replace(/\s*\n\s*/g, ' ').replace(/&/g, '&amp;').replace(/</g, '&lt;');
async function writeParser(className, doc, prop, cases) {
  const body = cases.map(([value, cls]) => `case ${JSON.stringify(value)}: return o.ToObject<${cls}>();`).join('\n          ');
  await writeFile(path.join(outDir, `${className}.cs`), `using Newtonsoft.Json.Linq;

namespace ${namespace}
{
  /// <summary>${summary(doc)}</summary>
  public static class ${className}
  {
    /// <summary>Parses one JSON object into the class generated for its <c>${prop}</c>; null for an unknown value.</summary>
    public static object Parse(string json)
    {
      JObject o = JObject.Parse(json);
      JToken type = o[${JSON.stringify(prop)}];
      switch (type == null ? null : (string)type)
      {
          ${body}
          default: return null;
      }
    }
  }
}
`);
  names.push(className);
}

// WebSocket: a parser from a frame's `type` to its generated class.
if (!isOpenAPI) {
  const frames = [];
  for (const msg of Object.values(doc.components.messages)) {
    const ref = msg.payload.$ref.split('/').pop();
    const title = doc.components.schemas[ref].title;
    frames.push([doc.components.schemas[ref].properties.type.const, title]);
  }
  await writeParser('Frames', 'Parses a hub frame into the class generated for its type.', 'type', frames);
  await writeHubFrames();
}

// The typed part of Paradise.Ws.HubClient (its core is hand-written,
// sdk/cs/Runtime/Hub/HubClient.cs): the frame types by direction (publish =
// client to server in AsyncAPI 2), an event per server frame type
// (OnChatDelta) raised by DispatchPending, and a Send method per client
// frame type (SendChatRequest) taking the frame's payload class.
async function writeHubFrames() {
  const dir = { client: new Map(), server: new Map() };
  for (const channel of Object.values(doc.channels)) {
    for (const [action, map] of [['publish', dir.client], ['subscribe', dir.server]]) {
      for (const m of channel[action]?.message?.oneOf ?? []) {
        const msg = doc.components.messages[m.$ref.split('/').pop()];
        const schema = doc.components.schemas[msg.payload.$ref.split('/').pop()];
        const cls = schema.title;
        const src = await readFile(path.join(outDir, `${cls}.cs`), 'utf8');
        const payload = /public (.+?) Message \{/.exec(src)?.[1];
        if (!payload) throw new Error(`${cls}: no Message property`);
        map.set(schema.properties.type.const, { cls, payload, summary: msg.summary ?? msg.title });
      }
    }
  }
  const list = (m) => [...m.keys()].sort().map((k) => JSON.stringify(k)).join(', ');
  const events = [...dir.server].map(([type, f]) => `    /// <summary>A <c>${type}</c> frame: ${summary(f.summary)} Raised by DispatchPending.</summary>
    public event Action<${f.cls}> On${pascal(type)};`).join('\n\n');
  const dispatch = [...dir.server].map(([type, f], i) => `      var f${i} = frame as ${f.cls};
      if (f${i} != null)
      {
        var h = On${pascal(type)};
        if (h != null) h(f${i});
        return;
      }`).join('\n');
  const sends = [...dir.client].map(([type, f]) => `    /// <summary>Sends a <c>${type}</c> frame: ${summary(f.summary)} Fails when the session is not open.</summary>
    public Task Send${pascal(type)}(${f.payload} message)
    {
      return SendFrame(new ${f.cls} { Message = message });
    }`).join('\n\n');
  await writeFile(path.join(outDir, 'HubClient.Frames.cs'), `// Generated by sdk/scripts/gen-cs.mjs from asyncapi.yaml; do not edit.
using System;
using System.Collections.Generic;
using System.Threading.Tasks;

namespace ${namespace}
{
  public sealed partial class HubClient
  {
    /// <summary>Frame types the server sends (subscribe operations).</summary>
    public static readonly string[] ServerFrameTypes = { ${list(dir.server)} };
    /// <summary>Frame types a client may send (publish operations).</summary>
    public static readonly string[] ClientFrameTypes = { ${list(dir.client)} };
  }

  public static partial class FrameSchemas
  {
    // Each frame type's schema from asyncapi.yaml ($refs inlined), read by Check.
    const string Json = @"${JSON.stringify(frameSchemas(doc).schemas).replace(/"/g, '""')}";
  }

  public sealed partial class HubClient
  {

${events}

    void DispatchTyped(object frame)
    {
${dispatch}
    }

${sends}
  }
}
`);
  names.push('HubClient.Frames');
}
// OpenAPI: a parser per oneOf schema with a discriminator mapping (e.g.
// ChatStreamEvent, the data of a streamed chat reply's Server-Sent Events),
// named after the schema's title; Modelina emits no class for a union.
if (isOpenAPI) {
  for (const [key, s] of Object.entries(doc.components?.schemas ?? {})) {
    if (!s.oneOf || !s.discriminator?.mapping) continue;
    if (names.includes(s.title)) throw new Error(`components.schemas.${key}: a model named ${s.title} exists already`);
    const cases = Object.entries(s.discriminator.mapping).map(([value, ref]) => [value, doc.components.schemas[ref.split('/').pop()].title]);
    await writeParser(s.title, s.description ?? `Parses a ${s.title}.`, s.discriminator.propertyName, cases);
  }
}
// REST: a client with one method per operation (named after its
// operationId), typed by the models above. Errors throw ApiException with the
// envelope. Each operation also has an XxxAsync twin returning a Task. The
// transport (Send, SendAsync; virtual) is hand-written in
// sdk/cs/Runtime/Rest/ParadiseClient.Transport.cs: UnityWebRequest under
// Unity, HttpClient elsewhere.
if (isOpenAPI) {
  const xml = (t) => String(t ?? '').trim().replace(/\s*\n\s*/g, ' ').replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const camel = (s) => { const p = pascal(s); return p[0].toLowerCase() + p.slice(1); };
  const schemaName = (ref) => {
    const key = ref.split('/').pop();
    return doc.components.schemas[key].title ?? key;
  };
  const param = (p) => (p.$ref ? doc.components.parameters[p.$ref.split('/').pop()] : p);
  const csType = (schema, optional) => {
    const t = schema.type === 'integer' ? (schema.format === 'int64' ? 'long' : 'int') : schema.type === 'boolean' ? 'bool' : schema.type === 'number' ? 'double' : 'string';
    return optional && t !== 'string' ? `${t}?` : t;
  };
  const methods = [];
  for (const [route, item] of Object.entries(doc.paths)) {
    for (const [verb, op] of Object.entries(item)) {
      if (!['get', 'put', 'post', 'patch', 'delete'].includes(verb)) continue;
      if (!op.operationId) throw new Error(`${verb} ${route}: no operationId`);
      const params = [...(item.parameters ?? []), ...(op.parameters ?? [])].map(param);
      const args = [];
      const ok = Object.entries(op.responses).find(([code]) => /^2\d\d$/.test(code));
      const okTypes = Object.keys(ok?.[1]?.content ?? {});
      const bodyTypes = Object.keys(op.requestBody?.content ?? {});
      // The typed method of an operation that can also stream Server-Sent
      // Events asks for the envelope, so its `stream` switch is left out.
      const streams = okTypes.includes('text/event-stream');
      const pathParams = params.filter((p) => p.in === 'path');
      const queryParams = params.filter((p) => p.in === 'query' && !(streams && p.name === 'stream'));
      for (const p of pathParams) args.push(`${csType(p.schema, false)} ${camel(p.name)}`);
      const body = op.requestBody?.content?.['application/json']?.schema?.$ref;
      if (body) args.push(`${schemaName(body)} body`);
      // Raw audio in (speechToText, voiceChat): the bytes are the body.
      const bytesIn = !body && bodyTypes.includes('application/octet-stream');
      if (bytesIn) args.push('byte[] body');
      for (const p of queryParams) args.push(`${csType(p.schema, true)} ${camel(p.name)} = null`);
      const result = ok?.[1]?.content?.['application/json']?.schema?.$ref;
      // Audio out (textToSpeech): every success type is binary audio; the
      // method returns a BinaryResponse (bytes, content type, headers).
      const audioOut = okTypes.length > 0 && okTypes.every((t) => t.startsWith('audio/')) && (!bodyTypes.length || body);
      if (!audioOut && ((okTypes.length && !okTypes.includes('application/json')) || (bodyTypes.length && !body && !bytesIn))) {
        // Another kind of body in or out (an endless event stream only): no typed method; Send reaches it.
        continue;
      }
      if (!audioOut && !result) throw new Error(`${op.operationId}: no JSON success response with a $ref schema`);
      let pathExpr = JSON.stringify(route);
      for (const p of pathParams) pathExpr = pathExpr.replace(`{${p.name}}`, `" + ${camel(p.name)} + "`);
      pathExpr = pathExpr.replace(/ \+ ""$/, '');
      const query = queryParams.map((p) => `Query(q, ${JSON.stringify(p.name)}, ${camel(p.name)});`);
      const returns = audioOut ? 'BinaryResponse' : schemaName(result);
      // Call<T> (JSON both ways), CallWithBytes<T> (raw body, JSON answer)
      // or CallForBytes (JSON body, binary answer; Accept lists the success
      // types, and JSON for the error envelope).
      const callee = audioOut ? 'CallForBytes' : bytesIn ? `CallWithBytes<${returns}>` : `Call<${returns}>`;
      const extra = audioOut ? `, ${JSON.stringify([...okTypes, 'application/json'].join(', '))}` : '';
      const target = queryParams.length ? `${pathExpr} + QueryString(q)` : pathExpr;
      const invoke = `return ${callee}(${JSON.stringify(verb.toUpperCase())}, ${target}, ${body || bytesIn ? 'body' : 'null'}${extra});`;
      const lines = [
        `/// <summary>${xml(op.summary)} (<c>${verb.toUpperCase()} ${route}</c>, ${op.operationId}).${bytesIn ? ' body: the raw audio (application/octet-stream).' : ''}${audioOut ? ' Returns the audio: Body, ContentType, Headers.' : ''}</summary>`,
        `public ${returns} ${pascal(op.operationId)}(${args.join(', ')})`,
        '{',
        queryParams.length ? `  var q = new List<string>();\n  ${query.join('\n  ')}\n  ${invoke}` : `  ${invoke}`,
        '}',
      ];
      methods.push(lines.join('\n'));
      // The Task twin: the same request through SendAsync / SendBytesAsync
      // (UnityWebRequest under Unity, HttpClient elsewhere).
      const call = lines[3].replace(/return (Call|CallWithBytes|CallForBytes)\b/, 'return $1Async');
      methods.push([
        lines[0].replace('<summary>', '<summary>Async: '),
        `public Task<${returns}> ${pascal(op.operationId)}Async(${args.join(', ')})`,
        '{',
        call,
        '}',
      ].join('\n'));
    }
  }
  const indent = (t, n) => t.split('\n').map((l) => (l ? ' '.repeat(n) + l : l)).join('\n');
  await writeFile(path.join(outDir, 'ParadiseClient.cs'), `using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Text;
using System.Threading.Tasks;
using Newtonsoft.Json;

namespace ${namespace}
{
  /// <summary>A response with a non-2xx status: the error envelope.</summary>
  public class ApiException : Exception
  {
    public int Status { get; private set; }
    public Error Envelope { get; private set; }
    public ApiException(int status, Error envelope, string body)
      : base("HTTP " + status + ": " + (envelope != null ? envelope.Message : body))
    {
      Status = status;
      Envelope = envelope;
    }
  }

  /// <summary>Client of ${xml(doc.info.title)} ${xml(doc.info.version)}, one method per operation.</summary>
  public partial class ParadiseClient
  {
    /// <summary>Base URL without trailing slash, e.g. http://localhost:8000.</summary>
    public string BaseUrl { get; set; }
    /// <summary>Token sent as <c>Authorization: Token &lt;token&gt;</c> when set.</summary>
    public string Token { get; set; }

    public ParadiseClient(string baseUrl) { BaseUrl = baseUrl.TrimEnd('/'); }

    protected T Call<T>(string method, string pathAndQuery, object body)
    {
      string json;
      int status = Send(method, pathAndQuery, body == null ? null : JsonConvert.SerializeObject(body), out json);
      if (status >= 200 && status < 300) return JsonConvert.DeserializeObject<T>(json);
      throw Failure(status, json);
    }

    protected async Task<T> CallAsync<T>(string method, string pathAndQuery, object body)
    {
      RawResponse r = await SendAsync(method, pathAndQuery, body == null ? null : JsonConvert.SerializeObject(body)).ConfigureAwait(false);
      if (r.Status >= 200 && r.Status < 300) return JsonConvert.DeserializeObject<T>(r.Body);
      throw Failure(r.Status, r.Body);
    }

    protected T CallWithBytes<T>(string method, string pathAndQuery, byte[] body)
    {
      BinaryResponse r = SendBytes(method, pathAndQuery, body, "application/octet-stream", "application/json");
      if (r.Status >= 200 && r.Status < 300) return JsonConvert.DeserializeObject<T>(r.Text);
      throw Failure(r.Status, r.Text);
    }

    protected async Task<T> CallWithBytesAsync<T>(string method, string pathAndQuery, byte[] body)
    {
      BinaryResponse r = await SendBytesAsync(method, pathAndQuery, body, "application/octet-stream", "application/json").ConfigureAwait(false);
      if (r.Status >= 200 && r.Status < 300) return JsonConvert.DeserializeObject<T>(r.Text);
      throw Failure(r.Status, r.Text);
    }

    protected BinaryResponse CallForBytes(string method, string pathAndQuery, object body, string accept)
    {
      BinaryResponse r = SendBytes(method, pathAndQuery, body == null ? null : Encoding.UTF8.GetBytes(JsonConvert.SerializeObject(body)), "application/json", accept);
      if (r.Status >= 200 && r.Status < 300) return r;
      throw Failure(r.Status, r.Text);
    }

    protected async Task<BinaryResponse> CallForBytesAsync(string method, string pathAndQuery, object body, string accept)
    {
      BinaryResponse r = await SendBytesAsync(method, pathAndQuery, body == null ? null : Encoding.UTF8.GetBytes(JsonConvert.SerializeObject(body)), "application/json", accept).ConfigureAwait(false);
      if (r.Status >= 200 && r.Status < 300) return r;
      throw Failure(r.Status, r.Text);
    }

    static ApiException Failure(int status, string json)
    {
      Error envelope = null;
      try { envelope = JsonConvert.DeserializeObject<Error>(json); } catch (JsonException) { }
      return new ApiException(status, envelope, json);
    }

    static void Query(List<string> q, string name, object value)
    {
      if (value != null) q.Add(Uri.EscapeDataString(name) + "=" + Uri.EscapeDataString(Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)));
    }

    static string QueryString(List<string> q) { return q.Count == 0 ? "" : "?" + string.Join("&", q.ToArray()); }

${indent(methods.join('\n\n'), 4)}
  }
}
`);
  names.push('ParadiseClient');
}
console.log(`${names.length} files: ${names.join(' ')}`);
