// Hand-written runtime of the Unity package (copied by sdk/run.sh). The
// schemas themselves are generated from asyncapi.yaml into
// Ws/HubClient.Frames.cs (FrameSchemas.Json).
//
// FrameSchemas checks a hub frame against its schema the way the
// TypeScript SDK's validate.ts does (the same subset of JSON Schema: type,
// const, enum, required, properties, items, string/number/array bounds,
// pattern, oneOf/anyOf/allOf, nullable; unknown fields allowed), so that
// HubClient rejects what the TypeScript HubClient rejects: Json.NET's own
// checks (required members, types, closed enums) do not cover patterns,
// lengths or bounds.
using System;
using System.Collections.Generic;
using System.IO;
using System.Text.RegularExpressions;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Paradise.Ws
{
  public static partial class FrameSchemas
  {
    static JObject schemas;
    static readonly Dictionary<string, Regex> patterns = new Dictionary<string, Regex>();
    static readonly object gate = new object();

    /// <summary>Parses JSON text without turning date-like strings into dates (the schemas see strings).</summary>
    public static JToken ParseRaw(string json)
    {
      using (var reader = new JsonTextReader(new StringReader(json)) { DateParseHandling = DateParseHandling.None })
      {
        var t = JToken.ReadFrom(reader);
        if (reader.Read()) throw new JsonReaderException("trailing data after the frame");
        return t;
      }
    }

    /// <summary>
    /// Check returns the first way the frame breaks its type's schema (a path
    /// and what is wrong), or null when it conforms. An unknown type is a
    /// violation.
    /// </summary>
    public static string Check(string type, JToken frame)
    {
      JObject all;
      lock (gate)
      {
        if (schemas == null) schemas = JObject.Parse(Json);
        all = schemas;
      }
      var schema = all[type] as JObject;
      if (schema == null) return "$.type: unknown frame type " + type;
      return Validate(schema, frame, "$");
    }

    static string TypeOf(JToken v)
    {
      switch (v.Type)
      {
        case JTokenType.Null: return "null";
        case JTokenType.Array: return "array";
        case JTokenType.Object: return "object";
        case JTokenType.Boolean: return "boolean";
        case JTokenType.String: return "string";
        case JTokenType.Integer: return "integer";
        case JTokenType.Float:
          var d = (double)v;
          return Math.Floor(d) == d && !double.IsInfinity(d) ? "integer" : "number";
        default: return v.Type.ToString().ToLowerInvariant();
      }
    }

    static bool TypeMatches(string want, string got)
    {
      return want == got || (want == "number" && got == "integer");
    }

    // Code points, as JSON Schema (and the TypeScript checker) count length.
    static int Length(string s)
    {
      int n = 0;
      for (int i = 0; i < s.Length; i++)
      {
        if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) i++;
        n++;
      }
      return n;
    }

    static Regex Pattern(string p)
    {
      lock (gate)
      {
        Regex r;
        if (!patterns.TryGetValue(p, out r))
        {
          r = new Regex(p, RegexOptions.CultureInvariant);
          patterns[p] = r;
        }
        return r;
      }
    }

    static string Text(JToken t)
    {
      return t.ToString(Formatting.None);
    }

    static string Validate(JObject schema, JToken value, string path)
    {
      var nullable = schema["nullable"];
      if (value.Type == JTokenType.Null && nullable != null && (bool)nullable) return null;
      var type = schema["type"];
      string got = TypeOf(value);
      if (type != null)
      {
        var types = new List<string>();
        if (type.Type == JTokenType.Array) foreach (var t in type) types.Add((string)t);
        else types.Add((string)type);
        bool ok = false;
        foreach (var t in types) ok |= TypeMatches(t, got);
        if (!ok) return path + ": want " + string.Join("|", types.ToArray()) + ", got " + got;
      }
      var cst = schema["const"];
      if (cst != null && !JToken.DeepEquals(cst, value)) return path + ": want " + Text(cst);
      var en = schema["enum"] as JArray;
      if (en != null)
      {
        bool found = false;
        foreach (var e in en) found |= JToken.DeepEquals(e, value);
        if (!found) return path + ": " + Text(value) + " is not one of " + Text(en);
      }
      if (value.Type == JTokenType.String)
      {
        var s = (string)value;
        var min = schema["minLength"];
        var max = schema["maxLength"];
        var pat = schema["pattern"];
        if (min != null && Length(s) < (int)min) return path + ": shorter than " + min;
        if (max != null && Length(s) > (int)max) return path + ": longer than " + max;
        if (pat != null && !Pattern((string)pat).IsMatch(s)) return path + ": does not match " + pat;
      }
      if (got == "integer" || got == "number")
      {
        var n = (double)value;
        var min = schema["minimum"];
        var max = schema["maximum"];
        if (min != null && n < (double)min) return path + ": below " + min;
        if (max != null && n > (double)max) return path + ": above " + max;
      }
      var arr = value as JArray;
      if (arr != null)
      {
        var min = schema["minItems"];
        var max = schema["maxItems"];
        if (min != null && arr.Count < (int)min) return path + ": fewer than " + min + " items";
        if (max != null && arr.Count > (int)max) return path + ": more than " + max + " items";
        var items = schema["items"] as JObject;
        if (items != null)
        {
          for (int i = 0; i < arr.Count; i++)
          {
            var e = Validate(items, arr[i], path + "[" + i + "]");
            if (e != null) return e;
          }
        }
      }
      var obj = value as JObject;
      if (obj != null)
      {
        var req = schema["required"] as JArray;
        if (req != null)
        {
          foreach (var k in req)
          {
            if (obj.Property((string)k) == null) return path + "." + (string)k + ": required";
          }
        }
        var props = schema["properties"] as JObject;
        if (props != null)
        {
          foreach (var p in props.Properties())
          {
            var v = obj.Property(p.Name);
            if (v == null) continue;
            var e = Validate((JObject)p.Value, v.Value, path + "." + p.Name);
            if (e != null) return e;
          }
        }
      }
      var allOf = schema["allOf"] as JArray;
      if (allOf != null)
      {
        foreach (JObject s in allOf)
        {
          var e = Validate(s, value, path);
          if (e != null) return e;
        }
      }
      var anyOf = schema["anyOf"] as JArray;
      if (anyOf != null)
      {
        bool any = false;
        foreach (JObject s in anyOf) any |= Validate(s, value, path) == null;
        if (!any) return path + ": matches none of anyOf";
      }
      var oneOf = schema["oneOf"] as JArray;
      if (oneOf != null)
      {
        int matched = 0;
        foreach (JObject s in oneOf) if (Validate(s, value, path) == null) matched++;
        if (matched != 1) return path + ": does not match exactly one of oneOf";
      }
      return null;
    }
  }
}
