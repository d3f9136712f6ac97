package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"paradise/tools/internal/loadenv"
)

// outcome is how a stream ended.
type outcome int

const (
	outcomeOK        outcome = iota // done event, the full reply, finish reason "stop"
	outcomeStatus                   // no event stream: a non-200 answer
	outcomeTransport                // the request or the stream failed on the client's side
	outcomeError                    // an error event
	outcomeNoDone                   // the stream ended without done
	outcomeText                     // done, but the reply's text or counts were wrong
	numOutcomes
)

var outcomeNames = [numOutcomes]string{"ok", "non-200", "transport", "error event", "no done", "wrong reply"}

// result is what is kept of one stream once it ended.
type result struct {
	sent, firstDelta, end       int64 // client clock (ns)
	upstreamRecv, upstreamFirst int64 // fake clock, the same clock
	upstreamCount               int32
	measured                    bool
	outcome                     outcome
	detail                      string
}

// load runs the streams.
type load struct {
	o       options
	baseURL string
	tokens  []string // the users' session tokens
	want    string   // the full reply
	reg     *registry
	client  *http.Client

	seq      atomic.Int64
	inflight atomic.Int64 // streams sent and not yet ended

	windowStart, windowEnd int64 // clock() bounds of the measured window

	mu      sync.Mutex
	results []result
}

// run starts o.streams workers, staggered over one reply's length so that
// their streams do not all start together, and has each send a streamed
// chat, read it to the end, and send the next until the window ends. It
// returns when every stream ended.
func (l *load) run(ctx context.Context, start int64) {
	ramp := int64(l.o.tokens) * int64(l.o.tokenDelay)
	var wg sync.WaitGroup
	for w := range l.o.streams {
		wg.Go(func() {
			at := start + ramp*int64(w)/int64(l.o.streams)
			if !loadenv.Sleep(ctx, time.Duration(at-clock())) {
				return
			}
			l.worker(ctx, w)
		})
	}
	wg.Wait()
}

func (l *load) worker(ctx context.Context, w int) {
	token := l.tokens[w%len(l.tokens)]
	conversation := 0 // the worker's conversation, once its first chat created it
	var mine []result
	defer func() {
		l.mu.Lock()
		l.results = append(l.results, mine...)
		l.mu.Unlock()
	}()
	for ctx.Err() == nil && clock() < l.windowEnd {
		rec := &streamRec{seq: l.seq.Add(1), worker: w}
		l.reg.add(rec)
		l.inflight.Add(1)
		l.chat(ctx, token, conversation, rec)
		l.inflight.Add(-1)
		l.reg.remove(rec.seq)
		r := result{sent: rec.sent, firstDelta: rec.firstDelta, end: rec.end,
			upstreamRecv: rec.upstreamRecv.Load(), upstreamFirst: rec.upstreamFirst.Load(),
			upstreamCount: rec.upstreamCount.Load(), measured: rec.sent >= l.windowStart && rec.sent < l.windowEnd,
			outcome: rec.outcome, detail: rec.detail}
		mine = append(mine, r)
		if rec.conversation != 0 {
			conversation = rec.conversation
		}
		if rec.outcome != outcomeOK {
			// Do not spin on a failing server.
			loadenv.Sleep(ctx, 100*time.Millisecond)
		}
	}
}

// Event data, as far as the tool reads them (openapi.yaml's
// ChatStream* schemas).
type (
	startData struct {
		ConversationID int `json:"conversation_id"`
	}
	deltaData struct {
		Text string `json:"text"`
	}
	doneData struct {
		ConversationID int    `json:"conversation_id"`
		FinishReason   string `json:"finish_reason"`
		Truncated      bool   `json:"truncated"`
		Usage          struct {
			CompletionTokens int `json:"completion_tokens"`
		} `json:"usage"`
	}
)

// chat sends one streamed chat and reads it to its end, filling rec.
func (l *load) chat(ctx context.Context, token string, conversation int, rec *streamRec) {
	fail := func(o outcome, format string, args ...any) {
		rec.end, rec.outcome, rec.detail = clock(), o, fmt.Sprintf(format, args...)
	}
	body := map[string]any{"message": chatMessage(rec.seq), "stream": true}
	if conversation != 0 {
		body["conversation_id"] = conversation
	}
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.baseURL+"/api/ai/chat/", bytes.NewReader(b))
	if err != nil {
		fail(outcomeTransport, "%v", err)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Token "+token)
	rec.sent = clock()
	res, err := l.client.Do(req)
	if err != nil {
		fail(outcomeTransport, "%v", err)
		return
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		raw, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		fail(outcomeStatus, "status %d: %s", res.StatusCode, bytes.TrimSpace(raw))
		return
	}
	sse := newSSEReader(res.Body)
	var text strings.Builder
	text.Grow(len(l.want))
	for {
		ev, err := sse.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				fail(outcomeNoDone, "stream ended after %d deltas without done", rec.deltas)
			} else {
				fail(outcomeTransport, "after %d deltas: %v", rec.deltas, err)
			}
			return
		}
		switch ev.name {
		case "delta":
			if rec.deltas == 0 {
				rec.firstDelta = clock()
			}
			rec.deltas++
			var d deltaData
			if err := json.Unmarshal(ev.data, &d); err != nil {
				fail(outcomeText, "delta: %v", err)
				return
			}
			text.WriteString(d.Text)
		case "start":
			var s startData
			if err := json.Unmarshal(ev.data, &s); err == nil {
				rec.conversation = s.ConversationID
			}
		case "done":
			rec.end = clock()
			var d doneData
			if err := json.Unmarshal(ev.data, &d); err != nil {
				fail(outcomeText, "done: %v", err)
				return
			}
			rec.gotTokens, rec.finish = d.Usage.CompletionTokens, d.FinishReason
			switch {
			case text.String() != l.want:
				fail(outcomeText, "reply of %d bytes in %d deltas, want %d bytes", text.Len(), rec.deltas, len(l.want))
			case d.FinishReason != "stop" || d.Truncated:
				fail(outcomeText, "finish reason %q, truncated %v", d.FinishReason, d.Truncated)
			case d.Usage.CompletionTokens != l.o.tokens:
				fail(outcomeText, "completion_tokens %d, want %d", d.Usage.CompletionTokens, l.o.tokens)
			default:
				rec.outcome = outcomeOK
			}
			// Read to the end so the connection is reused.
			_, _ = io.Copy(io.Discard, res.Body)
			return
		case "error":
			fail(outcomeError, "error event after %d deltas: %s", rec.deltas, ev.data)
			return
		}
	}
}
