package hubfuzz

import (
	"bytes"
	"fmt"
	"paradise/internal/fuzzkit"
	"strings"
)

// depth is how deeply a value nests when each level takes unit bytes:
// as deep as fits well inside the read limit, so the frame is judged on
// its nesting, not closed for its size.
func (g *Gen) depth(unit int) int {
	limit := g.readLimit
	if limit <= 0 {
		limit = 64 << 10
	}
	return max(limit/2/unit, 1)
}

type field struct {
	path     string
	schema   *Schema
	required bool
}

// fields lists the field paths of a payload schema, depth first, sorted.
func fields(s *Schema, path string) []field {
	var out []field
	for _, name := range s.Names() {
		sub := path + "." + name
		ps := s.Properties[name]
		out = append(out, field{path: sub, schema: ps, required: s.IsRequired(name)})
		out = append(out, fields(ps, sub)...)
	}
	return out
}

// bad is one way of breaking a field.
type bad struct {
	name  string
	want  Outcome
	codes []string
	value func(g *Gen, s *Schema) any
}

func constant(v any) func(*Gen, *Schema) any { return func(*Gen, *Schema) any { return v } }

var payload = []string{codeInvalidPayload}

// jsonOrPayload is for input that is not valid JSON inside an otherwise
// well-formed frame: either code describes it.
var jsonOrPayload = []string{codeInvalidJSON, codeInvalidPayload}

func refuse(name string, v func(*Gen, *Schema) any) bad {
	return bad{name: name, want: Refuse, codes: payload, value: v}
}

func (g *Gen) goodString(s *Schema) string {
	return fuzzkit.Chars(g.r, 0, fuzzkit.Bounds(g.r, s.MinLength, s.MaxLength, fuzzkit.LenMaxMinus))
}

// mutations lists the ways of breaking (or stretching) each field of a
// message type, and the whole message.
func (g *Gen) mutations(m *Message) []plan {
	var out []plan
	// The message member itself.
	for _, b := range []bad{
		refuse("missing", constant(omit)),
		refuse("null", constant(nil)),
		refuse("string", constant("hello")),
		refuse("array", constant([]any{})),
		refuse("number", constant(int64(1))),
	} {
		out = append(out, plan{name: "message: " + b.name, field: "message", bad: b.value, want: b.want, codes: b.codes})
	}
	if m.Payload.Is("object") && !m.Payload.FreeForm {
		// Unknown members are ignored, whatever they hold.
		out = append(out,
			plan{name: "message: unknown member", want: Relay, compare: true, field: "message", bad: func(g *Gen, s *Schema) any {
				obj := g.value(s, "", sweepVariants[0], nil).(object)
				return append(obj, member{Key: "zz_unknown", Value: object{{Key: "a", Value: []any{int64(1), "中"}}}})
			}},
			plan{name: "message: unknown member holding NUL and a lone surrogate", want: Either, field: "message", bad: func(g *Gen, s *Schema) any {
				obj := g.value(s, "", sweepVariants[0], nil).(object)
				return append(obj, member{Key: "zz_unknown", Value: raw(`"\u0000\ud800"`)})
			}},
		)
	}
	for _, f := range fields(m.Payload, "message") {
		for _, b := range g.fieldMutations(f) {
			p := plan{name: f.path + ": " + b.name, field: f.path, bad: b.value, want: b.want, codes: b.codes, compare: true}
			if b.want == Close {
				p.closeCode = closeInvalidUTF8
			}
			out = append(out, p)
		}
	}
	// Frame-level members of this type.
	out = append(out,
		plan{name: "frame: unknown member", want: Relay, compare: true, extra: []member{{Key: "zz_unknown", Value: true}}},
		plan{name: "frame: forged from", want: Relay, compare: true, extra: []member{{Key: "from", Value: object{
			{Key: "role", Value: "device"}, {Key: "mac_address", Value: "AA:AA:AA:AA:AA:AA"}, {Key: "connection_id", Value: "forged"}}}}},
		plan{name: "frame: from of the wrong type", want: Either, extra: []member{{Key: "from", Value: int64(5)}}},
		plan{name: "frame: duplicate type, server-only second", want: Either, extra: []member{{Key: "type", Value: "pong"}}},
		plan{name: "frame: duplicate message, empty second", want: Either, extra: []member{{Key: "message", Value: object{}}}},
		plan{name: "frame: whitespace around", want: Relay, compare: true, data: func(b []byte) []byte {
			return append(append([]byte(" \r\n\t"), b...), " \n"...)
		}},
		plan{name: "frame: trailing object", want: Refuse, codes: []string{codeInvalidJSON}, data: func(b []byte) []byte { return append(b, " {}"...) }},
		plan{name: "frame: trailing garbage", want: Refuse, codes: []string{codeInvalidJSON}, data: func(b []byte) []byte { return append(b, "x"...) }},
		plan{name: "frame: byte order mark", want: Refuse, codes: []string{codeInvalidJSON}, data: func(b []byte) []byte {
			return append([]byte("\xef\xbb\xbf"), b...)
		}},
		plan{name: "frame: truncated", want: Refuse, codes: []string{codeInvalidJSON}, data: func(b []byte) []byte { return b[:len(b)-1] }},
		plan{name: "frame: invalid UTF-8 after the object", want: Close, closeCode: closeInvalidUTF8, data: func(b []byte) []byte { return append(b, 0xff) }},
	)
	return out
}

func (g *Gen) fieldMutations(f field) []bad {
	s := f.schema
	var out []bad
	if f.required {
		out = append(out, refuse("missing", constant(omit)))
	}
	if !s.Is("null") {
		out = append(out, refuse("null", constant(nil)))
	}
	switch {
	case s.Is("string"):
		out = append(out,
			refuse("type number", constant(int64(12))),
			refuse("type bool", constant(true)),
			refuse("type object", constant(object{{Key: "a", Value: "b"}})),
			refuse("type array", constant([]any{"a"})),
			refuse("NUL", func(g *Gen, s *Schema) any { return insertMiddle(g.goodString(s), "\x00") }),
			refuse("only NUL", constant("\x00")),
			refuse("lone high surrogate", constant(raw(`"ab\ud800cd"`))),
			refuse("lone low surrogate", constant(raw(`"\udc00"`))),
			refuse("surrogates reversed", constant(raw(`"\ude00\ud83d"`))),
			bad{name: "unescaped control character", want: Refuse, codes: jsonOrPayload, value: constant(raw("\"a\x01b\""))},
			bad{name: "invalid UTF-8", want: Close, value: func(g *Gen, s *Schema) any { return insertMiddle(g.goodString(s), "\xff\xfe") }},
			bad{name: "truncated UTF-8", want: Close, value: constant("ab\xe4\xb8")},
			bad{name: "overlong UTF-8", want: Close, value: constant("\xc0\xaf")},
			bad{name: "UTF-8 encoded surrogate", want: Close, value: constant("\xed\xa0\x80")},
		)
		if len(s.Enum) > 0 {
			out = append(out,
				refuse("not in enum", constant("zz_not_a_value")),
				refuse("enum in other case", constant(strings.ToUpper(s.Enum[0]))),
				refuse("enum with a trailing space", constant(s.Enum[0]+" ")),
				bad{name: "enum value written with escapes", want: Relay, value: constant(raw(`"` + escapeAll(s.Enum[0]) + `"`))},
			)
			break
		}
		if s.Const != nil {
			break
		}
		// Escapes of what is in spec are in spec.
		out = append(out,
			bad{name: "surrogate pair escape", want: Relay, value: constant(raw(`"\ud83d\ude00"`))},
			bad{name: "escaped CJK", want: Relay, value: constant(raw(`"\u4e2d\u6587"`))},
			bad{name: "escaped control characters", want: Relay, value: constant(raw(`"a\u0001\u001f\"\\\/b"`))},
		)
		if s.MaxLength >= 0 {
			n := s.MaxLength
			for class := range fuzzkit.CharClasses {
				out = append(out, bad{name: fmt.Sprintf("%d %s characters (maxLength)", n, fuzzkit.CharClasses[class].Name), want: Relay,
					value: func(g *Gen, _ *Schema) any { return fuzzkit.Chars(g.r, class, n) }})
			}
			out = append(out,
				refuse(fmt.Sprintf("%d ascii characters (maxLength+1)", n+1), func(g *Gen, _ *Schema) any { return fuzzkit.Chars(g.r, 0, n+1) }),
				refuse(fmt.Sprintf("%d 4-byte characters (maxLength+1)", n+1), func(g *Gen, _ *Schema) any { return fuzzkit.Chars(g.r, 3, n+1) }),
				refuse(fmt.Sprintf("%d 3-byte characters (maxLength+1)", n+1), func(g *Gen, _ *Schema) any { return fuzzkit.Chars(g.r, 2, n+1) }),
			)
		}
		if s.MinLength > 0 {
			out = append(out, refuse(fmt.Sprintf("%d characters (minLength-1)", s.MinLength-1), func(g *Gen, _ *Schema) any {
				return fuzzkit.Chars(g.r, 0, s.MinLength-1)
			}))
			out = append(out, bad{name: "whitespace only", want: Relay, value: constant(strings.Repeat(" ", s.MinLength))})
		}
	case s.Is("integer"):
		lo, hi := intRange(s)
		out = append(out,
			refuse("type string", constant("12")),
			refuse("type bool", constant(false)),
			refuse("type array", constant([]any{int64(1)})),
			refuse("fraction", constant(1.5)),
			refuse("int64 overflow", constant(number("9223372036854775808"))),
			refuse("20 digits", constant(number("99999999999999999999"))),
			refuse("int64 underflow", constant(number("-9223372036854775809"))),
			refuse("1e400", constant(number("1e400"))),
			refuse("-1e400", constant(number("-1e400"))),
			bad{name: "NaN", want: Refuse, codes: jsonOrPayload, value: constant(raw("NaN"))},
			bad{name: "leading zero", want: Refuse, codes: jsonOrPayload, value: constant(raw("012"))},
			bad{name: "plus sign", want: Refuse, codes: jsonOrPayload, value: constant(raw("+1"))},
			bad{name: "exponent form of an integer", want: Either, value: constant(number("1e1"))},
			bad{name: "integer with .0", want: Either, value: constant(number("10.0"))},
			bad{name: "minus zero", want: Either, value: constant(number("-0"))},
		)
		if s.Minimum != nil {
			out = append(out, refuse(fmt.Sprintf("%d (minimum-1)", lo-1), constant(lo-1)), refuse("-1 million", constant(int64(-1000000))))
		}
		if s.Maximum != nil {
			out = append(out, refuse(fmt.Sprintf("%d (maximum+1)", hi+1), constant(hi+1)))
		}
	case s.Is("number"):
		out = append(out,
			refuse("type string", constant("12.5")),
			refuse("type bool", constant(true)),
			refuse("1e400", constant(number("1e400"))),
			refuse("-1e400", constant(number("-1e400"))),
			bad{name: "NaN", want: Refuse, codes: jsonOrPayload, value: constant(raw("NaN"))},
			bad{name: "Infinity", want: Refuse, codes: jsonOrPayload, value: constant(raw("-Infinity"))},
			bad{name: "bare decimal point", want: Refuse, codes: jsonOrPayload, value: constant(raw("1."))},
			bad{name: "5e-324 (smallest float64)", want: Relay, value: constant(number("5e-324"))},
			bad{name: "1e-400 (underflows to 0)", want: Either, value: constant(number("1e-400"))},
		)
		if s.Minimum != nil {
			out = append(out, refuse("minimum-0.001", constant(*s.Minimum-0.001)), refuse("minimum-1e9", constant(*s.Minimum-1e9)))
		}
		if s.Maximum != nil {
			out = append(out, refuse("maximum+0.001", constant(*s.Maximum+0.001)), refuse("maximum+1e-10 in exponent form", constant(number(fmt.Sprintf("%.10fe0", *s.Maximum+1e-10)))))
		}
	case s.Is("boolean"):
		out = append(out,
			refuse("type string", constant("true")),
			refuse("type number", constant(int64(1))),
			refuse("type object", constant(object{})),
		)
	case s.Is("object") && s.FreeForm:
		out = append(out,
			refuse("type string", constant("x")),
			refuse("type array", constant([]any{int64(1)})),
			refuse("type number", constant(int64(1))),
			bad{name: "empty object", want: Relay, value: constant(object{})},
			bad{name: "values with NUL, surrogates and control characters", want: Either,
				value: constant(raw(`{"nul":"\u0000","hi":"\ud800","pair":"\ud83d\ude00","ctl":"\u0001"}`))},
			bad{name: "deep nesting", want: Either, value: func(g *Gen, _ *Schema) any {
				n := g.depth(6)
				return raw(strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n))
			}},
			bad{name: "1000 members", want: Relay, value: func(*Gen, *Schema) any {
				obj := object{}
				for i := range 1000 {
					obj = append(obj, member{Key: fmt.Sprintf("k%d", i), Value: int64(i)})
				}
				return obj
			}},
			bad{name: "duplicate keys", want: Either, value: constant(raw(`{"a":1,"a":"two"}`))},
		)
	}
	if !s.Is("object") && !s.Is("string") {
		out = append(out, bad{name: "deeply nested array", want: Refuse, codes: jsonOrPayload, value: func(g *Gen, _ *Schema) any {
			n := g.depth(2)
			return raw(strings.Repeat("[", n) + strings.Repeat("]", n))
		}})
	}
	return out
}

// escapeAll writes every character of s as a \uXXXX escape.
func escapeAll(s string) string {
	var b strings.Builder
	for _, r := range s {
		fmt.Fprintf(&b, `\u%04x`, r)
	}
	return b.String()
}

func insertMiddle(s, ins string) string {
	r := []rune(s)
	mid := len(r) / 2
	return string(r[:mid]) + ins + string(r[mid:])
}

// generic lists the frame-level cases, independent of a message type.
func (g *Gen) generic() []*Frame {
	var out []*Frame
	refuse := func(name string, codes []string, data string) {
		out = append(out, &Frame{Case: name, Data: []byte(data), Want: Refuse, Codes: codes})
	}
	notJSON := []string{codeInvalidJSON}
	refuse("not JSON: empty text frame", notJSON, "")
	refuse("not JSON: whitespace", notJSON, " \n\t ")
	refuse("not JSON: word", notJSON, "hello")
	refuse("not JSON: truncated object", notJSON, `{"type":`)
	refuse("not JSON: single quotes", notJSON, `{'type':'chat','message':{'text':'hi'}}`)
	refuse("not JSON: comment", notJSON, `{"type":"chat",/*x*/"message":{"text":"hi"}}`)
	refuse("not an object: null", notJSON, "null")
	refuse("not an object: array", notJSON, `[{"type":"chat","message":{"text":"hi"}}]`)
	refuse("not an object: string", notJSON, `"chat"`)
	refuse("not an object: number", notJSON, "12")
	refuse("not an object: true", notJSON, "true")
	refuse("two objects", notJSON, `{"type":"chat","message":{"text":"a"}}{"type":"chat","message":{"text":"b"}}`)
	deep := g.depth(2)
	refuse("not an object: deeply nested array", notJSON, strings.Repeat("[", deep)+strings.Repeat("]", deep))
	refuse("not JSON: unclosed brackets", notJSON, strings.Repeat("[", deep))
	deep = g.depth(9)
	refuse("deeply nested object as the message", jsonOrPayload,
		`{"type":"chat","message":`+strings.Repeat(`{"text":`, deep)+`"x"`+strings.Repeat("}", deep)+"}")

	unknown := []string{codeUnknownType}
	refuse("type missing", unknown, `{"message":{"text":"hi"}}`)
	refuse("type unknown", unknown, `{"type":"dance","message":{}}`)
	refuse("type empty", unknown, `{"type":"","message":{}}`)
	refuse("type null", unknown, `{"type":null,"message":{}}`)
	refuse("type number", unknown, `{"type":5,"message":{}}`)
	refuse("type array", unknown, `{"type":["chat"],"message":{"text":"hi"}}`)
	refuse("type object", unknown, `{"type":{"chat":true},"message":{"text":"hi"}}`)
	refuse("type in upper case", unknown, `{"type":"CHAT","message":{"text":"hi"}}`)
	refuse("type with a trailing space", unknown, `{"type":"chat ","message":{"text":"hi"}}`)
	refuse("type with NUL", unknown, `{"type":"chat\u0000","message":{"text":"hi"}}`)
	refuse("type with a lone surrogate", unknown, `{"type":"chat\ud800","message":{"text":"hi"}}`)
	refuse("type of 4-byte characters", unknown, `{"type":"`+fuzzkit.Chars(g.r, 3, 200)+`","message":{}}`)
	refuse("type of escaped control characters", unknown, `{"type":"`+strings.Repeat(`\u0001\"\\`, 2000)+`","message":{}}`)
	refuse("type of raw <>&", unknown, `{"type":"`+strings.Repeat(`<>&'`, 3000)+`","message":{}}`)
	refuse("type of a lone surrogate, repeated", unknown, `{"type":"`+strings.Repeat(`\udfff`, 3000)+`","message":{}}`)

	for _, typ := range g.spec.ServerOnlyTypes() {
		m := g.spec.Messages[typ]
		for i, ex := range m.Examples {
			refuse(fmt.Sprintf("server-only type %s, example #%d", typ, i), []string{codeNotAllowed}, string(ex))
		}
		refuse(fmt.Sprintf("server-only type %s, empty message", typ), []string{codeNotAllowed, codeInvalidPayload}, `{"type":"`+typ+`","message":{}}`)
	}

	// Binary frames: "every WebSocket message is one JSON text frame".
	for _, b := range []struct{ name, data string }{
		{"binary: a valid frame", `{"type":"chat","message":{"text":"hi"}}`},
		{"binary: empty", ""},
		{"binary: bytes", "\x00\x01\xff\xfe\x80"},
	} {
		out = append(out, &Frame{Case: b.name, Data: []byte(b.data), Binary: true, Want: Refuse, Codes: notJSON})
	}

	// Invalid UTF-8 anywhere in a text frame: 1007.
	for _, b := range []struct{ name, data string }{
		{"invalid UTF-8: lone byte 0xff", "\xff"},
		{"invalid UTF-8: in the type", "{\"type\":\"ch\xffat\",\"message\":{}}"},
		{"invalid UTF-8: in a key", "{\"type\":\"chat\",\"message\":{\"te\x80xt\":\"hi\"}}"},
		{"invalid UTF-8: truncated at the end", "{\"type\":\"chat\",\"message\":{\"text\":\"hi\"}}\xe4\xb8"},
		{"invalid UTF-8: not JSON either", "\xc3\x28 hello"},
	} {
		out = append(out, &Frame{Case: b.name, Data: []byte(b.data), Want: Close, CloseCode: closeInvalidUTF8})
	}

	// Sizes around the read limit. A command's params take any members,
	// so a command padded to exactly the limit is in spec.
	if g.readLimit > 0 {
		out = append(out,
			g.padded("read limit: command of exactly the limit", g.readLimit, Relay),
			g.padded("read limit: command one byte under the limit", g.readLimit-1, Relay),
			g.padded("read limit: command one byte over the limit", g.readLimit+1, Close),
			&Frame{Case: "read limit: 1 MiB of spaces", Data: bytes.Repeat([]byte(" "), 1<<20), Want: Close, CloseCode: closeTooBig},
			&Frame{Case: "read limit: binary frame one byte over", Data: bytes.Repeat([]byte("x"), g.readLimit+1), Binary: true, Want: Close, CloseCode: closeTooBig},
		)
		// Out of spec and as large as allowed: the error must stay small.
		text := strings.Repeat(`\"`, (g.readLimit-64)/2)
		out = append(out,
			&Frame{Case: "read limit: chat text of escaped quotes up to the limit", Data: []byte(`{"type":"chat","message":{"text":"` + text + `"}}`), Want: Refuse, Codes: payload},
			&Frame{Case: "read limit: unknown type up to the limit", Data: []byte(`{"type":"` + text + `","message":{}}`), Want: Refuse, Codes: unknown},
			&Frame{Case: "read limit: unterminated string up to the limit", Data: []byte(`{"type":"chat","message":{"text":"` + strings.Repeat("\u4e2d", (g.readLimit-64)/3)), Want: Refuse, Codes: notJSON},
		)
	}
	return out
}

// padded is a command frame of exactly size bytes.
func (g *Gen) padded(name string, size int, want Outcome) *Frame {
	head := `{"type":"command","message":{"command_id":"pad","name":"pad","params":{"pad":"`
	tail := `"}}}`
	n := size - len(head) - len(tail)
	if n < 0 {
		n = 0
	}
	data := head + strings.Repeat("p", n) + tail
	f := &Frame{Type: "command", Case: name, Data: []byte(data), Want: want}
	if want == Close {
		f.CloseCode = closeTooBig
	} else {
		f.Message = decode([]byte(`{"command_id":"pad","name":"pad","params":{"pad":"` + strings.Repeat("p", n) + `"}}`))
	}
	return f
}
