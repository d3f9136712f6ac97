package main

import (
	"bufio"
	"bytes"
	"io"
)

// event is one Server-Sent Event: its type ("message" when the stream
// names none) and its data (data lines joined by "\n").
type event struct {
	name string
	data []byte
}

// sseReader reads Server-Sent Events as the HTML standard's parser does,
// as far as Paradise's streams need: "event" and "data" fields, comments
// (lines starting with ':'), one optional space after the colon, LF or
// CRLF line ends, a blank line dispatching the event. Events with no data
// line are not dispatched; "id" and "retry" are ignored.
type sseReader struct {
	r     *bufio.Reader
	name  []byte
	data  []byte
	saw   bool // a data line was read since the last dispatch
	event event
}

func newSSEReader(r io.Reader) *sseReader {
	return &sseReader{r: bufio.NewReaderSize(r, 4096)}
}

// next returns the next event. Its data is valid until the following
// call. At the end of the stream it returns io.EOF (an event cut off
// before its blank line is dropped, as the standard says) or the read
// error.
func (s *sseReader) next() (event, error) {
	for {
		line, err := s.r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A line longer than the buffer: gather it whole.
			long := append([]byte(nil), line...)
			for err == bufio.ErrBufferFull {
				line, err = s.r.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if err != nil {
			if err == io.EOF {
				return event{}, io.EOF
			}
			return event{}, err
		}
		line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		if len(line) == 0 {
			if !s.saw {
				s.name = s.name[:0]
				continue
			}
			name := "message"
			if len(s.name) > 0 {
				name = string(s.name)
			}
			s.event = event{name: name, data: append(s.event.data[:0], s.data...)}
			s.name, s.data, s.saw = s.name[:0], s.data[:0], false
			return s.event, nil
		}
		if line[0] == ':' {
			continue
		}
		field, value, found := bytes.Cut(line, []byte(":"))
		if found {
			value = bytes.TrimPrefix(value, []byte(" "))
		}
		switch string(field) {
		case "event":
			s.name = append(s.name[:0], value...)
		case "data":
			if s.saw {
				s.data = append(s.data, '\n')
			}
			s.data = append(s.data, value...)
			s.saw = true
		}
	}
}
