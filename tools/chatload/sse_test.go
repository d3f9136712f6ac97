package main

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestSSEReader(t *testing.T) {
	type ev struct{ name, data string }
	long := strings.Repeat("x", 10000)
	tests := []struct {
		name string
		in   string
		want []ev
		err  error // after the events
	}{
		{"paradise stream", "event: start\ndata: {\"type\":\"start\"}\n\nevent: delta\ndata: {\"text\":\"Hi\"}\n\nevent: done\ndata: {}\n\n",
			[]ev{{"start", `{"type":"start"}`}, {"delta", `{"text":"Hi"}`}, {"done", "{}"}}, io.EOF},
		{"no event field is message", "data: x\n\n", []ev{{"message", "x"}}, io.EOF},
		{"CRLF", "event: delta\r\ndata: a\r\n\r\n", []ev{{"delta", "a"}}, io.EOF},
		{"no space after colon", "event:delta\ndata:a b\n\n", []ev{{"delta", "a b"}}, io.EOF},
		{"only one space stripped", "data:  two\n\n", []ev{{"message", " two"}}, io.EOF},
		{"multi-line data", "data: a\ndata: b\n\n", []ev{{"message", "a\nb"}}, io.EOF},
		{"comments and unknown fields", ": ping\nid: 7\nretry: 10\nevent: delta\ndata: a\n\n", []ev{{"delta", "a"}}, io.EOF},
		{"event without data is dropped", "event: x\n\nevent: y\ndata: 1\n\n", []ev{{"y", "1"}}, io.EOF},
		{"extra blank lines", "\n\ndata: a\n\n\n\n", []ev{{"message", "a"}}, io.EOF},
		{"cut before blank line", "event: delta\ndata: a\n\nevent: delta\ndata: b\n", []ev{{"delta", "a"}}, io.EOF},
		{"long line", "data: " + long + "\n\n", []ev{{"message", long}}, io.EOF},
		{"empty", "", nil, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One byte at a time, so that no test depends on how reads split.
			r := newSSEReader(iotest.OneByteReader(strings.NewReader(tt.in)))
			var got []ev
			var err error
			for {
				var e event
				if e, err = r.next(); err != nil {
					break
				}
				got = append(got, ev{e.name, string(e.data)})
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("error = %v, want %v", err, tt.err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("events = %q, want %q", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("event %d = %q, want %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestSSEReaderError(t *testing.T) {
	boom := errors.New("boom")
	r := newSSEReader(io.MultiReader(strings.NewReader("data: a\n\ndata: b"), iotest.ErrReader(boom)))
	if e, err := r.next(); err != nil || string(e.data) != "a" {
		t.Fatalf("first event = %q, %v", e.data, err)
	}
	if _, err := r.next(); !errors.Is(err, boom) {
		t.Fatalf("error = %v, want boom", err)
	}
}
