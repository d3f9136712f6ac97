package hub

import (
	"testing"
	"time"
)

func TestSendQueue(t *testing.T) {
	q := newSendQueue(2)
	if ok, start := q.push([]byte("a")); !ok || !start {
		t.Fatalf("first push: ok=%t start=%t, want a new writer", ok, start)
	}
	if ok, start := q.push([]byte("b")); !ok || start {
		t.Fatalf("second push: ok=%t start=%t, want the running writer woken", ok, start)
	}
	select {
	case <-q.wake:
	default:
		t.Fatal("running writer was not woken")
	}
	if ok, _ := q.push([]byte("c")); ok {
		t.Fatal("push beyond the bound succeeded")
	}
	if got := q.take(); len(got) != 2 || string(got[0]) != "a" || string(got[1]) != "b" {
		t.Fatalf("take = %q, want [a b] in order", got)
	}
	if !q.idle() {
		t.Fatal("empty queue did not let the writer go")
	}
	if _, start := q.push([]byte("d")); !start {
		t.Fatal("push after the writer left did not start a new one")
	}
	if q.take(); q.idle() != true {
		t.Fatal("idle after take")
	}
	q.push([]byte("e"))
	if q.idle() {
		t.Fatal("idle with a frame queued")
	}
	q.shut()
	if ok, start := q.push([]byte("f")); !ok || start || len(q.take()) != 0 {
		t.Fatal("a shut queue must drop frames quietly")
	}
}

func TestBucket(t *testing.T) {
	now := time.Now()
	b := newBucket(10, 3)
	b.last = now
	for i := 0; i < 3; i++ {
		if !b.allow(now) {
			t.Fatalf("burst frame %d refused", i)
		}
	}
	if b.allow(now) {
		t.Fatal("frame over the burst allowed")
	}
	if !b.allow(now.Add(100 * time.Millisecond)) {
		t.Fatal("a token should refill after 1/rate seconds")
	}
	if b.allow(now.Add(100 * time.Millisecond)) {
		t.Fatal("only one token refilled")
	}
}
