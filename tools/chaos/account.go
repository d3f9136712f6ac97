package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"paradise/tools/internal/loadenv"
)

// This file is the pure part of the tool: how frames, closes and HTTP
// answers are counted against the faults. Times are offsets from the start
// of the load (see recorder.base).

// frame is one sequence number of a stream (a device's chat frames to its
// app, the app's to its device, or the REST pushes to a device).
type frame struct {
	sent   time.Duration // when the sender tried to send it
	recv   time.Duration // when the receiver first got it (valid if got)
	failed bool          // the sender's write (or the push request) failed: never sent
	got    bool
}

// window is the part of the run one phase is accountable for: frames sent
// in [start, end) count for it. back is when the dependency came back (the
// proxy was enabled again, the restarted instance was ready); for the
// baseline it is start.
type window struct {
	start, back, end time.Duration
}

// streamStats is what happened to one stream's frames in one window.
type streamStats struct {
	sent int // frames sent (write without error) in the window
	// lostDuring are the lost frames sent before relaying resumed (the
	// fault's own damage); lostAfter those sent after it resumed, which
	// should never happen.
	lostDuring, lostAfter int
	// resumed says whether a frame sent at or after back arrived;
	// recovery is how long after back the first such frame arrived.
	resumed  bool
	recovery time.Duration
}

// accountStream counts the frames of one stream (indexed by sequence
// number, so in the order they were sent) sent in w. Relaying resumes with
// the first frame sent at or after w.back that arrived; lost frames sent
// before it are lost during the fault, later ones after recovery.
func accountStream(frames []frame, w window) streamStats {
	var st streamStats
	var resumeAt time.Duration
	for _, f := range frames {
		if f.failed && !f.got || f.sent < w.start || f.sent >= w.end {
			continue
		}
		st.sent++
		if f.got && f.sent >= w.back && !st.resumed {
			st.resumed = true
			resumeAt = f.sent
			st.recovery = f.recv - w.back
		}
	}
	for _, f := range frames {
		if f.got || f.failed || f.sent < w.start || f.sent >= w.end {
			continue
		}
		if st.resumed && f.sent >= resumeAt {
			st.lostAfter++
		} else {
			st.lostDuring++
		}
	}
	return st
}

// relayStats adds up the streams of a phase: the two directions of every
// pair.
type relayStats struct {
	sent, lostDuring, lostAfter int
	// recoveries has one entry per pair whose both directions resumed:
	// the later of the two; notResumed counts the other pairs.
	recoveries []time.Duration
	notResumed int
}

// addPair adds one pair's two directions.
func (r *relayStats) addPair(a, b streamStats) {
	for _, s := range []streamStats{a, b} {
		r.sent += s.sent
		r.lostDuring += s.lostDuring
		r.lostAfter += s.lostAfter
	}
	if a.resumed && b.resumed {
		r.recoveries = append(r.recoveries, max(a.recovery, b.recovery))
	} else {
		r.notResumed++
	}
}

// recoveryMax and recoveryP50 summarise the pairs' recovery times (0 when
// no pair resumed).
func (r *relayStats) recoveryMax() time.Duration { return quantile(r.recoveries, 1) }
func (r *relayStats) recoveryP50() time.Duration { return quantile(r.recoveries, 0.5) }

// quantile is the nearest-rank q-quantile of ds (0 when empty).
func quantile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return loadenv.Percentile(s, q)
}

// phaseIndex returns the index of the phase that time t belongs to: the
// last phase whose start is at or before t (phase 0, the baseline, starts
// at 0 and takes anything earlier).
func phaseIndex(starts []time.Duration, t time.Duration) int {
	i := 0
	for k, s := range starts {
		if s <= t {
			i = k
		}
	}
	return i
}

// Close codes. 1006 is never sent on the wire: it is what a client reports
// when the connection ended without a close frame.
const (
	codeGoingAway     = 1001
	codeAbnormal      = 1006
	codeInternalError = 1011
	codeTryAgainLater = 1013
	codeInvalidToken  = 4001
	codeReplaced      = 4002
	codeRebound       = 4003
	codeTokenRevoked  = 4004
)

// closeWrong reports whether a close code is wrong for a session ending in
// a fault: going away (1001), try again later (1013) and replaced (4002,
// a reconnect replacing the old session) are right anywhere; abnormal
// (1006) is right only for a session on the instance that was killed.
// Everything else is wrong, in particular 4001/4003/4004 (they make a
// client log in again although its token is valid) and 1011.
func closeWrong(code int, onKilledInstance bool) bool {
	switch code {
	case codeGoingAway, codeTryAgainLater, codeReplaced:
		return false
	case codeAbnormal:
		return !onKilledInstance
	}
	return true
}

// needsLogin reports whether a client must log in again before it
// reconnects after a close with code, as the contract tells it.
func needsLogin(code int) bool {
	return code == codeInvalidToken || code == codeRebound || code == codeTokenRevoked
}

// closeCounts counts close codes and how many of them were wrong.
type closeCounts struct {
	byCode map[int]int
	wrong  int
}

func (c *closeCounts) add(code int, wrong bool) {
	if c.byCode == nil {
		c.byCode = map[int]int{}
	}
	c.byCode[code]++
	if wrong {
		c.wrong++
	}
}

// String lists the codes in order with their counts: "1006×50, 1013×4",
// or "none".
func (c closeCounts) String() string {
	if len(c.byCode) == 0 {
		return "none"
	}
	codes := make([]int, 0, len(c.byCode))
	for code := range c.byCode {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	parts := make([]string, len(codes))
	for i, code := range codes {
		parts[i] = fmt.Sprintf("%d×%d", code, c.byCode[code])
	}
	return strings.Join(parts, ", ")
}

// httpClass is what an HTTP exchange came to.
type httpClass int

const (
	httpOK           httpClass = iota // 2xx
	httpUnauthorized                  // 401
	httpOther4xx
	http503Envelope // 503 with the JSON envelope
	httpOther5xx    // any other 5xx, or a 503 without the envelope
	httpTransport   // no answer: refused, reset, timeout
	httpOther       // 1xx, 3xx
	numHTTPClasses
)

// classifyHTTP classifies an answer by status and body; err is the
// transport error, if there was no answer.
func classifyHTTP(status int, body []byte, err error) httpClass {
	switch {
	case err != nil:
		return httpTransport
	case status >= 200 && status < 300:
		return httpOK
	case status == 401:
		return httpUnauthorized
	case status >= 400 && status < 500:
		return httpOther4xx
	case status == 503 && isEnvelope(body, 503):
		return http503Envelope
	case status >= 500:
		return httpOther5xx
	}
	return httpOther
}

// isEnvelope reports whether body is the service's error envelope:
// {"success": false, "code": <status or a business code>, "message": "...", "data": ...}.
// A business code (e.g. 5031) starts with the status' digits.
func isEnvelope(body []byte, status int) bool {
	var env struct {
		Success *bool           `json:"success"`
		Code    *int            `json:"code"`
		Message *string         `json:"message"`
		Data    json.RawMessage `json:"data"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&env); err != nil || env.Success == nil || env.Code == nil || env.Message == nil {
		return false
	}
	if *env.Success {
		return false
	}
	code := fmt.Sprint(*env.Code)
	return strings.HasPrefix(code, fmt.Sprint(status))
}

// httpCounts counts HTTP exchanges by class.
type httpCounts [numHTTPClasses]int

func (h httpCounts) total() int {
	n := 0
	for _, v := range h {
		n += v
	}
	return n
}

func (h httpCounts) fiveXX() int { return h[http503Envelope] + h[httpOther5xx] }
