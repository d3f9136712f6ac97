package volcengine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"paradise/internal/apperr"
	"paradise/internal/speech"
)

// StreamPath is the bidirectional streaming ASR endpoint (big-model sauc).
const StreamPath = "/api/v3/sauc/bigmodel"

// StreamResourceID is the default X-Api-Resource-Id of streaming ASR.
const StreamResourceID = "volc.bigasr.sauc.duration"

// streamResult is a full server response's JSON (vendors.md §4c).
type streamResult struct {
	AudioInfo struct {
		Duration int64 `json:"duration"`
	} `json:"audio_info"`
	Result struct {
		Text string `json:"text"`
	} `json:"result"`
}

// streamRequest is the full client request opening a stream.
type streamRequest struct {
	User    map[string]string `json:"user"`
	Audio   streamAudio       `json:"audio"`
	Request map[string]any    `json:"request"`
}

type streamAudio struct {
	Format  string `json:"format"`
	Codec   string `json:"codec"`
	Rate    int    `json:"rate"`
	Bits    int    `json:"bits"`
	Channel int    `json:"channel"`
}

// StreamRate is the only sample rate streaming ASR takes.
const StreamRate = 16000

// AcceptsStream implements speech.StreamRecognizer: 16 kHz PCM only.
func (c *Client) AcceptsStream(f speech.Format, rate int) bool {
	return f == speech.PCM && rate == StreamRate
}

// OpenStream implements speech.StreamRecognizer: it connects to streaming
// ASR and sends the full client request. Audio written to the stream is
// sent as audio-only requests; partial results go to p.Partial as they
// arrive.
func (c *Client) OpenStream(ctx context.Context, p speech.StreamParams) (speech.AudioStream, error) {
	u := c.cfg.BaseURL + StreamPath
	u = strings.Replace(strings.Replace(u, "https://", "wss://", 1), "http://", "ws://", 1)
	h := http.Header{}
	h.Set("X-Api-App-Key", c.cfg.AppID)
	h.Set("X-Api-Access-Key", c.cfg.AccessToken)
	h.Set("X-Api-Resource-Id", c.cfg.StreamResourceID)
	h.Set("X-Api-Connect-Id", uuid())
	dialCtx, cancel := context.WithTimeout(ctx, c.http.Timeout)
	if c.http.Timeout == 0 {
		dialCtx, cancel = context.WithCancel(ctx)
	}
	defer cancel()
	conn, res, err := websocket.Dial(dialCtx, u, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		if res != nil && res.StatusCode != http.StatusSwitchingProtocols {
			e := speech.HTTPError(Name, res.StatusCode)
			if code, convErr := strconv.Atoi(res.Header.Get("X-Api-Status-Code")); convErr == nil {
				e.Code, e.Message = strconv.Itoa(code), res.Header.Get("X-Api-Message")
			}
			return nil, e
		}
		return nil, speech.TransportError(ctx, Name, err)
	}
	conn.SetReadLimit(maxPayload)
	s := &stream{conn: conn, partial: p.Partial, done: make(chan struct{}), lang: p.Language}
	req := streamRequest{User: map[string]string{"uid": "paradise"},
		Audio: streamAudio{Format: "pcm", Codec: "raw", Rate: StreamRate, Bits: 16, Channel: 1},
		Request: map[string]any{"model_name": "bigmodel", "enable_itn": true, "enable_punc": true,
			"result_type": "full", "show_utterances": false}}
	body, _ := json.Marshal(req)
	if err := s.write(ctx, Frame{Type: FullClientRequest, Flags: FlagNone, Serialization: SerialJSON, Compression: CompressGzip, Payload: body}); err != nil {
		_ = conn.CloseNow()
		return nil, err
	}
	go s.read(ctx)
	return s, nil
}

// stream is one streaming recognition.
type stream struct {
	conn    *websocket.Conn
	partial func(text string)
	lang    string

	// done closes when the reader ends; result and err are then how the
	// stream ended: the final transcript or why not.
	done   chan struct{}
	result speech.Transcript
	err    error

	// mu serializes writers and guards held, the latest audio packet:
	// it is sent when the next one comes, or with the last-packet flag
	// by Finish, so the last packet always carries audio.
	mu       sync.Mutex
	held     []byte
	finished bool
}

func (s *stream) write(ctx context.Context, f Frame) error {
	b, err := Encode(f)
	if err != nil {
		return err
	}
	if err := s.conn.Write(ctx, websocket.MessageBinary, b); err != nil {
		// The vendor may have said why before it hung up: the reader
		// drains its frames until the connection's end.
		select {
		case <-s.done:
			if s.err != nil {
				return s.err
			}
		case <-ctx.Done():
		}
		return speech.TransportError(ctx, Name, err)
	}
	return nil
}

// Write implements speech.AudioStream.
func (s *stream) Write(ctx context.Context, pcm []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished {
		return errors.New("volcengine: write after finish")
	}
	prev := s.held
	s.held = append([]byte(nil), pcm...)
	if len(prev) == 0 {
		return nil
	}
	return s.write(ctx, Frame{Type: AudioOnlyRequest, Flags: FlagNone, Serialization: SerialRaw, Compression: CompressGzip, Payload: prev})
}

// Finish implements speech.AudioStream: the last packet, then the final
// result.
func (s *stream) Finish(ctx context.Context) (speech.Transcript, error) {
	s.mu.Lock()
	if s.finished {
		s.mu.Unlock()
		return speech.Transcript{}, errors.New("volcengine: finished twice")
	}
	s.finished = true
	err := s.write(ctx, Frame{Type: AudioOnlyRequest, Flags: FlagLast, Serialization: SerialRaw, Compression: CompressGzip, Payload: s.held})
	s.held = nil
	s.mu.Unlock()
	if err != nil {
		return speech.Transcript{}, err
	}
	defer s.Close()
	select {
	case <-s.done:
		return s.result, s.err
	case <-ctx.Done():
		return speech.Transcript{}, speech.TransportError(ctx, Name, ctx.Err())
	}
}

// Close implements speech.AudioStream.
func (s *stream) Close() error {
	_ = s.conn.CloseNow()
	return nil
}

// read hands partial results to the callback and the final one (or the
// error that ended the stream) to Finish.
func (s *stream) read(ctx context.Context) {
	end := func(t speech.Transcript, err error) {
		s.result, s.err = t, err
		close(s.done)
	}
	for {
		typ, b, err := s.conn.Read(ctx)
		if err != nil {
			end(speech.Transcript{}, speech.TransportError(ctx, Name, fmt.Errorf("stream ended before its result: %w", err)))
			return
		}
		if typ != websocket.MessageBinary {
			continue
		}
		f, err := Decode(b)
		if err != nil {
			end(speech.Transcript{}, &speech.Error{Provider: Name, Kind: speech.KindUnavailable, Code: "bad_frame", Message: err.Error()})
			return
		}
		switch f.Type {
		case ErrorMessage:
			code := int(f.Code)
			end(speech.Transcript{}, &speech.Error{Provider: Name, Kind: asrKind(code), Code: strconv.Itoa(code), Message: apperr.Truncate(string(f.Payload), 200)})
			return
		case FullServerResponse:
			var r streamResult
			if err := json.Unmarshal(f.Payload, &r); err != nil {
				end(speech.Transcript{}, &speech.Error{Provider: Name, Kind: speech.KindUnavailable, Code: "bad_response", Message: "unreadable result"})
				return
			}
			text := strings.TrimSpace(r.Result.Text)
			if !f.Last() {
				if text != "" && s.partial != nil {
					s.partial(text)
				}
				continue
			}
			if text == "" {
				end(speech.Transcript{}, &speech.Error{Provider: Name, Kind: speech.KindEmpty, Code: "empty_result", Message: "nothing recognized"})
				return
			}
			end(speech.Transcript{Text: text, Language: s.lang, Duration: time.Duration(r.AudioInfo.Duration) * time.Millisecond, Provider: Name}, nil)
			return
		}
	}
}
