package voice

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSentences(t *testing.T) {
	for _, tc := range []struct {
		name   string
		pieces []string
		max    int
		want   []string
	}{
		{"chinese", []string{"今天是晴", "天。适合", "出去走走！还有"}, 300, []string{"今天是晴天。", "适合出去走走！", "还有"}},
		{"english", []string{"Good morning. How ", "are you? Fine"}, 300, []string{"Good morning.", "How are you?", "Fine"}},
		{"decimal is not an end", []string{"It costs 3.5 dollars"}, 300, []string{"It costs 3.5 dollars"}},
		{"overlong cut at a pause", []string{"一二三，四五六七八九十"}, 6, []string{"一二三，", "四五六七八九", "十"}},
		{"overlong without pause", []string{"abcdefghij"}, 4, []string{"abcd", "efgh", "ij"}},
		{"newline", []string{"line one\nline two"}, 300, []string{"line one", "line two"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := sentences{maxChars: tc.max}
			var got []string
			for _, p := range tc.pieces {
				got = append(got, s.add(p)...)
			}
			got = append(got, s.flush()...)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			for _, g := range got {
				if utf8.RuneCountInString(g) > tc.max {
					t.Fatalf("%q over %d", g, tc.max)
				}
			}
			if strings.Join(got, "") != strings.ReplaceAll(strings.ReplaceAll(strings.Join(tc.pieces, ""), " ", ""), "\n", "") &&
				tc.name == "chinese" {
				t.Fatal("text lost")
			}
		})
	}
}
