// Command asyncapigen generates the Go types of the WebSocket hub's frames
// from asyncapi.yaml.
//
// It validates and dereferences the AsyncAPI 2.x document with
// github.com/asyncapi/parser-go, collects the payload schema of every message
// of every channel, builds one JSON Schema whose root is a discriminated
// oneOf of the frame schemas, and hands it to ogen's JSON-schema generator.
// The output package gets a Frame sum type with one variant per message type
// (jx encoding and decoding, Validate), plus a table of the message types,
// their directions and the documented close codes.
//
// Usage (from gen/, see gen/ws_generate.go):
//
//	go run ../tools/asyncapigen -in ../asyncapi.yaml -out ws
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	var (
		in      = flag.String("in", "asyncapi.yaml", "AsyncAPI 2.x document")
		out     = flag.String("out", "ws", "output directory (its generated files are replaced)")
		pkg     = flag.String("package", "", "Go package name (default: base name of -out)")
		dumpSch = flag.String("dump-schema", "", "also write the JSON Schema handed to ogen to this file (debugging)")
	)
	flag.Parse()
	if *pkg == "" {
		*pkg = filepath.Base(filepath.Clean(*out))
	}
	if err := run(*in, *out, *pkg, *dumpSch); err != nil {
		fmt.Fprintf(os.Stderr, "asyncapigen: %v\n", err)
		os.Exit(1)
	}
}

// run generates the package into outDir.
func run(in, outDir, pkg, dumpSchema string) error {
	doc, err := loadDocument(in)
	if err != nil {
		return err
	}
	spec, err := collect(doc)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	schema, err := buildSchema(spec)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	if dumpSchema != "" {
		if err := os.WriteFile(dumpSchema, schema, 0o644); err != nil {
			return err
		}
	}
	files, err := generate(schema, spec, pkg, filepath.Base(in))
	if err != nil {
		return err
	}
	return writeFiles(outDir, files)
}
