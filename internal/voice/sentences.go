package voice

import (
	"strings"
	"unicode/utf8"
)

// sentences cuts a reply arriving in pieces into sentences to synthesize
// one by one, so the first can be spoken while the model still writes
// the rest. A sentence ends at terminal punctuation or a newline; one
// running past maxChars is cut at its last pause (comma, space) or, with
// none, at maxChars.
type sentences struct {
	buf      strings.Builder
	maxChars int
}

// enders end a sentence; pauses are where an overlong one may be cut.
const (
	enders = "。！？!?；;\n…"
	pauses = "，,、：: "
)

// add appends text and returns the sentences it completed.
func (s *sentences) add(text string) []string {
	s.buf.WriteString(text)
	var out []string
	for {
		cur := s.buf.String()
		cut := -1
		for i, r := range cur {
			if strings.ContainsRune(enders, r) || (r == '.' && i+1 < len(cur) && cur[i+1] == ' ') {
				cut = i + utf8.RuneLen(r)
				break
			}
		}
		if cut < 0 && s.maxChars > 0 && utf8.RuneCountInString(cur) > s.maxChars {
			cut = overlongCut(cur, s.maxChars)
		}
		if cut < 0 {
			return out
		}
		if sentence := strings.TrimSpace(cur[:cut]); sentence != "" {
			out = append(out, sentence)
		}
		rest := cur[cut:]
		s.buf.Reset()
		s.buf.WriteString(rest)
	}
}

// overlongCut is the byte offset to cut a text longer than maxChars
// runes: after its last pause within them, else after maxChars runes.
func overlongCut(text string, maxChars int) int {
	n, last, end := 0, -1, len(text)
	for i, r := range text {
		if n == maxChars {
			end = i
			break
		}
		n++
		if strings.ContainsRune(pauses, r) {
			last = i + utf8.RuneLen(r)
		}
	}
	if last > 0 {
		return last
	}
	return end
}

// flush returns what is left, as a last sentence (possibly empty).
func (s *sentences) flush() []string {
	rest := s.buf.String()
	s.buf.Reset()
	var out []string
	for strings.TrimSpace(rest) != "" {
		if s.maxChars <= 0 || utf8.RuneCountInString(rest) <= s.maxChars {
			out = append(out, strings.TrimSpace(rest))
			break
		}
		cut := overlongCut(rest, s.maxChars)
		if sentence := strings.TrimSpace(rest[:cut]); sentence != "" {
			out = append(out, sentence)
		}
		rest = rest[cut:]
	}
	return out
}
