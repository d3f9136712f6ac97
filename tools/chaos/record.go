package main

import (
	"sync"
	"time"
)

// recorder collects what the clients saw during the load, stamped with the
// time since base. The accounting (account.go) runs on it after the load.
type recorder struct {
	base time.Time

	mu     sync.Mutex
	closes []closeEvent
	dials  []dialEvent
	https  []httpEvent
}

// closeEvent is a session that ended while the load ran.
type closeEvent struct {
	at     time.Duration
	code   int    // 1006 when there was no close frame
	reason string // the close frame's reason, or the read error
	role   string // "device" or "app"
	server string // name of the instance the session was on
}

// dialEvent is a failed attempt to open a session (no WebSocket: refused,
// timed out, or an HTTP answer other than 101).
type dialEvent struct {
	at     time.Duration
	reason string
}

// httpEvent is one REST exchange of the load.
type httpEvent struct {
	at    time.Duration
	op    string // "push", "presence", "login", "mac-login"
	class httpClass
	// detail is the status and a bit of the body for the answers worth
	// showing (401, 5xx), else empty.
	detail string
}

func (r *recorder) now() time.Duration { return time.Since(r.base) }

func (r *recorder) closed(e closeEvent) {
	r.mu.Lock()
	r.closes = append(r.closes, e)
	r.mu.Unlock()
}

func (r *recorder) dialFailed(reason string) {
	e := dialEvent{at: r.now(), reason: reason}
	r.mu.Lock()
	r.dials = append(r.dials, e)
	r.mu.Unlock()
}

func (r *recorder) http(e httpEvent) {
	r.mu.Lock()
	r.https = append(r.https, e)
	r.mu.Unlock()
}

// stream is the frames of one direction of one pair, by sequence number.
// The sender and the receiver write to it concurrently.
type stream struct {
	mu     sync.Mutex
	frames []frame
	dups   int // frames received more than once
}

// grow makes frames[seq] exist; s.mu is held.
func (s *stream) grow(seq int) {
	for len(s.frames) <= seq {
		s.frames = append(s.frames, frame{})
	}
}

// next is the next sequence number to send: frames are sent in order.
func (s *stream) next(at time.Duration) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	seq := len(s.frames)
	s.grow(seq)
	s.frames[seq].sent = at
	return seq
}

// failed marks seq as never sent (the write or the request failed).
func (s *stream) failed(seq int) {
	s.mu.Lock()
	s.grow(seq)
	s.frames[seq].failed = true
	s.mu.Unlock()
}

// received records that seq arrived at at.
func (s *stream) received(seq int, at time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq < 0 || seq >= len(s.frames) {
		// Never handed out by next: not one of ours.
		return
	}
	f := &s.frames[seq]
	if f.got {
		s.dups++
		return
	}
	f.got, f.recv = true, at
}

// snapshot copies the frames for the accounting.
func (s *stream) snapshot() []frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]frame, len(s.frames))
	copy(out, s.frames)
	return out
}
