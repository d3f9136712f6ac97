package apifuzz

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
)

// The fuzzer builds JSON bodies from these values instead of encoding/json,
// which would repair exactly what the fuzzer wants to send: it turns
// invalid UTF-8 into U+FFFD and cannot write a lone surrogate escape. A
// value is nil, bool, Number, string, Raw, []any or Object.

// Number is a JSON number literal written as is, so it can exceed int64
// and float64 (99999999999999999999, 1e400).
type Number string

// Raw is JSON text written as is: lone surrogate escapes, deep nesting.
type Raw string

// Member is one member of an Object.
type Member struct {
	Key   string
	Value any
}

// Object is a JSON object whose members keep their order, so a seed always
// produces the same bytes.
type Object []Member

// Encode writes v as JSON. Strings are written byte for byte except for
// the characters JSON requires to be escaped; bytes that are not UTF-8
// stay as they are.
func Encode(v any) []byte {
	var b bytes.Buffer
	encode(&b, v)
	return b.Bytes()
}

func encode(b *bytes.Buffer, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case int:
		b.WriteString(strconv.Itoa(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		b.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
	case Number:
		b.WriteString(string(x))
	case Raw:
		b.WriteString(string(x))
	case string:
		encodeString(b, x)
	case []any:
		b.WriteByte('[')
		for i, item := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			encode(b, item)
		}
		b.WriteByte(']')
	case Object:
		b.WriteByte('{')
		for i, m := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			encodeString(b, m.Key)
			b.WriteByte(':')
			encode(b, m.Value)
		}
		b.WriteByte('}')
	case map[string]any:
		// Spec examples arrive as maps; sorted keys keep them deterministic.
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		obj := make(Object, 0, len(keys))
		for _, k := range keys {
			obj = append(obj, Member{k, x[k]})
		}
		encode(b, obj)
	default:
		panic(fmt.Sprintf("apifuzz: cannot encode %T", v))
	}
}

func encodeString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}
