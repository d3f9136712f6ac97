package llm

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"strings"
)

// maxSSELine bounds one line of an event stream: a chunk is a few hundred
// bytes, so a longer line is a broken or hostile server, not a reply.
const maxSSELine = 1 << 20

// sseReader reads the data of server-sent events as the vendors send them
// (docs/vendors.md §6): "data: {json}" lines, each event ended by a blank
// line, ": comment" lines for keep-alive, other fields (event, id, retry)
// ignored, several data lines of one event joined by "\n", and
// "data: [DONE]" at the end.
type sseReader struct {
	sc      *bufio.Scanner
	data    []string
	pending []string // events split out of one malformed multi-line event
}

func newSSEReader(r io.Reader) *sseReader {
	sc := bufio.NewScanner(r)
	// Chunks are a few hundred bytes; the buffer grows for longer lines.
	sc.Buffer(make([]byte, 0, 512), maxSSELine)
	return &sseReader{sc: sc}
}

// errSSELineTooLong reports a line over maxSSELine.
var errSSELineTooLong = errors.New("event stream line too long")

// Next returns the data of the next event with data; io.EOF at the end of
// the body. A last event without its blank line is still returned: a
// server that closes right after "data: [DONE]" has said all it meant to.
func (r *sseReader) Next() (string, error) {
	if len(r.pending) > 0 {
		d := r.pending[0]
		r.pending = r.pending[1:]
		return d, nil
	}
	for r.sc.Scan() {
		line := r.sc.Text() // without "\n" and a trailing "\r"
		if line == "" {
			if d, ok := r.dispatch(); ok {
				return d, nil
			}
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue // comment, e.g. ": keep-alive"
		}
		field, value, _ := strings.Cut(line, ":")
		if field != "data" {
			continue // event, id, retry and unknown fields carry nothing we use
		}
		r.data = append(r.data, strings.TrimPrefix(value, " "))
	}
	if err := r.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return "", errSSELineTooLong
		}
		return "", err
	}
	if d, ok := r.dispatch(); ok {
		return d, nil
	}
	return "", io.EOF
}

// dispatch ends the current event. Some servers put one JSON chunk per
// data line without blank lines between them; joined with "\n" they are
// not JSON, so such an event is split back into its lines.
func (r *sseReader) dispatch() (string, bool) {
	if len(r.data) == 0 {
		return "", false
	}
	lines := r.data
	r.data = nil
	joined := strings.Join(lines, "\n")
	if len(lines) == 1 || json.Valid([]byte(joined)) {
		return joined, true
	}
	for _, l := range lines {
		if l != doneSentinel && !json.Valid([]byte(l)) {
			return joined, true // let the chunk decoder report it
		}
	}
	r.pending = lines[1:]
	return lines[0], true
}

// doneSentinel is the data of the event that ends a stream.
const doneSentinel = "[DONE]"
