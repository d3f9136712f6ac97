// Command contractdiff is the breaking-change gate on the contracts: it
// compares openapi.yaml and asyncapi.yaml with a base version (the last
// release tag by default) and fails when a change would break a client
// built from the base, unless that contract's major version was bumped and
// CHANGELOG.md says why:
//
//	go run ./tools/contractdiff [-base v0.1.0]
//
// OpenAPI changes are judged by oasdiff's backward-compatibility checks
// (errors break; warnings are printed). AsyncAPI changes are judged by a
// small check of our own (asyncapi.go): removed channels or message
// types, removed fields, fields newly required in frames clients send,
// fields no longer required in frames clients receive, changed types and
// narrowed enums.
//
// A change oasdiff or our check calls breaking that breaks no client (a
// pattern added to a request field the server already enforced, say) is
// listed with its reason in contract-diff-accept.txt; entries are for the
// changes since the base, so the file is emptied when a release is tagged.
//
// The rule, also in the README: a breaking change needs the contract's
// info.version major bumped (0.x counts too: 0.4.0 -> 1.0.0) and a
// non-empty "### Breaking" subsection in CHANGELOG.md, under
// "## [Unreleased]" or under the new version's heading.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strings"
)

func main() {
	var (
		base      = flag.String("base", "", "git revision to compare with (default: the newest v* tag reachable from HEAD, else main)")
		openapi   = flag.String("openapi", "openapi.yaml", "the OpenAPI contract (path in the work tree and in the base revision)")
		asyncapi  = flag.String("asyncapi", "asyncapi.yaml", "the AsyncAPI contract (path in the work tree and in the base revision)")
		changelog = flag.String("changelog", "CHANGELOG.md", "the changelog that must explain a major bump")
		accept    = flag.String("accept", "contract-diff-accept.txt", "breaking changes accepted since the base, with reasons (optional)")
	)
	flag.Parse()
	ok, err := run(os.Stdout, *base, *openapi, *asyncapi, *changelog, *accept)
	if err != nil {
		fmt.Fprintln(os.Stderr, "contractdiff:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

func run(out io.Writer, base, openapiPath, asyncapiPath, changelogPath, acceptPath string) (bool, error) {
	if base == "" {
		base = defaultBase()
	}
	changelog, err := os.ReadFile(changelogPath)
	if err != nil {
		return false, err
	}
	var accepted []Acceptance
	if data, err := os.ReadFile(acceptPath); err == nil {
		if accepted, err = ParseAccept(data); err != nil {
			return false, fmt.Errorf("%s: %w", acceptPath, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	fmt.Fprintf(out, "Contracts compared with %s.\n", base)
	ok := true
	for _, c := range []struct {
		path  string
		check func(base, head []byte) (Report, error)
	}{
		{openapiPath, CheckOpenAPI},
		{asyncapiPath, CheckAsyncAPI},
	} {
		head, err := os.ReadFile(c.path)
		if err != nil {
			return false, err
		}
		old, err := gitShow(base, c.path)
		if err != nil {
			return false, err
		}
		rep, err := c.check(old, head)
		if err != nil {
			return false, fmt.Errorf("%s: %w", c.path, err)
		}
		rep.Accept(accepted)
		v := Judge(rep, changelog)
		rep.Print(out, c.path, v)
		ok = ok && v.OK
	}
	return ok, nil
}

// defaultBase is the newest release tag reachable from HEAD, or main.
func defaultBase() string {
	tag, err := git("describe", "--tags", "--abbrev=0", "--match", "v[0-9]*", "HEAD")
	if err == nil && tag != "" {
		return tag
	}
	return "main"
}

// gitShow returns a file as it is at rev.
func gitShow(rev, path string) ([]byte, error) {
	out, err := git("show", rev+":"+path)
	if err != nil {
		return nil, fmt.Errorf("reading %s at %s: %w", path, rev, err)
	}
	return []byte(out), nil
}

func git(args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			return "", err
		}
		return "", errors.New(msg)
	}
	return strings.TrimSpace(stdout.String()), nil
}
