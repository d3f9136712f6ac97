package volcengine_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"paradise/internal/speech"
	"paradise/internal/speech/volcengine"
	"paradise/internal/speech/volcengine/volctest"
)

// TestFrameHeaders checks the packing against the header bytes of
// vendors.md §4c and that every frame decodes back to itself.
func TestFrameHeaders(t *testing.T) {
	v := volcengine.FlagSequence
	tests := []struct {
		name   string
		frame  volcengine.Frame
		header []byte
		extra  []byte // what follows the header before the payload size
	}{
		{"full client request", volcengine.Frame{Type: volcengine.FullClientRequest, Serialization: volcengine.SerialJSON, Compression: volcengine.CompressGzip, Payload: []byte(`{"a":1}`)},
			[]byte{0x11, 0x10, 0x11, 0x00}, nil},
		{"audio", volcengine.Frame{Type: volcengine.AudioOnlyRequest, Compression: volcengine.CompressGzip, Payload: []byte{1, 2, 3, 4}},
			[]byte{0x11, 0x20, 0x01, 0x00}, nil},
		{"last audio", volcengine.Frame{Type: volcengine.AudioOnlyRequest, Flags: volcengine.FlagLast, Compression: volcengine.CompressGzip, Payload: []byte{5, 6}},
			[]byte{0x11, 0x22, 0x01, 0x00}, nil},
		{"server response", volcengine.Frame{Type: volcengine.FullServerResponse, Flags: v, Serialization: volcengine.SerialJSON, Compression: volcengine.CompressGzip, Sequence: 3, Payload: []byte(`{}`)},
			[]byte{0x11, 0x91, 0x11, 0x00}, []byte{0, 0, 0, 3}},
		{"final server response", volcengine.Frame{Type: volcengine.FullServerResponse, Flags: volcengine.FlagLastNegSeq, Serialization: volcengine.SerialJSON, Compression: volcengine.CompressGzip, Sequence: -4, Payload: []byte(`{}`)},
			[]byte{0x11, 0x93, 0x11, 0x00}, []byte{0xff, 0xff, 0xff, 0xfc}},
		{"error", volcengine.Frame{Type: volcengine.ErrorMessage, Serialization: volcengine.SerialJSON, Code: 45000001, Payload: []byte("bad")},
			[]byte{0x11, 0xf0, 0x10, 0x00}, []byte{0x02, 0xae, 0xa5, 0x41}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := volcengine.Encode(tt.frame)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b[:4], tt.header) || !bytes.Equal(b[4:4+len(tt.extra)], tt.extra) {
				t.Fatalf("header % x, want % x then % x", b[:8], tt.header, tt.extra)
			}
			size := int(b[4+len(tt.extra)])<<24 | int(b[5+len(tt.extra)])<<16 | int(b[6+len(tt.extra)])<<8 | int(b[7+len(tt.extra)])
			if size != len(b)-8-len(tt.extra) {
				t.Fatalf("payload size %d, %d bytes follow", size, len(b)-8-len(tt.extra))
			}
			got, err := volcengine.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if got.Type != tt.frame.Type || got.Flags != tt.frame.Flags || got.Sequence != tt.frame.Sequence || got.Code != tt.frame.Code || !bytes.Equal(got.Payload, tt.frame.Payload) {
				t.Fatalf("decoded %+v, want %+v", got, tt.frame)
			}
		})
	}
}

func TestDecodeMalformed(t *testing.T) {
	good, _ := volcengine.Encode(volcengine.Frame{Type: volcengine.AudioOnlyRequest, Compression: volcengine.CompressGzip, Payload: []byte{1, 2}})
	plain, _ := volcengine.Encode(volcengine.Frame{Type: volcengine.AudioOnlyRequest, Compression: volcengine.CompressGzip, Payload: []byte{1, 2}})
	plain[2] = 0x02 // an unknown compression
	tests := map[string][]byte{
		"empty":            nil,
		"short header":     {0x11, 0x20},
		"version 2":        append([]byte{0x21}, good[1:]...),
		"truncated":        good[:len(good)-1],
		"trailing":         append(append([]byte(nil), good...), 0),
		"no size":          good[:6],
		"not gzip":         append(append([]byte(nil), good[:8]...), bytes.Repeat([]byte{7}, len(good)-8)...),
		"unknown compress": plain,
	}
	for name, b := range tests {
		if _, err := volcengine.Decode(b); !errors.Is(err, volcengine.ErrFrame) {
			t.Errorf("%s: %v, want ErrFrame", name, err)
		}
	}
}

func TestStream(t *testing.T) {
	fake := volctest.New(t)
	c := volcengine.New(fake.Config(), http.DefaultClient)
	if !c.AcceptsStream(speech.PCM, 16000) || c.AcceptsStream(speech.PCM, 8000) || c.AcceptsStream(speech.MP3, 16000) {
		t.Fatal("AcceptsStream: 16 kHz PCM only")
	}
	var mu sync.Mutex
	var partials []string
	ctx := context.Background()
	st, err := c.OpenStream(ctx, speech.StreamParams{SampleRate: 16000, Language: "zh-CN", Partial: func(text string) {
		mu.Lock()
		partials = append(partials, text)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := st.Write(ctx, bytes.Repeat([]byte{1, 2}, volctest.PartialEvery/2)); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := st.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Text != fake.Transcript || tr.Duration.Milliseconds() != 1000 || tr.Provider != "volcengine" || tr.Language != "zh-CN" {
		t.Fatalf("transcript %+v", tr)
	}
	mu.Lock()
	defer mu.Unlock()
	// Four packets went out before the last: each answered with what the
	// fake heard so far, growing.
	if len(partials) != 4 || partials[0] != "明" || !strings.HasPrefix(fake.Transcript, partials[3]) || len(partials[3]) <= len(partials[0]) {
		t.Fatalf("partials %q", partials)
	}
}

func TestStreamErrors(t *testing.T) {
	fake := volctest.New(t)
	ctx := context.Background()
	chunk := bytes.Repeat([]byte{1, 2}, 1600)
	tests := []struct {
		name  string
		setup func(*volcengine.Config)
		fail  int
		audio int
		kind  speech.Kind
		code  string
	}{
		{name: "bad token", setup: func(c *volcengine.Config) { c.AccessToken = "wrong" }, kind: speech.KindAuth, code: "45000010"},
		{name: "bad resource", setup: func(c *volcengine.Config) { c.StreamResourceID = "volc.tts" }, kind: speech.KindUnavailable, code: "45000001"},
		{name: "busy", fail: 55000031, audio: 3, kind: speech.KindRateLimited, code: "55000031"},
		{name: "bad audio", fail: 45000151, audio: 3, kind: speech.KindBadAudio, code: "45000151"},
		{name: "empty", kind: speech.KindEmpty, code: "45000002"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := fake.Config()
			if tt.setup != nil {
				tt.setup(&cfg)
			}
			if tt.fail != 0 {
				fake.FailStream(tt.fail)
			}
			st, err := volcengine.New(cfg, http.DefaultClient).OpenStream(ctx, speech.StreamParams{SampleRate: 16000})
			if err == nil {
				for range tt.audio {
					if err = st.Write(ctx, chunk); err != nil {
						break
					}
				}
				if err == nil {
					_, err = st.Finish(ctx)
				}
				st.Close()
			}
			var se *speech.Error
			if !errors.As(err, &se) || se.Kind != tt.kind || se.Code != tt.code || strings.Contains(err.Error(), volctest.AccessToken) {
				t.Fatalf("err %v, want kind %d code %s", err, tt.kind, tt.code)
			}
		})
	}
}

// TestGzipPayloads: gzip payloads of every size read back with the
// standard gzip reader (the vendor's side).
func TestGzipPayloads(t *testing.T) {
	for _, n := range []int{0, 1, 65535, 65536, 200000} {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(i * 31)
		}
		b, err := volcengine.Encode(volcengine.Frame{Type: volcengine.AudioOnlyRequest, Compression: volcengine.CompressGzip, Payload: p})
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(b[8:]))
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		got, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(got, p) {
			t.Fatalf("%d bytes: read back %d bytes, %v", n, len(got), err)
		}
	}
}
