package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	asyncparser "github.com/asyncapi/parser-go/pkg/parser"
)

const specPath = "../../asyncapi.yaml"

// parserMessage returns the error parser-go itself reports for src.
func parserMessage(t *testing.T, src string) string {
	t.Helper()
	p, err := asyncparser.New()
	if err != nil {
		t.Fatal(err)
	}
	err = p(strings.NewReader(src), nil)
	if err == nil {
		t.Fatal("parser-go accepted the document")
	}
	return err.Error()
}

func TestInvalidDocumentFailsWithParserMessage(t *testing.T) {
	cases := map[string]struct {
		doc  string
		want string // a line parser-go reports
	}{
		"no info": {
			doc: `asyncapi: 2.6.0
channels:
  /ws/device/:
    publish:
      message:
        name: chat
        payload: {type: object}
`,
			want: "info is required",
		},
		"bad channel operation": {
			doc: `asyncapi: 2.6.0
info: {title: t, version: '1'}
channels:
  /ws/device/:
    publish:
      message:
        name: chat
        payload: {type: object}
      operationId: 42
`,
			want: "operationId",
		},
		"dangling ref": {
			doc: `asyncapi: 2.6.0
info: {title: t, version: '1'}
channels:
  /ws/device/:
    publish:
      message:
        $ref: '#/components/messages/Missing'
`,
			want: "Missing",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			in := filepath.Join(dir, "asyncapi.yaml")
			if err := os.WriteFile(in, []byte(tc.doc), 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "ws")
			err := run(in, out, "ws", "")
			if err == nil {
				t.Fatal("generation succeeded on an invalid document")
			}
			msg := parserMessage(t, tc.doc)
			if !strings.Contains(msg, tc.want) {
				t.Fatalf("parser-go message %q does not mention %q", msg, tc.want)
			}
			if !strings.Contains(err.Error(), msg) {
				t.Fatalf("error %q does not carry the parser's message %q", err, msg)
			}
			if !strings.Contains(err.Error(), "invalid AsyncAPI document") {
				t.Fatalf("error %q does not say the document is invalid", err)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Fatalf("output directory was created: %v", err)
			}
		})
	}
}

func TestGeneratorRejectsNonFramePayloads(t *testing.T) {
	base := `asyncapi: 2.6.0
info: {title: t, version: '1'}
channels:
  /ws/device/:
    publish:
      message:
        name: chat
        payload:
%s
`
	cases := map[string]struct {
		payload string
		want    string
	}{
		"type not const": {
			payload: `          type: object
          required: [type, message]
          properties:
            type: {type: string}
            message: {title: ChatPayload, type: object}`,
			want: `property "type" must be const "chat"`,
		},
		"const mismatch": {
			payload: `          type: object
          required: [type, message]
          properties:
            type: {type: string, const: talk}
            message: {title: ChatPayload, type: object}`,
			want: `property "type" must be const "chat"`,
		},
		"untitled message": {
			payload: `          type: object
          required: [type, message]
          properties:
            type: {type: string, const: chat}
            message: {type: object}`,
			want: `"message" schema needs a title`,
		},
		"unsupported keyword": {
			payload: `          type: object
          required: [type, message]
          properties:
            type: {type: string, const: chat}
            message:
              title: ChatPayload
              type: object
              properties:
                text: {type: string, not: {const: ""}}`,
			want: `keyword "not" is not supported`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			in := filepath.Join(dir, "asyncapi.yaml")
			doc := strings.Replace(base, "%s", tc.payload, 1)
			if err := os.WriteFile(in, []byte(doc), 0o644); err != nil {
				t.Fatal(err)
			}
			err := run(in, filepath.Join(dir, "ws"), "ws", "")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestGeneratedCodeIsCurrent regenerates into a temp dir (twice, to check
// determinism) and compares with gen/ws.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	var prev map[string][]byte
	for i := 0; i < 2; i++ {
		out := filepath.Join(t.TempDir(), "ws")
		if err := run(specPath, out, "ws", ""); err != nil {
			t.Fatal(err)
		}
		got := readDir(t, out)
		if prev != nil {
			for name := range got {
				if !bytes.Equal(got[name], prev[name]) {
					t.Fatalf("%s differs between two runs: generation is not deterministic", name)
				}
			}
		}
		prev = got
	}
	committed := readDir(t, "../../gen/ws")
	if len(committed) != len(prev) {
		t.Fatalf("gen/ws has %d files, the generator writes %d; run go generate ./gen/ws_generate.go", len(committed), len(prev))
	}
	for name, src := range prev {
		if !bytes.Equal(committed[name], src) {
			t.Fatalf("gen/ws/%s is stale; run `cd gen && go generate ./ws_generate.go`", name)
		}
	}
}

func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("// Code generated ")) {
			t.Errorf("%s/%s lacks the generated-code header", dir, e.Name())
		}
		out[e.Name()] = b
	}
	return out
}
