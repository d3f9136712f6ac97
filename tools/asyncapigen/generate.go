package main

import (
	"bytes"
	"fmt"
	"go/format"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/go-faster/yaml"
	ogen "github.com/ogen-go/ogen/gen"
	"github.com/ogen-go/ogen/jsonpointer"
	"github.com/ogen-go/ogen/jsonschema"
)

const (
	framesFile   = "frames_gen.go"   // written by ogen
	messagesFile = "messages_gen.go" // written here
	rootTypeName = "Frame"
)

// memFS collects ogen's output in memory, gofmt'ed.
type memFS map[string][]byte

func (m memFS) WriteFile(name string, src []byte) error {
	out, err := format.Source(src)
	if err != nil {
		return fmt.Errorf("format %s: %w", name, err)
	}
	m[name] = out
	return nil
}

// generate runs ogen on the root schema and renders the message table.
func generate(schema []byte, s *spec, pkg, srcName string) (map[string][]byte, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(schema, &root); err != nil {
		return nil, fmt.Errorf("parse built schema: %w", err)
	}
	var raw jsonschema.RawSchema
	if err := root.Decode(&raw); err != nil {
		return nil, fmt.Errorf("decode built schema: %w", err)
	}
	p := jsonschema.NewParser(jsonschema.Settings{
		Resolver: jsonschema.NewRootResolver(&root),
	})
	rootURL := &url.URL{Scheme: "file", Path: "/" + srcName + ".schema.json"}
	parsed, err := p.Parse(&raw, jsonpointer.NewResolveCtx(rootURL, jsonpointer.DefaultDepthLimit))
	if err != nil {
		return nil, fmt.Errorf("ogen: parse built schema: %w", err)
	}
	fs := memFS{}
	if err := ogen.GenerateSchema(parsed, fs, ogen.GenerateSchemaOptions{
		TypeName:   rootTypeName,
		FileName:   framesFile,
		PkgName:    pkg,
		TrimPrefix: []string{"#/$defs/"},
	}); err != nil {
		return nil, fmt.Errorf("ogen: %w", err)
	}
	if len(fs[framesFile]) == 0 {
		return nil, errNoOutput
	}
	table, err := renderMessages(s, fs[framesFile], pkg, srcName)
	if err != nil {
		return nil, err
	}
	fs[messagesFile] = table
	return fs, nil
}

// writeFiles replaces the generated Go files of dir with files.
func writeFiles(dir string, files map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") {
			continue
		}
		if _, ok := files[name]; ok {
			continue
		}
		if generated, err := isGenerated(filepath.Join(dir, name)); err != nil {
			return err
		} else if generated {
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return err
			}
		}
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), files[n], 0o644); err != nil {
			return err
		}
	}
	return nil
}

func isGenerated(path string) (bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	return bytes.HasPrefix(b, []byte("// Code generated ")), nil
}
