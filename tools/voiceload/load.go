package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// turnTimeout bounds a turn's answer; past it the turn is lost.
const turnTimeout = 30 * time.Second

// result is one voice turn as its device saw it.
type result struct {
	measured bool          // voice_end was sent in the window
	latency  time.Duration // voice_end sent to the first reply audio frame
	// Its parts, as the device saw them: voice_end sent to the final stt
	// frame, that to tts_start, and that to the first audio frame.
	toSTT, toTTSStart, toAudio time.Duration
	partials                   int    // partial stt frames the device got
	audio                      int    // reply audio bytes
	lost                       string // why the turn is lost; empty when complete
}

// load runs the devices.
type load struct {
	o                      options
	wsURL                  string
	devices                []string
	sessions               []*session
	audio                  []byte
	windowStart, windowEnd time.Time

	active atomic.Int64 // turns between voice_start and their answer's end

	mu      sync.Mutex
	results []result
}

// session is a device's hub connection and the frames read from it.
type session struct {
	conn   *websocket.Conn
	events chan event
}

// connect dials every device's session and waits for its connected
// frame, so the idle baseline has the sessions open and what a turn
// costs is measured apart from what a connected device costs.
func (l *load) connect(ctx context.Context) error {
	l.sessions = make([]*session, len(l.devices))
	var wg sync.WaitGroup
	errs := make(chan error, len(l.devices))
	sem := make(chan struct{}, 16)
	for i, tok := range l.devices {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			s, err := dial(ctx, l.wsURL, tok)
			if err != nil {
				errs <- fmt.Errorf("device %d: %w", i, err)
				return
			}
			l.sessions[i] = s
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// close ends every session.
func (l *load) close() {
	for _, s := range l.sessions {
		if s != nil {
			_ = s.conn.CloseNow()
		}
	}
}

func dial(ctx context.Context, url, token string) (*session, error) {
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Token " + token}}})
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	conn.SetReadLimit(1 << 20)
	s := &session{conn: conn, events: make(chan event, 1024)}
	go func() {
		defer close(s.events)
		for {
			// The reader outlives the load's context: close ends it.
			typ, data, err := conn.Read(context.Background())
			if err != nil {
				return
			}
			ev := event{at: time.Now()}
			if typ == websocket.MessageBinary {
				ev.binary = len(data)
			} else {
				var f struct {
					Type    string          `json:"type"`
					Message json.RawMessage `json:"message"`
				}
				_ = json.Unmarshal(data, &f)
				ev.typ = f.Type
				_ = json.Unmarshal(f.Message, &ev.msg)
			}
			s.events <- ev
		}
	}()
	if ev, ok := <-s.events; !ok || ev.typ != "connected" {
		_ = conn.CloseNow()
		return nil, fmt.Errorf("no connected frame")
	}
	return s, nil
}

func (l *load) run(ctx context.Context) {
	var wg sync.WaitGroup
	// Devices start spread over one turn's length, so turns end evenly.
	spread := time.Duration(l.o.seconds*float64(time.Second)) / time.Duration(len(l.sessions))
	for i, s := range l.sessions {
		wg.Go(func() {
			if !sleep(ctx, time.Duration(i)*spread) {
				return
			}
			l.device(ctx, i, s)
		})
	}
	wg.Wait()
}

func (l *load) record(r result) {
	l.mu.Lock()
	l.results = append(l.results, r)
	l.mu.Unlock()
}

// event is a frame the device received.
type event struct {
	at     time.Time
	binary int
	typ    string
	msg    struct {
		TurnID      string `json:"turn_id"`
		RequestID   string `json:"request_id"`
		Partial     bool   `json:"partial"`
		Interrupted bool   `json:"interrupted"`
		Code        string `json:"code"`
		Detail      string `json:"detail"`
	}
}

// device runs turns back to back on one device session until the window
// ends.
func (l *load) device(ctx context.Context, i int, s *session) {
	frameBytes := int(l.o.frame.Seconds()*16000) * 2
	for n := 0; time.Now().Before(l.windowEnd) && ctx.Err() == nil; n++ {
		id := fmt.Sprintf("d%d-t%d", i, n)
		l.active.Add(1)
		r := l.turn(ctx, s.conn, s.events, id, frameBytes)
		l.active.Add(-1)
		if ctx.Err() != nil {
			return
		}
		l.record(r)
		if r.lost != "" {
			return // a lost turn ends its device: its session may be gone
		}
	}
}

func (l *load) turn(ctx context.Context, conn *websocket.Conn, events <-chan event, id string, frameBytes int) result {
	var r result
	send := func(v any) error {
		b, _ := json.Marshal(v)
		return conn.Write(ctx, websocket.MessageText, b)
	}
	if err := send(map[string]any{"type": "voice_start", "message": map[string]any{"turn_id": id, "format": "pcm", "sample_rate": 16000, "reply_format": "pcm"}}); err != nil {
		r.lost = "send voice_start: " + err.Error()
		return r
	}
	// handle takes one event of this turn; it reports whether the turn
	// is answered.
	var sent, sttAt, ttsStartAt time.Time
	var first time.Time
	var sttDone, ttsDone, chatDone bool
	handle := func(ev event) bool {
		switch {
		case ev.binary > 0:
			if first.IsZero() && !sent.IsZero() {
				first = ev.at
			}
			r.audio += ev.binary
		case ev.typ == "stt" && ev.msg.TurnID == id:
			if ev.msg.Partial {
				r.partials++
			} else {
				sttDone = true
				sttAt = ev.at
			}
		case ev.typ == "tts_start" && ev.msg.TurnID == id:
			ttsStartAt = ev.at
		case ev.typ == "tts_end" && ev.msg.TurnID == id:
			ttsDone = true
			if ev.msg.Interrupted {
				r.lost = "tts_end interrupted"
			}
		case ev.typ == "chat_done" && ev.msg.RequestID == id:
			chatDone = true
		case ev.typ == "error":
			r.lost = "error frame " + ev.msg.Code + ": " + ev.msg.Detail
		}
		return r.lost != "" || (sttDone && ttsDone && chatDone)
	}
	// The audio, at the pace of speech.
	began := time.Now()
	for k, off := 0, 0; off < len(l.audio); k, off = k+1, off+frameBytes {
		if !sleep(ctx, time.Until(began.Add(time.Duration(k)*l.o.frame))) {
			return r
		}
		if err := conn.Write(ctx, websocket.MessageBinary, l.audio[off:min(off+frameBytes, len(l.audio))]); err != nil {
			r.lost = "send audio: " + err.Error()
			return r
		}
	drain:
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					r.lost = "connection closed while speaking"
					return r
				}
				handle(ev)
			default:
				break drain
			}
		}
		if r.lost != "" {
			return r
		}
	}
	// The last frame lasts its length before the speaker is done.
	if !sleep(ctx, time.Until(began.Add(time.Duration(l.o.seconds*float64(time.Second))))) {
		return r
	}
	if err := send(map[string]any{"type": "voice_end", "message": map[string]any{"turn_id": id}}); err != nil {
		r.lost = "send voice_end: " + err.Error()
		return r
	}
	sent = time.Now()
	r.measured = !sent.Before(l.windowStart) && sent.Before(l.windowEnd)
	deadline := time.NewTimer(turnTimeout)
	defer deadline.Stop()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				r.lost = "connection closed before the answer"
				return r
			}
			if handle(ev) {
				if r.lost == "" && first.IsZero() {
					r.lost = "no reply audio"
				}
				r.latency = first.Sub(sent)
				if !sttAt.IsZero() && !ttsStartAt.IsZero() {
					r.toSTT, r.toTTSStart, r.toAudio = sttAt.Sub(sent), ttsStartAt.Sub(sttAt), first.Sub(ttsStartAt)
				}
				return r
			}
		case <-deadline.C:
			r.lost = fmt.Sprintf("no complete answer in %s (stt %t, tts_end %t, chat_done %t)", turnTimeout, sttDone, ttsDone, chatDone)
			return r
		case <-ctx.Done():
			return r
		}
	}
}

// speechPCM is seconds of a voiced 16 kHz tone (220 Hz with harmonics).
func speechPCM(seconds float64) []byte {
	n := int(16000 * seconds)
	out := make([]byte, 0, 2*n)
	for i := range n {
		t := float64(i) / 16000
		v := math.Sin(2*math.Pi*220*t) + 0.5*math.Sin(2*math.Pi*440*t) + 0.25*math.Sin(2*math.Pi*880*t)
		out = binary.LittleEndian.AppendUint16(out, uint16(int16(0.3*32767*v/1.75)))
	}
	return out
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
