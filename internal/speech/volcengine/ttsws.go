package volcengine

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/coder/websocket"

	"paradise/internal/apperr"
	"paradise/internal/speech"
)

// TTSStreamPath is the streaming TTS endpoint: the V1 request with
// operation "submit" over the binary protocol of §4c, answered with
// audio-only responses as the audio is made (docs/vendors.md §4a).
const TTSStreamPath = "/api/v1/tts/ws_binary"

// streams reports whether synthesis in format f streams: the vendor
// cannot stream WAV (its header needs the length), which V1 HTTP makes.
func streams(f speech.Format) bool { return f != speech.WAV }

// wsURL is the WebSocket URL of path on the openspeech host.
func (c *Client) wsURL(path string) string {
	u := c.cfg.BaseURL + path
	return strings.Replace(strings.Replace(u, "https://", "wss://", 1), "http://", "ws://", 1)
}

// timeout bounds one step of a vendor exchange (cfg.Timeout through the
// HTTP client), or only ctx when unset.
func (c *Client) timeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.http.Timeout > 0 {
		return context.WithTimeout(ctx, c.http.Timeout)
	}
	return context.WithCancel(ctx)
}

// synthesizeStream starts streaming synthesis and waits for the first
// audio, so that a refusal is an error the chain can fail over on; the
// rest of the audio is read from the vendor as the caller reads Body.
func (c *Client) synthesizeStream(ctx context.Context, in ttsRequest) (io.ReadCloser, error) {
	in.Request.Operation = "submit"
	body, _ := json.Marshal(in)
	dialCtx, cancel := c.timeout(ctx)
	defer cancel()
	h := http.Header{}
	h.Set("Authorization", "Bearer;"+c.cfg.AccessToken)
	conn, res, err := websocket.Dial(dialCtx, c.wsURL(TTSStreamPath), &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		if res != nil && res.StatusCode != http.StatusSwitchingProtocols {
			e := speech.HTTPError(Name, res.StatusCode)
			return nil, e
		}
		return nil, speech.TransportError(ctx, Name, err)
	}
	conn.SetReadLimit(maxPayload)
	a := &wsAudio{ctx: ctx, conn: conn, c: c}
	frame, err := Encode(Frame{Type: FullClientRequest, Serialization: SerialJSON, Compression: CompressGzip, Payload: body})
	if err == nil {
		wctx, cancel := c.timeout(ctx)
		err = conn.Write(wctx, websocket.MessageBinary, frame)
		cancel()
		if err != nil {
			err = speech.TransportError(ctx, Name, err)
		}
	}
	for err == nil && len(a.buf) == 0 && !a.done {
		err = a.next()
	}
	if err == nil && len(a.buf) == 0 {
		err = &speech.Error{Provider: Name, Kind: speech.KindUnavailable, Code: "bad_audio", Message: "tts returned no audio"}
	}
	if err != nil {
		_ = conn.CloseNow()
		return nil, err
	}
	return a, nil
}

// wsAudio is streamed synthesis being read.
type wsAudio struct {
	ctx  context.Context
	conn *websocket.Conn
	c    *Client
	buf  []byte
	done bool
	err  error
}

// next reads one frame: audio goes to buf, the last one sets done, an
// error frame is the vendor's *speech.Error.
func (a *wsAudio) next() error {
	ctx, cancel := a.c.timeout(a.ctx)
	defer cancel()
	typ, b, err := a.conn.Read(ctx)
	if err != nil {
		return speech.TransportError(a.ctx, Name, err)
	}
	if typ != websocket.MessageBinary {
		return nil
	}
	f, err := Decode(b)
	if err != nil {
		return &speech.Error{Provider: Name, Kind: speech.KindUnavailable, Code: "bad_frame", Message: err.Error()}
	}
	switch f.Type {
	case ErrorMessage:
		code := int(f.Code)
		msg := string(f.Payload)
		var e struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(f.Payload, &e) == nil && e.Message != "" {
			msg = e.Message
		}
		return &speech.Error{Provider: Name, Kind: ttsKind(code, msg), Code: strconv.Itoa(code), Message: apperr.Truncate(msg, 200)}
	case AudioOnlyResponse:
		a.buf = f.Payload
		// A negative sequence (or the last-packet flag) ends the audio.
		a.done = f.Last() || (f.hasSequence() && f.Sequence < 0)
	}
	return nil
}

// Read implements io.Reader.
func (a *wsAudio) Read(p []byte) (int, error) {
	for len(a.buf) == 0 {
		switch {
		case a.err != nil:
			return 0, a.err
		case a.done:
			return 0, io.EOF
		}
		a.err = a.next()
	}
	n := copy(p, a.buf)
	a.buf = a.buf[n:]
	return n, nil
}

// Close implements io.Closer: the vendor stops when the socket goes.
func (a *wsAudio) Close() error {
	return a.conn.Close(websocket.StatusNormalClosure, "")
}
