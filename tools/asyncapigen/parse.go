package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"

	asyncparser "github.com/asyncapi/parser-go/pkg/parser"
)

// loadDocument validates the AsyncAPI document at path against the AsyncAPI
// JSON Schema of its version and dereferences it, both with parser-go. The
// result is the dereferenced document; numbers are json.Number.
func loadDocument(path string) (map[string]any, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p, err := asyncparser.New()
	if err != nil {
		return nil, fmt.Errorf("create AsyncAPI parser: %w", err)
	}
	var out bytes.Buffer
	if err := p(bytes.NewReader(src), &out); err != nil {
		return nil, fmt.Errorf("%s: invalid AsyncAPI document:\n%w", path, err)
	}
	dec := json.NewDecoder(&out)
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: decode dereferenced document: %w", path, err)
	}
	if v, _ := doc["asyncapi"].(string); !strings.HasPrefix(v, "2.") {
		return nil, fmt.Errorf("%s: asyncapi %q: only AsyncAPI 2.x is supported", path, v)
	}
	return doc, nil
}

// Direction of a message type, seen from the server.
const (
	dirClientToServer = "client_to_server"
	dirServerToClient = "server_to_client"
	dirBoth           = "both"
)

// message is one message type of the document.
type message struct {
	Name        string         // wire value of the frame's "type"
	Summary     string         // one line
	Description string         //
	Payload     map[string]any // frame schema (dereferenced)
	Examples    []Example      //
	publish     bool           // appears in a publish operation (client -> server)
	subscribe   bool           // appears in a subscribe operation (server -> client)
}

// Direction reports the direction derived from the operations using it.
func (m *message) Direction() string {
	switch {
	case m.publish && m.subscribe:
		return dirBoth
	case m.publish:
		return dirClientToServer
	default:
		return dirServerToClient
	}
}

// Example is a message example of the document.
type Example struct {
	Message string          // message type
	Name    string          // example name, may be empty
	Payload json.RawMessage // the frame
}

// closeCode is one entry of the document's x-close-codes.
type closeCode struct {
	Code        int
	Name        string
	Description string
}

// spec is what the generator needs from the document.
type spec struct {
	Title      string
	Version    string
	Messages   []*message // sorted by name
	CloseCodes []closeCode
}

var nameRe = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// collect extracts the message types, their payloads, directions and
// examples from the dereferenced document.
func collect(doc map[string]any) (*spec, error) {
	s := &spec{}
	if info, ok := doc["info"].(map[string]any); ok {
		s.Title, _ = info["title"].(string)
		s.Version, _ = info["version"].(string)
	}
	channels, _ := doc["channels"].(map[string]any)
	if len(channels) == 0 {
		return nil, errors.New("no channels")
	}
	byName := map[string]*message{}
	for _, chName := range sortedKeys(channels) {
		ch, ok := channels[chName].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("channel %q: not an object", chName)
		}
		for _, opName := range []string{"publish", "subscribe"} {
			op, ok := ch[opName].(map[string]any)
			if !ok {
				continue
			}
			msgs, err := operationMessages(op)
			if err != nil {
				return nil, fmt.Errorf("channel %q: %s: %w", chName, opName, err)
			}
			for i, raw := range msgs {
				m, err := parseMessage(raw)
				if err != nil {
					return nil, fmt.Errorf("channel %q: %s: message %d: %w", chName, opName, i, err)
				}
				prev, ok := byName[m.Name]
				if !ok {
					byName[m.Name] = m
					prev = m
				} else if !reflect.DeepEqual(prev.Payload, m.Payload) {
					return nil, fmt.Errorf("message %q: defined twice with different payloads", m.Name)
				}
				if opName == "publish" {
					prev.publish = true
				} else {
					prev.subscribe = true
				}
			}
		}
	}
	if len(byName) == 0 {
		return nil, errors.New("no messages in any channel operation")
	}
	for _, name := range sortedKeys(byName) {
		s.Messages = append(s.Messages, byName[name])
	}
	codes, err := parseCloseCodes(doc["x-close-codes"])
	if err != nil {
		return nil, fmt.Errorf("x-close-codes: %w", err)
	}
	s.CloseCodes = codes
	return s, nil
}

func operationMessages(op map[string]any) ([]map[string]any, error) {
	msg, ok := op["message"].(map[string]any)
	if !ok {
		return nil, errors.New("no message")
	}
	list, ok := msg["oneOf"].([]any)
	if !ok {
		return []map[string]any{msg}, nil
	}
	out := make([]map[string]any, 0, len(list))
	for _, v := range list {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, errors.New("oneOf: not an object")
		}
		out = append(out, m)
	}
	return out, nil
}

func parseMessage(raw map[string]any) (*message, error) {
	name, _ := raw["name"].(string)
	if name == "" {
		return nil, errors.New("message has no name (the name is the frame's type)")
	}
	if !nameRe.MatchString(name) {
		return nil, fmt.Errorf("message %q: name must match %s", name, nameRe)
	}
	m := &message{Name: name}
	m.Summary, _ = raw["summary"].(string)
	m.Description, _ = raw["description"].(string)
	if sf, ok := raw["schemaFormat"].(string); ok && !supportedSchemaFormat(sf) {
		return nil, fmt.Errorf("message %q: schemaFormat %q is not supported", name, sf)
	}
	payload, ok := raw["payload"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("message %q: no payload schema", name)
	}
	if err := checkFrame(name, payload); err != nil {
		return nil, fmt.Errorf("message %q: payload: %w", name, err)
	}
	m.Payload = payload
	exs, _ := raw["examples"].([]any)
	for i, e := range exs {
		ex, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("message %q: example %d: not an object", name, i)
		}
		p, ok := ex["payload"]
		if !ok {
			continue
		}
		b, err := json.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("message %q: example %d: %w", name, i, err)
		}
		exName, _ := ex["name"].(string)
		m.Examples = append(m.Examples, Example{Message: name, Name: exName, Payload: b})
	}
	return m, nil
}

// checkFrame checks that a message payload is a frame
// {"type": <name>, "message": {...}, "from"?: {...}}.
func checkFrame(name string, payload map[string]any) error {
	if t, _ := payload["type"].(string); t != "object" {
		return errors.New(`must be an object schema {"type", "message"}`)
	}
	props, _ := payload["properties"].(map[string]any)
	typ, _ := props["type"].(map[string]any)
	if typ == nil {
		return errors.New(`no "type" property`)
	}
	var values []any
	if c, ok := typ["const"]; ok {
		values = []any{c}
	} else if e, ok := typ["enum"].([]any); ok {
		values = e
	}
	if len(values) != 1 || values[0] != name {
		return fmt.Errorf(`property "type" must be const %q`, name)
	}
	msg, _ := props["message"].(map[string]any)
	if msg == nil {
		return errors.New(`no "message" property`)
	}
	if title, _ := msg["title"].(string); title == "" {
		return errors.New(`"message" schema needs a title (it names the Go type)`)
	}
	req, _ := payload["required"].([]any)
	var hasType, hasMsg bool
	for _, r := range req {
		hasType = hasType || r == "type"
		hasMsg = hasMsg || r == "message"
	}
	if !hasType || !hasMsg {
		return errors.New(`"type" and "message" must be required`)
	}
	return nil
}

func parseCloseCodes(v any) ([]closeCode, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, errors.New("not a list")
	}
	var out []closeCode
	seen := map[int]bool{}
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%d: not an object", i)
		}
		n, ok := m["code"].(json.Number)
		if !ok {
			return nil, fmt.Errorf("%d: code is not a number", i)
		}
		code, err := n.Int64()
		if err != nil || code < 1000 || code > 4999 {
			return nil, fmt.Errorf("%d: code %s is not a WebSocket close code", i, n)
		}
		name, _ := m["name"].(string)
		if !nameRe.MatchString(name) {
			return nil, fmt.Errorf("%d: name %q must match %s", i, name, nameRe)
		}
		if seen[int(code)] {
			return nil, fmt.Errorf("%d: code %d listed twice", i, code)
		}
		seen[int(code)] = true
		desc, _ := m["description"].(string)
		out = append(out, closeCode{Code: int(code), Name: name, Description: desc})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// supportedSchemaFormat reports whether payloads in schemaFormat are JSON
// Schema (AsyncAPI Schema is a superset of draft-07).
func supportedSchemaFormat(sf string) bool {
	for _, p := range []string{"application/vnd.aai.asyncapi", "application/schema+json", "application/schema+yaml"} {
		if strings.HasPrefix(sf, p) {
			return true
		}
	}
	return false
}
