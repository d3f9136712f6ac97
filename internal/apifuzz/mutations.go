package apifuzz

import (
	"bytes"
	"fmt"
	"net/http"
	"paradise/internal/fuzzkit"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// Sizes of the oversized inputs. OversizedBody is past the server's 1 MiB
// body limit; OversizedHeader past net/http's default 1 MiB header limit,
// which once answered in plain text; DeepNesting is the depth of the
// deeply nested bodies.
const (
	OversizedBody   = 1<<20 + 100<<10
	OversizedHeader = 1<<20 + 100<<10
	LargeHeader     = 100 << 10
	DeepNesting     = 100000
)

// mutations lists the ways the fuzzer breaks a request that depend on
// the operation: its body fields, its parameters, its security.
func (g *Gen) mutations(op *Operation) []plan {
	var out []plan
	if op.Body != nil {
		for _, f := range fields(op.Body, "") {
			out = append(out, g.fieldMutations(f.path, f.schema, f.required)...)
		}
	}
	for _, prm := range op.Params {
		out = append(out, paramMutations(prm)...)
	}
	if op.Security != NoAuth {
		anon, user, admin := Anonymous, User, Admin
		wrong := &admin
		if op.Security == AdminAuth {
			wrong = &user
		}
		out = append(out,
			plan{name: "auth: none", cred: &anon, mustRefuse: true},
			plan{name: "auth: other kind of token", cred: wrong, mustRefuse: true},
		)
	}
	return out
}

// generic lists the ways of breaking a request that do not depend on the
// operation beyond whether it takes a body or a token: the sweep sends
// each once, on one operation, rather than once per operation.
func generic(op *Operation) []plan {
	var out []plan
	if op.Body != nil {
		out = append(out, bodyMutations(op)...)
	} else {
		out = append(out, plan{name: "body on an operation without one", extraBody: true})
	}
	out = append(out, plan{name: "query: unknown parameter with NUL", query: "zz_unknown=%00"})
	out = append(out, headerMutations(op)...)
	return out
}

type field struct {
	path     string
	schema   *openapi3.Schema
	required bool
}

// fields lists the field paths of a body schema, depth first, sorted.
func fields(s *openapi3.Schema, path string) []field {
	var out []field
	switch {
	case s.Type.Is("array") && s.Items != nil:
		item := path + "[]"
		// An item is never required: leaving one out shortens the array.
		out = append(out, field{path: item, schema: s.Items.Value})
		out = append(out, fields(s.Items.Value, item)...)
	case len(s.Properties) > 0:
		required := map[string]bool{}
		for _, name := range s.Required {
			required[name] = true
		}
		names := make([]string, 0, len(s.Properties))
		for name := range s.Properties {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			sub := join(path, name)
			ps := s.Properties[name].Value
			out = append(out, field{path: sub, schema: ps, required: required[name]})
			out = append(out, fields(ps, sub)...)
		}
	}
	return out
}

// bad is a field mutation: a name, whether the server must refuse it, and
// the value.
type bad struct {
	name       string
	mustRefuse bool
	value      func(g *Gen, s *openapi3.Schema) any
}

func constant(v any) func(*Gen, *openapi3.Schema) any {
	return func(*Gen, *openapi3.Schema) any { return v }
}

func (g *Gen) fieldMutations(path string, s *openapi3.Schema, required bool) []plan {
	var bads []bad
	wrongTypes := []bad{
		{"type null", false, constant(nil)},
		{"type object", true, constant(Object{{Key: "a", Value: "b"}})},
		{"type array", true, constant([]any{"a"})},
	}
	switch {
	case s.Type.Is("string"):
		bads = append(bads,
			bad{"NUL", true, func(g *Gen, s *openapi3.Schema) any { return insertMiddle(g.stringValue(s, sweepVariants[0]), "\x00") }},
			bad{"only NUL", true, constant("\x00")},
			bad{"invalid UTF-8", true, func(g *Gen, s *openapi3.Schema) any {
				return insertMiddle(g.stringValue(s, sweepVariants[0]), "\xff\xfe")
			}},
			bad{"truncated UTF-8", true, constant("ab\xe4\xb8")},
			bad{"lone high surrogate", true, constant(Raw(`"ab\ud800cd"`))},
			bad{"lone low surrogate", true, constant(Raw(`"\udc00"`))},
			bad{"surrogate pair", false, constant(Raw(`"\ud83d\ude00"`))},
			bad{"whitespace only", false, constant(" \t ")},
			bad{"type number", true, constant(int64(12))},
			bad{"type bool", true, constant(true)},
		)
		if s.MaxLength != nil {
			n := int(*s.MaxLength)
			bads = append(bads,
				bad{fmt.Sprintf("%d ascii characters (maxLength+1)", n+1), true, func(g *Gen, _ *openapi3.Schema) any { return fuzzkit.Chars(g.r, 0, n+1) }},
				bad{fmt.Sprintf("%d 3-byte characters (maxLength+1)", n+1), true, func(g *Gen, _ *openapi3.Schema) any { return fuzzkit.Chars(g.r, 2, n+1) }},
				bad{fmt.Sprintf("%d 4-byte characters (10*maxLength)", 10*n), true, func(g *Gen, _ *openapi3.Schema) any { return fuzzkit.Chars(g.r, 3, 10*n) }},
			)
		}
		if s.MinLength > 0 {
			n := int(s.MinLength) - 1
			bads = append(bads, bad{fmt.Sprintf("%d characters (minLength-1)", n), true, func(g *Gen, _ *openapi3.Schema) any { return fuzzkit.Chars(g.r, 0, n) }})
		}
		if len(s.Enum) > 0 {
			bads = append(bads, bad{"not in enum", true, constant("not-a-choice")},
				bad{"enum value upper-cased", false, constant(strings.ToUpper(fmt.Sprint(s.Enum[0])))})
		}
		if s.Pattern != "" {
			n := max(int(s.MinLength), 1)
			if s.MaxLength != nil {
				n = min(n, int(*s.MaxLength))
			}
			miss := strings.Repeat("~", n)
			if !regexp.MustCompile(s.Pattern).MatchString(miss) {
				bads = append(bads, bad{"does not match pattern", true, constant(miss)})
			}
		}
	case s.Type.Is("integer") || s.Type.Is("number"):
		lo, hi := intRange(s)
		if s.Min != nil {
			bads = append(bads, bad{"minimum-1", true, constant(lo - 1)})
		}
		if s.Max != nil {
			bads = append(bads, bad{"maximum+1", true, constant(hi + 1)})
		}
		bads = append(bads,
			bad{"-1", lo > -1, constant(int64(-1))},
			bad{"2^63 (int64 overflow)", true, constant(Number("9223372036854775808"))},
			bad{"-2^63-1 (int64 underflow)", true, constant(Number("-9223372036854775809"))},
			bad{"20 digits", true, constant(Number("99999999999999999999"))},
			bad{"1e400", true, constant(Number("1e400"))},
			bad{"fraction", s.Type.Is("integer"), constant(Number("1.5"))},
			bad{"exponent", false, constant(Number("1e2"))},
			bad{"type string", true, constant("1")},
			bad{"type bool", true, constant(true)},
		)
	case s.Type.Is("boolean"):
		bads = append(bads, bad{"type string", true, constant("true")}, bad{"type number", true, constant(int64(1))})
	case s.Type.Is("array"):
		if s.MaxItems != nil {
			n := int(*s.MaxItems) + 1
			bads = append(bads, bad{fmt.Sprintf("%d items (maxItems+1)", n), true, func(g *Gen, s *openapi3.Schema) any {
				out := make([]any, n)
				for i := range out {
					out[i] = g.value(nil, s.Items.Value, "", variant{length: fuzzkit.LenMin + i%2, class: i % len(fuzzkit.CharClasses), pick: i}, nil)
				}
				return out
			}})
		}
		bads = append(bads,
			bad{"type string", true, constant("a")},
			bad{"nested deeply", true, constant(Raw(deep(10000, "[", "]")))},
		)
	default:
		bads = append(bads,
			bad{"type string", true, constant("a")},
			bad{"nested deeply", true, constant(Raw(deep(10000, `{"a":`, "}")))},
		)
	}
	if !s.Type.Is("array") {
		bads = append(bads, wrongTypes[1:]...)
	}
	bads = append(bads, wrongTypes[0])
	if required {
		bads = append(bads, bad{"missing (required)", true, constant(omit)})
	}
	out := make([]plan, 0, len(bads))
	for _, b := range bads {
		b := b
		out = append(out, plan{
			name:       "body." + path + ": " + b.name,
			mustRefuse: b.mustRefuse,
			field:      path,
			bad:        func(s *openapi3.Schema) any { return b.value(g, s) },
		})
	}
	return out
}

func insertMiddle(s, bad string) string {
	i := len(s) / 2
	for i > 0 && i < len(s) && s[i]&0xc0 == 0x80 {
		i-- // keep the characters around it whole
	}
	return s[:i] + bad + s[i:]
}

// deep is depth opening tokens and as many closing ones.
func deep(depth int, open, close string) string {
	return strings.Repeat(open, depth) + "1" + strings.Repeat(close, depth)
}

func bodyMutations(op *Operation) []plan {
	text := "text/plain"
	form := "application/x-www-form-urlencoded"
	none := ""
	withCharset := "application/json; charset=utf-8"
	replace := func(b string) func([]byte) []byte { return func([]byte) []byte { return []byte(b) } }
	out := []plan{
		{name: "body: none", noBody: true, mustRefuse: op.BodyRequired},
		{name: "body: null", body: replace("null"), mustRefuse: true},
		{name: "body: array", body: replace("[]"), mustRefuse: true},
		{name: "body: string", body: replace(`"x"`), mustRefuse: true},
		{name: "body: number", body: replace("1"), mustRefuse: true},
		{name: "body: truncated", body: func(b []byte) []byte { return b[:len(b)/2] }, mustRefuse: true},
		{name: "body: trailing garbage", body: func(b []byte) []byte { return append(b, " x"...) }, mustRefuse: true},
		{name: "body: two documents", body: func(b []byte) []byte { return append(append(b, ' '), b...) }},
		{name: "body: byte order mark", body: func(b []byte) []byte { return append([]byte("\xef\xbb\xbf"), b...) }},
		{name: "body: raw invalid UTF-8 between tokens", body: func(b []byte) []byte { return append([]byte("{\xff"), b[1:]...) }, mustRefuse: true},
		{name: fmt.Sprintf("body: %d nested arrays", DeepNesting), body: replace(deep(DeepNesting, "[", "]")), mustRefuse: true},
		{name: fmt.Sprintf("body: %d nested objects", DeepNesting), body: replace(deep(DeepNesting, `{"a":`, "}")), mustRefuse: true},
		{name: fmt.Sprintf("body: %d bytes", OversizedBody), body: func([]byte) []byte {
			return []byte(`{"x":"` + strings.Repeat("a", OversizedBody) + `"}`)
		}, mustRefuse: true},
		{name: "body: unknown member", body: func(b []byte) []byte {
			if bytes.Equal(b, []byte("{}")) {
				return []byte(`{"zz_unknown":1}`)
			}
			return append([]byte(`{"zz_unknown":1,`), b[1:]...)
		}},
		{name: "body: unknown member with NUL", body: func(b []byte) []byte {
			if bytes.Equal(b, []byte("{}")) {
				return []byte(`{"zz_unknown":"\u0000"}`)
			}
			return append([]byte(`{"zz_unknown":"\u0000",`), b[1:]...)
		}},
		{name: "content type: text/plain", contentType: &text, mustRefuse: true},
		{name: "content type: form", contentType: &form, mustRefuse: true},
		{name: "content type: none", contentType: &none},
		{name: "content type: JSON with charset", contentType: &withCharset},
	}
	return out
}

func paramMutations(prm Param) []plan {
	type raw struct {
		value      string
		mustRefuse bool
	}
	var raws []raw
	s := prm.Schema
	switch {
	case s.Type.Is("integer"):
		lo, _ := intRange(s)
		raws = []raw{
			{"-1", lo > -1},
			{"9223372036854775808", true},
			{"99999999999999999999", true},
			{"922337203685477582", false},
			{"9223372036854775807", false},
			{"1.5", true},
			{"abc", true},
			{"%00", true},
			{"1%00", true},
			{"%ff", true},
			{"%201", true},
			{"+1", false},
		}
		if prm.In == "query" {
			// In a path net/http itself refuses a malformed escape, in plain
			// text, before any handler runs (see docs/reliability.md).
			raws = append(raws, raw{"%zz", true})
		}
		if s.Min != nil {
			raws = append(raws, raw{strconv.FormatInt(lo-1, 10), true})
		}
		if prm.In == "query" {
			raws = append(raws, raw{"", false})
		}
	default:
		n := 200
		if s.MaxLength != nil {
			n = int(*s.MaxLength) + 1
		}
		raws = []raw{
			{"%00", true},
			{"a%00b", true},
			{"%ff", true},
			{"%ed%a0%80", true}, // a UTF-16 surrogate encoded as UTF-8
			{strings.Repeat("a", n), s.MaxLength != nil},
			{strings.Repeat("%E4%B8%AD", n), s.MaxLength != nil},
			{strings.Repeat("%F0%9F%98%80", 50*n), s.MaxLength != nil},
		}
		if prm.In == "query" {
			raws = append(raws, raw{"%zz", true})
		}
	}
	out := make([]plan, 0, len(raws)+1)
	for _, r := range raws {
		shown := r.value
		if len(shown) > 40 {
			shown = fmt.Sprintf("%s... (%d bytes)", shown[:40], len(shown))
		}
		out = append(out, plan{name: prm.In + "." + prm.Name + ": " + shown, param: prm.Name, raw: r.value, mustRefuse: r.mustRefuse})
	}
	if prm.In == "query" {
		out = append(out, plan{name: "query." + prm.Name + ": repeated", query: prm.Name + "=1&" + prm.Name + "=2"})
	}
	return out
}

func headerMutations(op *Operation) []plan {
	out := []plan{
		{name: fmt.Sprintf("header: %d bytes", OversizedHeader), mustRefuse: true, header: func(h http.Header) {
			h.Set("X-Fuzz-Padding", strings.Repeat("a", OversizedHeader))
		}},
		{name: fmt.Sprintf("header: %d bytes", LargeHeader), header: func(h http.Header) {
			h.Set("X-Fuzz-Padding", strings.Repeat("a", LargeHeader))
		}},
		{name: "header: 500 headers", header: func(h http.Header) {
			for i := range 500 {
				h.Set(fmt.Sprintf("X-Fuzz-%d", i), "value")
			}
		}},
		{name: "header: X-Request-ID with invalid UTF-8", header: func(h http.Header) { h.Set("X-Request-ID", "\xff\xfe") }},
		{name: "header: X-Forwarded-Host with invalid UTF-8", header: func(h http.Header) { h.Set("X-Forwarded-Host", "\xff.example") }},
	}
	if op.Security == NoAuth {
		return out
	}
	out = append(out,
		plan{name: "auth: invalid UTF-8 token", mustRefuse: true, header: func(h http.Header) { h.Set("Authorization", "Token \xff\xfe") }},
		plan{name: "auth: Basic", mustRefuse: true, header: func(h http.Header) { h.Set("Authorization", "Basic dXNlcjpwYXNz") }},
		plan{name: "auth: scheme only", mustRefuse: true, header: func(h http.Header) { h.Set("Authorization", "Token") }},
		plan{name: "auth: 8 KiB token", mustRefuse: true, header: func(h http.Header) { h.Set("Authorization", "Token "+strings.Repeat("ab", 4096)) }},
	)
	return out
}
