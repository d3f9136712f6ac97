package main

import (
	"errors"
	"testing"
	"time"
)

const ms = time.Millisecond

// sent is a frame sent at s that never arrived; got one that arrived at r.
func sent(s time.Duration) frame         { return frame{sent: s} }
func got(s, r time.Duration) frame       { return frame{sent: s, recv: r, got: true} }
func failedAt(s time.Duration) frame     { return frame{sent: s, failed: true} }
func gotFailed(s, r time.Duration) frame { return frame{sent: s, recv: r, got: true, failed: true} }

func TestAccountStream(t *testing.T) {
	fault := window{start: 1000 * ms, back: 2000 * ms, end: 5000 * ms}
	tests := []struct {
		name   string
		frames []frame
		w      window
		want   streamStats
	}{
		{
			name: "nothing sent",
			w:    fault,
			want: streamStats{},
		},
		{
			name:   "no loss: resumes with the first frame sent after back",
			frames: []frame{got(1100*ms, 1101*ms), got(1900*ms, 1901*ms), got(2100*ms, 2105*ms), got(2300*ms, 2301*ms)},
			w:      fault,
			want:   streamStats{sent: 4, resumed: true, recovery: 105 * ms},
		},
		{
			name: "frames lost in the fault, then relaying resumes",
			frames: []frame{
				got(1100*ms, 1101*ms), sent(1200 * ms), sent(1900 * ms), // during the fault
				sent(2100 * ms), got(2600*ms, 2602*ms), // back at 2000: the first frame after it is lost, the next gets through
				got(2800*ms, 2801*ms),
			},
			w:    fault,
			want: streamStats{sent: 6, lostDuring: 3, resumed: true, recovery: 602 * ms},
		},
		{
			name: "a loss after relaying resumed counts as after",
			frames: []frame{
				sent(1500 * ms), got(2100*ms, 2150*ms), sent(2200 * ms), got(2300*ms, 2301*ms), sent(4000 * ms),
			},
			w:    fault,
			want: streamStats{sent: 5, lostDuring: 1, lostAfter: 2, resumed: true, recovery: 150 * ms},
		},
		{
			name:   "never resumed: every loss is during",
			frames: []frame{got(1100*ms, 1101*ms), sent(1500 * ms), sent(2500 * ms), sent(4500 * ms)},
			w:      fault,
			want:   streamStats{sent: 4, lostDuring: 3},
		},
		{
			name:   "frames outside the window are not counted",
			frames: []frame{sent(500 * ms), got(999*ms, 1000*ms), got(2000*ms, 2010*ms), sent(5000 * ms), sent(6000 * ms)},
			w:      fault,
			want:   streamStats{sent: 1, resumed: true, recovery: 10 * ms},
		},
		{
			name:   "failed writes were never sent; a frame that failed but arrived counts",
			frames: []frame{failedAt(1500 * ms), failedAt(1600 * ms), gotFailed(2100*ms, 2200*ms), sent(2300 * ms)},
			w:      fault,
			want:   streamStats{sent: 2, lostAfter: 1, resumed: true, recovery: 200 * ms},
		},
		{
			name:   "baseline: back is the start",
			frames: []frame{got(10*ms, 11*ms), sent(20 * ms), got(30*ms, 31*ms)},
			w:      window{start: 0, back: 0, end: 1000 * ms},
			want:   streamStats{sent: 3, lostAfter: 1, resumed: true, recovery: 11 * ms},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := accountStream(tt.frames, tt.w)
			if got != tt.want {
				t.Errorf("accountStream = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestRelayStats(t *testing.T) {
	var r relayStats
	r.addPair(streamStats{sent: 10, lostDuring: 2, resumed: true, recovery: 300 * ms}, streamStats{sent: 10, resumed: true, recovery: 900 * ms})
	r.addPair(streamStats{sent: 10, lostAfter: 1, resumed: true, recovery: 100 * ms}, streamStats{sent: 10, resumed: true, recovery: 50 * ms})
	r.addPair(streamStats{sent: 10, resumed: true, recovery: 2500 * ms}, streamStats{sent: 10, resumed: true, recovery: 10 * ms})
	r.addPair(streamStats{sent: 5, lostDuring: 5, resumed: false}, streamStats{sent: 10, resumed: true, recovery: 10 * ms})
	if r.sent != 75 || r.lostDuring != 7 || r.lostAfter != 1 || r.notResumed != 1 {
		t.Errorf("totals = %+v", r)
	}
	if got := r.recoveryMax(); got != 2500*ms {
		t.Errorf("max = %s, want 2.5s", got)
	}
	if got := r.recoveryP50(); got != 900*ms {
		t.Errorf("p50 = %s, want 900ms (pairs 100ms, 900ms, 2.5s)", got)
	}
	var empty relayStats
	if empty.recoveryMax() != 0 || empty.recoveryP50() != 0 {
		t.Error("empty stats should report 0")
	}
}

func TestPhaseIndex(t *testing.T) {
	starts := []time.Duration{0, 10 * time.Second, 50 * time.Second}
	tests := []struct {
		t    time.Duration
		want int
	}{
		{-time.Second, 0}, {0, 0}, {9999 * ms, 0}, {10 * time.Second, 1}, {49 * time.Second, 1}, {50 * time.Second, 2}, {time.Hour, 2},
	}
	for _, tt := range tests {
		if got := phaseIndex(starts, tt.t); got != tt.want {
			t.Errorf("phaseIndex(%s) = %d, want %d", tt.t, got, tt.want)
		}
	}
}

func TestCloseWrong(t *testing.T) {
	tests := []struct {
		code     int
		onKilled bool
		want     bool
	}{
		{codeGoingAway, false, false},
		{codeTryAgainLater, false, false},
		{codeReplaced, false, false},
		{codeAbnormal, true, false},
		{codeAbnormal, false, true}, // no close frame from an instance that was not killed
		{codeInternalError, false, true},
		{codeInternalError, true, true},
		{codeInvalidToken, false, true},
		{codeRebound, true, true},
		{codeTokenRevoked, false, true},
		{1000, false, true},
		{1008, false, true},
	}
	for _, tt := range tests {
		if got := closeWrong(tt.code, tt.onKilled); got != tt.want {
			t.Errorf("closeWrong(%d, killed=%v) = %v, want %v", tt.code, tt.onKilled, got, tt.want)
		}
	}
}

func TestNeedsLogin(t *testing.T) {
	for code, want := range map[int]bool{4001: true, 4003: true, 4004: true, 4002: false, 1013: false, 1001: false, 1006: false, 1011: false} {
		if got := needsLogin(code); got != want {
			t.Errorf("needsLogin(%d) = %v, want %v", code, got, want)
		}
	}
}

func TestCloseCounts(t *testing.T) {
	var c closeCounts
	if c.String() != "none" {
		t.Errorf("empty = %q", c.String())
	}
	c.add(1013, false)
	c.add(1006, false)
	c.add(1013, false)
	c.add(4001, true)
	if got, want := c.String(), "1006×1, 1013×2, 4001×1"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	if c.wrong != 1 {
		t.Errorf("wrong = %d, want 1", c.wrong)
	}
}

func TestClassifyHTTP(t *testing.T) {
	envelope503 := []byte(`{"success":false,"code":503,"message":"Service unavailable.","data":null}`)
	tests := []struct {
		name   string
		status int
		body   string
		err    error
		want   httpClass
	}{
		{"ok", 200, `{"success":true,"code":200,"message":"OK","data":{}}`, nil, httpOK},
		{"created", 201, ``, nil, httpOK},
		{"unauthorized", 401, `{"success":false,"code":401,"message":"Invalid token.","data":null}`, nil, httpUnauthorized},
		{"not found", 404, `{}`, nil, httpOther4xx},
		{"503 envelope", 503, string(envelope503), nil, http503Envelope},
		{"503 business code", 503, `{"success":false,"code":5031,"message":"Busy.","data":null}`, nil, http503Envelope},
		{"503 plain text", 503, `Service Unavailable`, nil, httpOther5xx},
		{"503 success true", 503, `{"success":true,"code":503,"message":"?","data":null}`, nil, httpOther5xx},
		{"503 envelope of another code", 503, `{"success":false,"code":500,"message":"x","data":null}`, nil, httpOther5xx},
		{"500 envelope", 500, `{"success":false,"code":500,"message":"Internal error.","data":null}`, nil, httpOther5xx},
		{"502", 502, ``, nil, httpOther5xx},
		{"transport", 0, ``, errors.New("connection refused"), httpTransport},
		{"redirect", 301, ``, nil, httpOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classifyHTTP(tt.status, []byte(tt.body), tt.err); got != tt.want {
				t.Errorf("classifyHTTP(%d, %q) = %d, want %d", tt.status, tt.body, got, tt.want)
			}
		})
	}
	var h httpCounts
	h[httpOK], h[http503Envelope], h[httpOther5xx] = 5, 2, 1
	if h.total() != 8 || h.fiveXX() != 3 {
		t.Errorf("counts: total %d, 5xx %d", h.total(), h.fiveXX())
	}
}

func TestStream(t *testing.T) {
	var s stream
	a := s.next(10 * ms)
	b := s.next(20 * ms)
	s.failed(b)
	s.received(a, 15*ms)
	s.received(a, 16*ms) // duplicate
	s.received(7, 30*ms) // never handed out
	s.received(-1, 30*ms)
	fs := s.snapshot()
	if len(fs) != 2 || fs[0] != got(10*ms, 15*ms) || fs[1] != failedAt(20*ms) || s.dups != 1 {
		t.Errorf("frames %+v, dups %d", fs, s.dups)
	}
}

func TestSeqOfAndParseFrame(t *testing.T) {
	typ, id := parseFrame([]byte(`{"type":"chat","message":{"text":"chaos 42"},"from":{"role":"device"}}`))
	if seq, ok := seqOf(id, "chaos "); typ != "chat" || !ok || seq != 42 {
		t.Errorf("chat: %q %q -> %d %v", typ, id, seq, ok)
	}
	typ, id = parseFrame([]byte(`{"type":"command","message":{"command_id":"push-7","name":"chaos"}}`))
	if seq, ok := seqOf(id, "push-"); typ != "command" || !ok || seq != 7 {
		t.Errorf("command: %q %q -> %d %v", typ, id, seq, ok)
	}
	for _, s := range []string{"chaos ", "chaos -1", "chaos x", "hello 3", ""} {
		if _, ok := seqOf(s, "chaos "); ok {
			t.Errorf("seqOf(%q) accepted", s)
		}
	}
	if typ, _ := parseFrame([]byte(`not json`)); typ != "" {
		t.Errorf("not json: type %q", typ)
	}
}

func TestBackoff(t *testing.T) {
	for n, want := range map[int]time.Duration{1: 100 * ms, 2: 200 * ms, 3: 400 * ms, 4: 800 * ms, 5: time.Second, 20: time.Second} {
		for range 20 {
			got := backoff(n, 100*ms, time.Second)
			if got < want/2 || got >= want {
				t.Fatalf("backoff(%d) = %s, want in [%s, %s)", n, got, want/2, want)
			}
		}
	}
}
