// Package hubfuzz is a spec-driven fuzzer for the WebSocket device hub: it
// reads every message type of asyncapi.yaml and generates frames inside
// the spec (boundary lengths counted in characters with 1- to 4-byte
// UTF-8, boundary numbers, every enum value, optional fields present and
// absent) and outside it (wrong types, missing fields, NUL, lone
// surrogates, huge and negative numbers, deep nesting, unknown and
// server-only types, text that is not JSON, binary frames, frames at and
// over the read limit, invalid UTF-8). The test in this package sends them
// from a device session and an app session of one user, on every backend,
// and checks what the hub does with each: relay, error frame or close, as
// asyncapi.yaml says.
//
// The package holds only the spec reader and the generator; the service
// and the checks live in the test, so nothing outside tests imports it.
package hubfuzz

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/go-faster/yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"paradise/gen/ws"
)

// Schema is the part of a JSON schema the generator understands, with
// every $ref resolved.
type Schema struct {
	Types      []string // "string", "integer", "number", "boolean", "object", "null"
	Properties map[string]*Schema
	Required   []string
	// FreeForm objects take any members (additionalProperties: true and
	// no properties).
	FreeForm  bool
	MinLength int
	MaxLength int // -1: unbounded
	Pattern   string
	Enum      []string
	Const     *string
	Minimum   *float64
	Maximum   *float64
	Format    string
}

// Is reports whether the schema allows the JSON type.
func (s *Schema) Is(typ string) bool {
	for _, t := range s.Types {
		if t == typ {
			return true
		}
	}
	return false
}

// Names lists the schema's properties, sorted.
func (s *Schema) Names() []string {
	out := make([]string, 0, len(s.Properties))
	for k := range s.Properties {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// IsRequired reports whether the property is required.
func (s *Schema) IsRequired(name string) bool {
	for _, r := range s.Required {
		if r == name {
			return true
		}
	}
	return false
}

// Message is one message type of the spec.
type Message struct {
	Type string
	// Payload is the schema of the frame's "message" member.
	Payload *Schema
	// Examples are the spec's example frames, as JSON.
	Examples [][]byte
	// ClientMaySend and ServerMaySend come from the channels' publish
	// and subscribe operations.
	ClientMaySend, ServerMaySend bool
	// Validator checks a whole frame as the server sends it. Object
	// schemas with properties are closed (no undocumented members).
	Validator *jsonschema.Schema
}

// Spec is what the fuzzer reads from asyncapi.yaml.
type Spec struct {
	Messages map[string]*Message
	// ErrorCodes is the ErrorCode enum of the error frame.
	ErrorCodes map[string]bool
	// CloseCodes are x-close-codes.
	CloseCodes map[int]string
}

// ClientTypes lists the types a client may send, sorted.
func (s *Spec) ClientTypes() []string {
	return s.types(func(m *Message) bool { return m.ClientMaySend })
}

// ServerOnlyTypes lists the types only the server may send, sorted.
func (s *Spec) ServerOnlyTypes() []string {
	return s.types(func(m *Message) bool { return !m.ClientMaySend })
}

func (s *Spec) types(keep func(*Message) bool) []string {
	var out []string
	for t, m := range s.Messages {
		if keep(m) {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}

const base = "https://paradise.invalid/asyncapi.json"

// LoadSpec reads an AsyncAPI 2.x document. It checks that the direction
// of every message agrees with gen/ws's table, the one the hub routes by.
func LoadSpec(doc []byte) (*Spec, error) {
	var raw any
	if err := yaml.Unmarshal(doc, &raw); err != nil {
		return nil, fmt.Errorf("asyncapi.yaml: %w", err)
	}
	data, err := json.Marshal(raw)
	if err != nil {
		return nil, fmt.Errorf("asyncapi.yaml is not JSON-compatible: %w", err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	root, _ := v.(map[string]any)
	l := &loader{root: root}
	spec := &Spec{Messages: map[string]*Message{}, ErrorCodes: map[string]bool{}, CloseCodes: map[int]string{}}

	channels, _ := root["channels"].(map[string]any)
	if len(channels) == 0 {
		return nil, fmt.Errorf("asyncapi.yaml: no channels")
	}
	pointers := map[string]string{} // type -> message pointer
	for _, name := range sortedKeys(channels) {
		ch, _ := channels[name].(map[string]any)
		for _, dir := range []string{"publish", "subscribe"} {
			op, ok := ch[dir].(map[string]any)
			if !ok {
				continue
			}
			msg, _ := op["message"].(map[string]any)
			ptr := "/channels/" + strings.ReplaceAll(strings.ReplaceAll(name, "~", "~0"), "/", "~1") + "/" + dir + "/message"
			var ptrs []string
			if list, ok := msg["oneOf"].([]any); ok {
				for i := range list {
					ptrs = append(ptrs, fmt.Sprintf("%s/oneOf/%d", ptr, i))
				}
			} else {
				ptrs = append(ptrs, ptr)
			}
			for _, p := range ptrs {
				p, err := l.deref(p)
				if err != nil {
					return nil, err
				}
				m, err := l.message(spec, p)
				if err != nil {
					return nil, err
				}
				pointers[m.Type] = p
				if dir == "publish" {
					m.ClientMaySend = true
				} else {
					m.ServerMaySend = true
				}
			}
		}
	}

	// The hub routes by gen/ws.Messages; a drift between it and the
	// document would make the fuzzer expect what the hub cannot do.
	known := map[string]bool{}
	for _, mi := range ws.Messages {
		known[string(mi.Type)] = true
		m, ok := spec.Messages[string(mi.Type)]
		if !ok {
			return nil, fmt.Errorf("gen/ws has message %s, asyncapi.yaml's channels do not", mi.Type)
		}
		if m.ClientMaySend != mi.Direction.ClientMaySend() || m.ServerMaySend != mi.Direction.ServerMaySend() {
			return nil, fmt.Errorf("message %s: gen/ws says %s, asyncapi.yaml says publish=%t subscribe=%t (run make generate)",
				mi.Type, mi.Direction, m.ClientMaySend, m.ServerMaySend)
		}
	}
	for t := range spec.Messages {
		if !known[t] {
			return nil, fmt.Errorf("asyncapi.yaml has message %s, gen/ws does not (run make generate)", t)
		}
	}

	codes, err := l.resolve(l.lookup("/components/schemas/ErrorCode"))
	if err != nil || codes == nil || len(codes.Enum) == 0 {
		return nil, fmt.Errorf("asyncapi.yaml: components/schemas/ErrorCode has no enum (%v)", err)
	}
	for _, c := range codes.Enum {
		spec.ErrorCodes[c] = true
	}
	cc, _ := root["x-close-codes"].([]any)
	for _, c := range cc {
		m, _ := c.(map[string]any)
		n, _ := m["code"].(json.Number)
		code, err := n.Int64()
		if err != nil {
			return nil, fmt.Errorf("asyncapi.yaml: x-close-codes: %v", c)
		}
		name, _ := m["name"].(string)
		spec.CloseCodes[int(code)] = name
	}

	closeSchemas(root)
	compiler := jsonschema.NewCompiler()
	compiler.DefaultDraft(jsonschema.Draft7)
	compiler.AssertFormat()
	if err := compiler.AddResource(base, root); err != nil {
		return nil, err
	}
	for _, t := range sortedKeys(spec.Messages) {
		sch, err := compiler.Compile(base + "#" + pointers[t] + "/payload")
		if err != nil {
			return nil, fmt.Errorf("asyncapi.yaml: message %s: %w", t, err)
		}
		spec.Messages[t].Validator = sch
	}
	return spec, nil
}

// Validate checks a frame the server sent against its type's schema.
func (s *Spec) Validate(frame []byte) error {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(frame, &head); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	m, ok := s.Messages[head.Type]
	if !ok || !m.ServerMaySend {
		return fmt.Errorf("type %q is not one the server may send", head.Type)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(frame))
	if err != nil {
		return err
	}
	return m.Validator.Validate(v)
}

type loader struct {
	root map[string]any
}

func (l *loader) lookup(ptr string) any {
	var cur any = l.root
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			cur = c[tok]
		case []any:
			var i int
			if _, err := fmt.Sscan(tok, &i); err != nil || i < 0 || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}

func (l *loader) deref(ptr string) (string, error) {
	for range 10 {
		node, _ := l.lookup(ptr).(map[string]any)
		if node == nil {
			return "", fmt.Errorf("asyncapi.yaml: %s does not resolve", ptr)
		}
		ref, ok := node["$ref"].(string)
		if !ok {
			return ptr, nil
		}
		p, ok := strings.CutPrefix(ref, "#")
		if !ok {
			return "", fmt.Errorf("asyncapi.yaml: external $ref %q", ref)
		}
		ptr = p
	}
	return "", fmt.Errorf("asyncapi.yaml: $ref loop at %s", ptr)
}

// message reads the message at ptr into the spec, once per type.
func (l *loader) message(spec *Spec, ptr string) (*Message, error) {
	node, _ := l.lookup(ptr).(map[string]any)
	frame, err := l.resolve(node["payload"])
	if err != nil {
		return nil, fmt.Errorf("asyncapi.yaml: message %s: %w", ptr, err)
	}
	if frame == nil || frame.Properties["type"] == nil || frame.Properties["type"].Const == nil || frame.Properties["message"] == nil {
		return nil, fmt.Errorf("asyncapi.yaml: message %s: payload is not a {type, message} frame", ptr)
	}
	typ := *frame.Properties["type"].Const
	if m, ok := spec.Messages[typ]; ok {
		return m, nil
	}
	m := &Message{Type: typ, Payload: frame.Properties["message"]}
	examples, _ := node["examples"].([]any)
	for _, e := range examples {
		if p, ok := e.(map[string]any)["payload"]; ok {
			b, err := json.Marshal(p)
			if err != nil {
				return nil, err
			}
			m.Examples = append(m.Examples, b)
		}
	}
	spec.Messages[typ] = m
	return m, nil
}

// resolve turns a schema node into a Schema.
func (l *loader) resolve(node any) (*Schema, error) {
	return l.resolveDepth(node, 0)
}

func (l *loader) resolveDepth(node any, depth int) (*Schema, error) {
	if depth > 32 {
		return nil, fmt.Errorf("schema nested too deep (recursive $ref?)")
	}
	m, ok := node.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("schema %v is not an object", node)
	}
	if ref, ok := m["$ref"].(string); ok {
		p, ok := strings.CutPrefix(ref, "#")
		if !ok {
			return nil, fmt.Errorf("external $ref %q", ref)
		}
		return l.resolveDepth(l.lookup(p), depth+1)
	}
	s := &Schema{MaxLength: -1}
	switch t := m["type"].(type) {
	case string:
		s.Types = []string{t}
	case []any:
		for _, x := range t {
			if str, ok := x.(string); ok {
				s.Types = append(s.Types, str)
			}
		}
	}
	if c, ok := m["const"].(string); ok {
		s.Const = &c
	}
	if e, ok := m["enum"].([]any); ok {
		for _, x := range e {
			if str, ok := x.(string); ok {
				s.Enum = append(s.Enum, str)
			}
		}
	}
	num := func(k string) *float64 {
		if n, ok := m[k].(json.Number); ok {
			f, err := n.Float64()
			if err == nil {
				return &f
			}
		}
		return nil
	}
	if n := num("minLength"); n != nil {
		s.MinLength = int(*n)
	}
	if n := num("maxLength"); n != nil {
		s.MaxLength = int(*n)
	}
	s.Minimum, s.Maximum = num("minimum"), num("maximum")
	s.Pattern, _ = m["pattern"].(string)
	s.Format, _ = m["format"].(string)
	if props, ok := m["properties"].(map[string]any); ok {
		s.Properties = map[string]*Schema{}
		for _, k := range sortedKeys(props) {
			ps, err := l.resolveDepth(props[k], depth+1)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			s.Properties[k] = ps
		}
	}
	if req, ok := m["required"].([]any); ok {
		for _, r := range req {
			if str, ok := r.(string); ok {
				s.Required = append(s.Required, str)
			}
		}
	}
	if ap, ok := m["additionalProperties"].(bool); ok && ap && len(s.Properties) == 0 {
		s.FreeForm = true
	}
	if len(s.Types) == 0 && len(s.Properties) > 0 {
		s.Types = []string{"object"}
	}
	return s, nil
}

// closeSchemas sets additionalProperties: false on every object schema
// with properties and no additionalProperties, so an undocumented member
// in a frame the server sends fails validation.
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
		for _, k := range []string{"items", "additionalProperties"} {
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
	for _, k := range []string{"schemas", "messages"} {
		group, _ := comps[k].(map[string]any)
		for _, s := range group {
			if k == "messages" {
				mm, _ := s.(map[string]any)
				walk(mm["payload"])
				continue
			}
			walk(s)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
