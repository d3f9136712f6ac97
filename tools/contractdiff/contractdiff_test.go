package main

import (
	"io"
	"os"
	"strings"
	"testing"
)

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// edit applies old->new replacements to a fixture and fails the test when
// one does not apply, so that a fixture edit cannot silently do nothing.
func edit(t *testing.T, doc string, pairs ...string) string {
	t.Helper()
	for i := 0; i < len(pairs); i += 2 {
		if !strings.Contains(doc, pairs[i]) {
			t.Fatalf("fixture lacks %q", pairs[i])
		}
		doc = strings.Replace(doc, pairs[i], pairs[i+1], 1)
	}
	return doc
}

func TestAsyncAPI(t *testing.T) {
	base := fixture(t, "asyncapi.yaml")
	tests := []struct {
		name     string
		edits    []string
		breaking []string // substrings, one per expected breaking change
		warnings int
	}{
		{name: "unchanged"},
		{name: "message added", edits: []string{"          - $ref: '#/components/messages/Pong'\n", "          - $ref: '#/components/messages/Pong'\n          - $ref: '#/components/messages/Ping'\n"}},
		{name: "message removed from a direction", edits: []string{"          - $ref: '#/components/messages/Ping'\n", ""},
			breaking: []string{`message "ping" no longer accepted`}},
		{name: "channel removed", edits: []string{"/ws/:", "/hub/:"},
			breaking: []string{"channel /ws/ removed"}},
		{name: "field removed", edits: []string{"          note: {type: string}\n", ""},
			breaking: []string{"message pong: field note removed"}},
		{name: "field newly required in a sent message", edits: []string{"      required: [type]\n      properties:\n        type: {type: string, const: ping}", "      required: [type, ts]\n      properties:\n        type: {type: string, const: ping}"},
			breaking: []string{"message ping: field ts newly required"}},
		{name: "field newly required in a received message is fine", edits: []string{"required: [type, ts]", "required: [type, ts, note]"}},
		{name: "field no longer required in a received message", edits: []string{"required: [type, ts]", "required: [type]"},
			breaking: []string{"message pong: field ts no longer required"}},
		{name: "enum narrowed in a sent message", edits: []string{"enum: [fast, slow]", "enum: [fast]"},
			breaking: []string{"message ping.mode: enum value slow removed"}},
		{name: "enum widened in a received message warns", edits: []string{"enum: [low, high]", "enum: [low, high, max]"}, warnings: 1},
		{name: "enum widened in a sent message is fine", edits: []string{"enum: [fast, slow]", "enum: [fast, slow, off]"}},
		{name: "type narrowed in a sent message", edits: []string{"ts: {type: integer, minimum: 0}", "ts: {type: string}"},
			breaking: []string{"message ping.ts: type no longer accepts integer"}},
		{name: "bound added in a sent message", edits: []string{"mode: {type: string, enum: [fast, slow]}", "mode: {type: string, enum: [fast, slow], maxLength: 4}"},
			breaking: []string{"message ping.mode: maxLength 4 added"}},
		{name: "type widened in a received message", edits: []string{"ts: {type: integer}", "ts: {type: [integer, 'null']}"},
			breaking: []string{"message pong.ts: type may now be null"}},
		{name: "bound tightened in a relayed message", edits: []string{"maxLength: 100", "maxLength: 50"},
			breaking: []string{"message relay.text: maxLength tightened from 100 to 50"}},
		{name: "const changed", edits: []string{"const: relay", "const: relayed"},
			breaking: []string{"message relay.type: const changed"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := CheckAsyncAPI([]byte(base), []byte(edit(t, base, tc.edits...)))
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Breaking) != len(tc.breaking) || len(rep.Warnings) != tc.warnings {
				t.Fatalf("breaking %q, warnings %q; want %d breaking %q and %d warnings", rep.Breaking, rep.Warnings, len(tc.breaking), tc.breaking, tc.warnings)
			}
			for i, want := range tc.breaking {
				if !strings.Contains(rep.Breaking[i], want) {
					t.Errorf("breaking[%d] = %q, want it to contain %q", i, rep.Breaking[i], want)
				}
			}
			if rep.BaseVersion != "1.2.0" {
				t.Errorf("base version %q", rep.BaseVersion)
			}
		})
	}
}

func TestOpenAPI(t *testing.T) {
	base := fixture(t, "openapi.yaml")
	tests := []struct {
		name     string
		edits    []string
		breaking bool
	}{
		{name: "unchanged"},
		{name: "optional request field added", edits: []string{"                color: {type: string}\n", "                color: {type: string}\n                size: {type: integer}\n"}},
		{name: "operation removed", breaking: true, edits: []string{"    post:\n      operationId: createItem", "    put:\n      operationId: createItem"}},
		{name: "request field newly required", breaking: true, edits: []string{"              required: [name]\n              properties:\n                name: {type: string}\n                color", "              required: [name, color]\n              properties:\n                name: {type: string}\n                color"}},
		{name: "response field removed", breaking: true, edits: []string{"                required: [name]\n                properties:\n                  name: {type: string}\n", "                properties:\n                  id: {type: integer}\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := CheckOpenAPI([]byte(base), []byte(edit(t, base, tc.edits...)))
			if err != nil {
				t.Fatal(err)
			}
			if got := len(rep.Breaking) > 0; got != tc.breaking {
				t.Fatalf("breaking %q, want breaking=%v", rep.Breaking, tc.breaking)
			}
		})
	}
}

func TestJudge(t *testing.T) {
	breaking := []string{"GET /items/: removed"}
	const (
		explained   = "# Changelog\n\n## [Unreleased]\n\n### Breaking\n\n- Removed GET /items/: replaced by /things/.\n\n## [1.2.0]\n"
		underNew    = "## [2.0.0] - 2026-12-01\n### Breaking\n- Removed GET /items/.\n"
		emptyBreak  = "## [Unreleased]\n### Breaking\n\n### Added\n- x\n"
		underOldVer = "## [Unreleased]\n### Added\n- x\n## [1.2.0]\n### Breaking\n- old news\n"
	)
	tests := []struct {
		name      string
		rep       Report
		changelog string
		ok        bool
	}{
		{"no breaking change", Report{BaseVersion: "1.2.0", HeadVersion: "1.2.0"}, "", true},
		{"breaking without a bump", Report{BaseVersion: "1.2.0", HeadVersion: "1.3.0", Breaking: breaking}, explained, false},
		{"bumped but not explained", Report{BaseVersion: "1.2.0", HeadVersion: "2.0.0", Breaking: breaking}, underOldVer, false},
		{"bumped, empty Breaking section", Report{BaseVersion: "1.2.0", HeadVersion: "2.0.0", Breaking: breaking}, emptyBreak, false},
		{"bumped and explained under Unreleased", Report{BaseVersion: "1.2.0", HeadVersion: "2.0.0", Breaking: breaking}, explained, true},
		{"bumped and explained under the new version", Report{BaseVersion: "1.2.0", HeadVersion: "2.0.0", Breaking: breaking}, underNew, true},
		{"0.x counts: 0.4.0 -> 1.0.0", Report{BaseVersion: "0.4.0", HeadVersion: "1.0.0", Breaking: breaking}, explained, true},
		{"0.x minor bump is not enough", Report{BaseVersion: "0.4.0", HeadVersion: "0.5.0", Breaking: breaking}, explained, false},
		{"not a version", Report{BaseVersion: "draft", HeadVersion: "2.0.0", Breaking: breaking}, explained, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if v := Judge(tc.rep, []byte(tc.changelog)); v.OK != tc.ok {
				t.Fatalf("Judge = %+v, want OK=%v", v, tc.ok)
			}
		})
	}
}

// TestRun drives the whole gate in a scratch repository: a release tag,
// then a breaking change, then the bump and changelog entry that allow it.
func TestRun(t *testing.T) {
	openapi, asyncapi := fixture(t, "openapi.yaml"), fixture(t, "asyncapi.yaml")
	t.Chdir(t.TempDir())
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"config", "user.email", "t@example.com"}, {"config", "user.name", "t"}} {
		if _, err := git(args...); err != nil {
			t.Fatal(err)
		}
	}
	write("openapi.yaml", openapi)
	write("asyncapi.yaml", asyncapi)
	write("CHANGELOG.md", "# Changelog\n\n## [Unreleased]\n")
	for _, args := range [][]string{{"add", "-A"}, {"commit", "-qm", "release"}, {"tag", "v1.2.0"}} {
		if _, err := git(args...); err != nil {
			t.Fatal(err)
		}
	}
	gate := func() (bool, string) {
		t.Helper()
		var out strings.Builder
		ok, err := run(&out, "", "openapi.yaml", "asyncapi.yaml", "CHANGELOG.md", "contract-diff-accept.txt")
		if err != nil {
			t.Fatal(err)
		}
		return ok, out.String()
	}
	if ok, out := gate(); !ok || !strings.Contains(out, "compared with v1.2.0") {
		t.Fatalf("unchanged contracts refused:\n%s", out)
	}

	// A frame type clients receive disappears.
	write("asyncapi.yaml", edit(t, asyncapi, "          - $ref: '#/components/messages/Pong'\n", ""))
	if ok, out := gate(); ok || !strings.Contains(out, `message "pong" no longer sent`) {
		t.Fatalf("breaking change let through:\n%s", out)
	}
	write("asyncapi.yaml", edit(t, asyncapi, "          - $ref: '#/components/messages/Pong'\n", "", "version: 1.2.0", "version: 2.0.0"))
	if ok, out := gate(); ok {
		t.Fatalf("major bump without a changelog entry let through:\n%s", out)
	}
	write("CHANGELOG.md", "# Changelog\n\n## [Unreleased]\n\n### Breaking\n\n- The hub no longer sends pong.\n")
	if ok, out := gate(); !ok {
		t.Fatalf("explained major bump refused:\n%s", out)
	}

	// Without the bump, an entry of the accept file lets the change through.
	write("CHANGELOG.md", "# Changelog\n\n## [Unreleased]\n")
	write("asyncapi.yaml", edit(t, asyncapi, "          - $ref: '#/components/messages/Pong'\n", ""))
	write("contract-diff-accept.txt", "# accepted\nmessage \"pong\" no longer sent | no client ever read pong\n")
	if ok, out := gate(); !ok || !strings.Contains(out, "accepted: channel /ws/: message \"pong\" no longer sent") {
		t.Fatalf("accepted change refused:\n%s", out)
	}
	write("contract-diff-accept.txt", "message \"pong\" no longer sent\n")
	if _, err := run(io.Discard, "", "openapi.yaml", "asyncapi.yaml", "CHANGELOG.md", "contract-diff-accept.txt"); err == nil {
		t.Fatal("an entry without a reason was taken")
	}
}
