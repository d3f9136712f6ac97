package jsontext

import "testing"

func TestProblem(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		problem string // "" = fine
		offset  int
	}{
		{"plain object", `{"a":"b"}`, "", 0},
		{"CJK and emoji", `{"a":"中文😀"}`, "", 0},
		{"escaped pair", `{"a":"\ud83d\ude00"}`, "", 0},
		{"escaped quote and backslash", `{"a":"x\"\\"}`, "", 0},
		{"escaped backslash before u0000 text", `{"a":"\\u0000"}`, "", 0},
		{"other escapes", `{"a":"\n\t\u00e9"}`, "", 0},
		{"u0000 outside a string is the decoder's business", `\u0000`, "", 0},
		{"malformed escape is the decoder's business", `{"a":"\u00zz"}`, "", 0},
		{"escape cut short", `{"a":"\u00`, "", 0},
		{"NUL escape", `{"a":"x\u0000"}`, "null characters are not allowed", 7},
		{"NUL escape upper case", `{"a":"\U0000"}`, "", 0},
		{"lone high surrogate", `{"a":"\ud800x"}`, "unpaired UTF-16 surrogate escape", 6},
		{"high surrogate at the end", `{"a":"\ud800"}`, "unpaired UTF-16 surrogate escape", 6},
		{"high then non-low", `{"a":"\ud800\u0041"}`, "unpaired UTF-16 surrogate escape", 6},
		{"lone low surrogate", `{"a":"\udc00"}`, "unpaired UTF-16 surrogate escape", 6},
		{"NUL after a pair", `{"a":"\ud83d\ude00\u0000"}`, "null characters are not allowed", 18},
		{"invalid UTF-8 in a string", "{\"a\":\"x\xff\"}", "invalid UTF-8", 7},
		{"truncated UTF-8", "{\"a\":\"\xe4\xb8\"}", "invalid UTF-8", 6},
		{"UTF-8 encoded surrogate", "{\"a\":\"\xed\xa0\x80\"}", "invalid UTF-8", 6},
		{"invalid UTF-8 between tokens", "{\xff}", "invalid UTF-8", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			problem, offset := Problem([]byte(tc.body))
			if problem != tc.problem || offset != tc.offset {
				t.Fatalf("Problem(%q) = %q at %d, want %q at %d", tc.body, problem, offset, tc.problem, tc.offset)
			}
		})
	}
}
