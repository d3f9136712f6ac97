// Command ogenspec writes the copy of openapi.yaml that ogen generates
// gen/api from (see gen/generate.go).
//
// openapi.yaml lists each operation's error responses explicitly (400, 401,
// 403, 404, 409 as they apply), each a $ref to a shared response under
// #/components/responses whose schema is the error envelope: that is what
// the Spectral rules, the SDK generators and client teams read. ogen v1.24
// turns every explicit response code into a per-operation sum type
// (XxxRes with one variant per code), while only the `default` response
// maps to the handler's NewError ("convenient errors"). The server answers
// every error through that one path, so the derived copy drops the explicit
// 4xx/5xx $refs to #/components/responses and keeps `default`; the handler
// signatures stay (*XxxEnvelope, error).
//
// ogen v1.24 also generates Server-Sent Events for clients only, not for
// servers: a response documenting `text/event-stream` beside
// `application/json` would become a sum type the server cannot encode. The
// derived copy drops every text/event-stream response content; the
// streaming form of such an operation is served by a hand-written route in
// front of the ogen server (internal/chat for chatCompletion). Nothing
// else changes.
//
// Usage: go run ./tools/ogenspec -in openapi.yaml -out var/ogen/openapi.yaml
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/go-faster/yaml"
)

// errorStatus matches explicit 4xx and 5xx response codes.
var errorStatus = regexp.MustCompile(`^[45][0-9][0-9]$`)

func main() {
	log.SetFlags(0)
	log.SetPrefix("ogenspec: ")
	in := flag.String("in", "openapi.yaml", "the published OpenAPI document")
	out := flag.String("out", "", "where to write ogen's input (required)")
	flag.Parse()
	if *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*in, *out); err != nil {
		log.Fatal(err)
	}
}

func run(in, out string) error {
	src, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if len(doc.Content) != 1 {
		return fmt.Errorf("%s: not a YAML document", in)
	}
	dropErrorRefs(doc.Content[0])
	b, err := yaml.Marshal(&doc)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(out, b, 0o644)
}

// dropErrorRefs removes, from every operation's responses, the explicit
// 4xx/5xx entries that are a $ref to #/components/responses, and the
// text/event-stream content of the others.
func dropErrorRefs(root *yaml.Node) {
	for _, item := range values(get(root, "paths")) {
		for _, op := range values(item) { // methods, and path-level keys (no responses)
			responses := get(op, "responses")
			if responses == nil || responses.Kind != yaml.MappingNode {
				continue
			}
			kept := responses.Content[:0]
			for i := 0; i+1 < len(responses.Content); i += 2 {
				status, resp := responses.Content[i], responses.Content[i+1]
				if errorStatus.MatchString(status.Value) && isSharedResponse(resp) {
					continue
				}
				kept = append(kept, status, resp)
			}
			responses.Content = kept
			for _, resp := range values(responses) {
				dropContent(resp, "text/event-stream")
			}
		}
	}
}

// dropContent removes one media type from a response's content.
func dropContent(resp *yaml.Node, mediaType string) {
	content := get(resp, "content")
	if content == nil || content.Kind != yaml.MappingNode {
		return
	}
	kept := content.Content[:0]
	for i := 0; i+1 < len(content.Content); i += 2 {
		if content.Content[i].Value == mediaType {
			continue
		}
		kept = append(kept, content.Content[i], content.Content[i+1])
	}
	content.Content = kept
}

func isSharedResponse(n *yaml.Node) bool {
	ref := get(n, "$ref")
	return ref != nil && strings.HasPrefix(ref.Value, "#/components/responses/")
}

// get returns the value of key in mapping m, or nil.
func get(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// values returns the values of mapping m.
func values(m *yaml.Node) []*yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	var vs []*yaml.Node
	for i := 1; i < len(m.Content); i += 2 {
		vs = append(vs, m.Content[i])
	}
	return vs
}
