package device

import (
	"errors"
	"strings"
)

// ErrBadMAC is returned for a string that is not a MAC address.
var ErrBadMAC = errors.New("Enter a valid MAC address, such as AA:BB:CC:00:00:01.")

// NormalizeMAC returns the canonical form (upper-case, colon-separated) of
// a MAC address written with ':' or '-' separators or none, in any case:
// "AA-BB-CC-00-00-01", "aabbcc000001" and "aa:bb:cc:00:00:01" all give
// "AA:BB:CC:00:00:01". Mixed separators are rejected.
func NormalizeMAC(s string) (string, error) {
	s = strings.TrimSpace(s)
	var hex string
	switch len(s) {
	case 12:
		hex = s
	case 17:
		sep := s[2]
		if sep != ':' && sep != '-' {
			return "", ErrBadMAC
		}
		var b strings.Builder
		for i := 0; i < 17; i++ {
			if i%3 == 2 {
				if s[i] != sep {
					return "", ErrBadMAC
				}
				continue
			}
			b.WriteByte(s[i])
		}
		hex = b.String()
	default:
		return "", ErrBadMAC
	}
	out := make([]byte, 0, 17)
	for i := 0; i < 12; i++ {
		c := hex[i]
		switch {
		case c >= '0' && c <= '9', c >= 'A' && c <= 'F':
		case c >= 'a' && c <= 'f':
			c -= 'a' - 'A'
		default:
			return "", ErrBadMAC
		}
		if i > 0 && i%2 == 0 {
			out = append(out, ':')
		}
		out = append(out, c)
	}
	return string(out), nil
}
