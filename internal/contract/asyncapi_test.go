package contract_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/go-faster/yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"paradise"
)

// asyncSpec is what the WebSocket test needs from asyncapi.yaml, read
// with a plain YAML decoder and compiled with an independent JSON Schema
// validator (github.com/santhosh-tekuri/jsonschema), not gen/ws.
type asyncSpec struct {
	// messages by frame type (the `type` const of the payload schema).
	messages map[string]*asyncMessage
	channels map[string]*asyncChannel
}

type asyncChannel struct {
	name string
	// Frame types a client may send (publish) and receive (subscribe).
	publish, subscribe map[string]bool
	// tokenInPath is true for a channel with a {token} parameter; the
	// others take the token in the Authorization header.
	tokenInPath bool
}

type asyncMessage struct {
	typ      string
	pointer  string // JSON pointer of the message object in the document
	schema   *jsonschema.Schema
	examples []map[string]any // example frames (payloads)
	// Declared directions, over all channels.
	publish, subscribe bool
}

const asyncBase = "https://paradise.invalid/asyncapi.json"

// loadAsyncAPI reads asyncapi.yaml, resolves the messages of every
// channel operation and compiles each message's payload schema. Object
// schemas that list properties and say nothing about others are closed
// (additionalProperties: false), so an undocumented field in a frame the
// server sends fails validation.
func loadAsyncAPI(t testing.TB) *asyncSpec {
	t.Helper()
	var raw any
	if err := yaml.Unmarshal(paradise.AsyncAPI, &raw); err != nil {
		t.Fatalf("asyncapi.yaml: %v", err)
	}
	// Round-trip through JSON: the validator wants JSON values
	// (json.Number numbers, map[string]any objects).
	data, err := json.Marshal(raw)
	if err != nil {
		t.Fatalf("asyncapi.yaml is not JSON-compatible: %v", err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	doc, ok := v.(map[string]any)
	if !ok {
		t.Fatal("asyncapi.yaml: not an object")
	}
	if ver, _ := doc["asyncapi"].(string); !strings.HasPrefix(ver, "2.") {
		t.Fatalf("asyncapi.yaml: version %q, this test reads AsyncAPI 2.x", ver)
	}

	spec := &asyncSpec{messages: map[string]*asyncMessage{}, channels: map[string]*asyncChannel{}}
	channels, _ := doc["channels"].(map[string]any)
	if len(channels) == 0 {
		t.Fatal("asyncapi.yaml: no channels")
	}
	for _, name := range sortedKeys(channels) {
		ch, _ := channels[name].(map[string]any)
		c := &asyncChannel{name: name, publish: map[string]bool{}, subscribe: map[string]bool{},
			tokenInPath: strings.Contains(name, "{token}")}
		spec.channels[name] = c
		for _, dir := range []string{"publish", "subscribe"} {
			op, ok := ch[dir].(map[string]any)
			if !ok {
				continue
			}
			msgPtr := "/channels/" + escapePointer(name) + "/" + dir + "/message"
			msg, _ := op["message"].(map[string]any)
			var ptrs []string
			if list, ok := msg["oneOf"].([]any); ok {
				for i := range list {
					ptrs = append(ptrs, fmt.Sprintf("%s/oneOf/%d", msgPtr, i))
				}
			} else {
				ptrs = append(ptrs, msgPtr)
			}
			for _, p := range ptrs {
				p = derefPointer(t, doc, p)
				m := spec.message(t, doc, p)
				if dir == "publish" {
					c.publish[m.typ], m.publish = true, true
				} else {
					c.subscribe[m.typ], m.subscribe = true, true
				}
			}
		}
	}

	// Close the object schemas, then compile each message's payload.
	closeSchemas(doc)
	compiler := jsonschema.NewCompiler()
	compiler.DefaultDraft(jsonschema.Draft7) // AsyncAPI 2.x schemas are a superset of draft 07
	compiler.AssertFormat()
	if err := compiler.AddResource(asyncBase, doc); err != nil {
		t.Fatal(err)
	}
	for _, typ := range sortedKeys(spec.messages) {
		m := spec.messages[typ]
		sch, err := compiler.Compile(asyncBase + "#" + m.pointer + "/payload")
		if err != nil {
			t.Fatalf("asyncapi.yaml: message %s: payload schema: %v", typ, err)
		}
		m.schema = sch
	}
	return spec
}

// message records the message at the JSON pointer (once per type).
func (s *asyncSpec) message(t testing.TB, doc map[string]any, ptr string) *asyncMessage {
	t.Helper()
	node, _ := lookup(t, doc, ptr).(map[string]any)
	payload, _ := node["payload"].(map[string]any)
	if payload == nil {
		t.Fatalf("asyncapi.yaml: message %s has no payload", ptr)
	}
	if ref, ok := payload["$ref"].(string); ok {
		payload, _ = lookup(t, doc, refPointer(t, ref)).(map[string]any)
	}
	// The frame type is the const of the payload's `type` property; the
	// message name must agree with it.
	typ, _ := node["name"].(string)
	if props, ok := payload["properties"].(map[string]any); ok {
		if tp, ok := props["type"].(map[string]any); ok {
			if c, ok := tp["const"].(string); ok {
				if typ != "" && typ != c {
					t.Errorf("asyncapi.yaml: message %s is named %q but its frames have type %q", ptr, typ, c)
				}
				typ = c
			}
		}
	}
	if typ == "" {
		t.Fatalf("asyncapi.yaml: message %s has neither a name nor a type const", ptr)
	}
	if m, ok := s.messages[typ]; ok {
		if m.pointer != ptr {
			t.Fatalf("asyncapi.yaml: two messages for frame type %s: %s and %s", typ, m.pointer, ptr)
		}
		return m
	}
	m := &asyncMessage{typ: typ, pointer: ptr}
	examples, _ := node["examples"].([]any)
	for _, e := range examples {
		if p, ok := e.(map[string]any)["payload"].(map[string]any); ok {
			m.examples = append(m.examples, p)
		}
	}
	s.messages[typ] = m
	return m
}

// closeSchemas sets additionalProperties: false on every object schema
// under components/schemas and in inline message payloads that has
// properties and no additionalProperties.
func closeSchemas(doc map[string]any) {
	var walk func(v any)
	walk = func(v any) {
		s, ok := v.(map[string]any)
		if !ok {
			return
		}
		if props, ok := s["properties"].(map[string]any); ok {
			if _, has := s["additionalProperties"]; !has {
				s["additionalProperties"] = false
			}
			for _, p := range props {
				walk(p)
			}
		}
		for _, k := range []string{"items", "not", "additionalProperties", "if", "then", "else"} {
			walk(s[k])
		}
		for _, k := range []string{"allOf", "anyOf", "oneOf"} {
			if list, ok := s[k].([]any); ok {
				for _, x := range list {
					walk(x)
				}
			}
		}
	}
	comps, _ := doc["components"].(map[string]any)
	if schemas, ok := comps["schemas"].(map[string]any); ok {
		for _, s := range schemas {
			walk(s)
		}
	}
	if msgs, ok := comps["messages"].(map[string]any); ok {
		for _, m := range msgs {
			if mm, ok := m.(map[string]any); ok {
				walk(mm["payload"])
			}
		}
	}
}

// derefPointer follows $ref chains from the node at ptr.
func derefPointer(t testing.TB, doc map[string]any, ptr string) string {
	t.Helper()
	for range 10 {
		node, _ := lookup(t, doc, ptr).(map[string]any)
		ref, ok := node["$ref"].(string)
		if !ok {
			return ptr
		}
		ptr = refPointer(t, ref)
	}
	t.Fatalf("asyncapi.yaml: $ref loop at %s", ptr)
	return ""
}

func refPointer(t testing.TB, ref string) string {
	t.Helper()
	p, ok := strings.CutPrefix(ref, "#")
	if !ok {
		t.Fatalf("asyncapi.yaml: external $ref %q is not supported", ref)
	}
	return p
}

// lookup resolves a JSON pointer in the document.
func lookup(t testing.TB, doc any, ptr string) any {
	t.Helper()
	cur := doc
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[tok]
			if !ok {
				t.Fatalf("asyncapi.yaml: %s does not resolve (at %q)", ptr, tok)
			}
			cur = v
		case []any:
			var i int
			if _, err := fmt.Sscan(tok, &i); err != nil || i < 0 || i >= len(c) {
				t.Fatalf("asyncapi.yaml: %s does not resolve (at %q)", ptr, tok)
			}
			cur = c[i]
		default:
			t.Fatalf("asyncapi.yaml: %s does not resolve (at %q)", ptr, tok)
		}
	}
	return cur
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// sortedTypes lists the frame types of a set.
func sortedTypes(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
