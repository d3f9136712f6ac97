package llm

import (
	"encoding/json"
	"fmt"

	"github.com/go-faster/jx"
)

// decodeChunk decodes one streamed chunk into c, the way encoding/json
// would for wireChunk (null leaves a field empty, unknown keys are
// skipped), without its reflection: a reply arrives as one chunk per
// token, and decoding them was an eighth of the server's CPU time under
// the bench-chat load.
func decodeChunk(data []byte, c *wireChunk) error {
	d := jx.DecodeBytes(data)
	if d.Next() == jx.Null {
		return d.Null() // "null" is an empty chunk to encoding/json too
	}
	if err := d.ObjBytes(func(d *jx.Decoder, key []byte) error {
		switch string(key) {
		case "model":
			return decodeStr(d, &c.Model)
		case "message":
			return decodeStr(d, &c.Message)
		case "choices":
			if d.Next() == jx.Null {
				c.Choices = nil
				return d.Null()
			}
			c.Choices = make([]wireChoice, 0, 1)
			return d.Arr(func(d *jx.Decoder) error {
				var ch wireChoice
				if err := decodeChoice(d, &ch); err != nil {
					return err
				}
				c.Choices = append(c.Choices, ch)
				return nil
			})
		case "usage":
			if d.Next() == jx.Null {
				c.Usage = nil
				return d.Null()
			}
			c.Usage = &wireUsage{}
			return d.ObjBytes(func(d *jx.Decoder, key []byte) error {
				switch string(key) {
				case "prompt_tokens":
					return decodeInt(d, &c.Usage.PromptTokens)
				case "completion_tokens":
					return decodeInt(d, &c.Usage.CompletionTokens)
				case "total_tokens":
					return decodeInt(d, &c.Usage.TotalTokens)
				}
				return d.Skip()
			})
		case "error":
			return decodeRaw(d, &c.Error)
		case "code":
			return decodeRaw(d, &c.Code)
		}
		return d.Skip()
	}); err != nil {
		return err
	}
	if d.Next() != jx.Invalid {
		return fmt.Errorf("data after the chunk")
	}
	return nil
}

func decodeChoice(d *jx.Decoder, ch *wireChoice) error {
	if d.Next() == jx.Null {
		return d.Null()
	}
	return d.ObjBytes(func(d *jx.Decoder, key []byte) error {
		switch string(key) {
		case "index":
			return decodeInt(d, &ch.Index)
		case "delta":
			return decodeText(d, &ch.Delta)
		case "message":
			return decodeText(d, &ch.Message)
		case "finish_reason":
			if d.Next() == jx.Null {
				ch.FinishReason = nil
				return d.Null()
			}
			s, err := d.Str()
			if err != nil {
				return err
			}
			ch.FinishReason = &s
			return nil
		}
		return d.Skip()
	})
}

func decodeText(d *jx.Decoder, t **wireText) error {
	if d.Next() == jx.Null {
		*t = nil
		return d.Null()
	}
	if *t == nil {
		*t = &wireText{}
	}
	return d.ObjBytes(func(d *jx.Decoder, key []byte) error {
		switch string(key) {
		case "content":
			return decodeStr(d, &(*t).Content)
		case "reasoning_content":
			return decodeStr(d, &(*t).ReasoningContent)
		}
		return d.Skip()
	})
}

// decodeStr reads a string; null leaves s as it was.
func decodeStr(d *jx.Decoder, s *string) error { return decodeOrNull(d, s, d.Str) }

// decodeInt reads an integer; null leaves n as it was.
func decodeInt(d *jx.Decoder, n *int) error { return decodeOrNull(d, n, d.Int) }

func decodeOrNull[T any](d *jx.Decoder, p *T, read func() (T, error)) error {
	if d.Next() == jx.Null {
		return d.Null()
	}
	v, err := read()
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// decodeRaw keeps a value's JSON text (copied: the decoder's buffer is
// the caller's); null is kept as "null", as encoding/json keeps it.
func decodeRaw(d *jx.Decoder, r *json.RawMessage) error {
	v, err := d.Raw()
	if err != nil {
		return err
	}
	*r = append((*r)[:0], v...)
	return nil
}
