// Package jsontext finds what JSON text may not carry into the service:
// Postgres cannot store NUL characters or invalid UTF-8, and a lone UTF-16
// surrogate escape is not a character at all (decoders silently turn it
// into U+FFFD). The REST edge and the hub refuse such input with a clear
// error instead of failing later or storing something else.
package jsontext

import "unicode/utf8"

// Problem scans JSON text for what no string in it may hold: invalid
// UTF-8 anywhere, and inside strings \u0000 escapes and UTF-16 surrogate
// escapes that do not form a pair. It returns the problem and its byte
// offset, or "". It does not validate the JSON otherwise; the decoder
// does.
func Problem(b []byte) (string, int) {
	if !utf8.Valid(b) {
		for i := 0; i < len(b); {
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size <= 1 {
				return "invalid UTF-8", i
			}
			i += size
		}
	}
	return EscapeProblem(b)
}

// EscapeProblem is Problem for text already known to be valid UTF-8: it
// looks only at escapes.
func EscapeProblem(b []byte) (string, int) {
	inString := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			inString = !inString
		case c == '\\' && inString && i+1 < len(b):
			if b[i+1] != 'u' {
				i++ // \" \\ \n ...: skip the escaped character
				continue
			}
			r, ok := hex4(b, i+2)
			switch {
			case !ok:
				return "", 0 // malformed escape: the decoder reports it
			case r == 0:
				return "null characters are not allowed", i
			case r >= 0xDC00 && r <= 0xDFFF:
				return "unpaired UTF-16 surrogate escape", i
			case r >= 0xD800 && r <= 0xDBFF:
				low, ok := rune(0), i+7 < len(b) && b[i+6] == '\\' && b[i+7] == 'u'
				if ok {
					low, ok = hex4(b, i+8)
				}
				if !ok || low < 0xDC00 || low > 0xDFFF {
					return "unpaired UTF-16 surrogate escape", i
				}
				i += 6 // the low half
			}
			i += 5
		}
	}
	return "", 0
}

// hex4 reads four hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}
