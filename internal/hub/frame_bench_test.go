package hub_test

import (
	"sync"
	"testing"

	"paradise/gen/ws"
)

// BenchmarkRelayFrame measures what the hub does with every relayed
// frame before it is queued: parse and validate it, stamp its from and
// encode it again. "fresh" parses into a new frame that escapes to the
// heap, as the hub did; "pooled" parses into a reused one, as it does
// now (handleFrame's framePool).
//
//	go test ./internal/hub -run '^$' -bench RelayFrame -benchmem
func BenchmarkRelayFrame(b *testing.B) {
	data := []byte(`{"type":"chat","message":{"text":"hello there, how are you doing today?"}}`)
	from := ws.Sender{Role: ws.RoleDevice, MACAddress: ws.NewNilString("02aabbccddee"), ConnectionID: "c0ffee"}
	relay := func(b *testing.B, f *ws.Frame) {
		f.SetFrom(from)
		if _, err := f.MarshalJSON(); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("fresh", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			f, err := ws.ParseFrame(data)
			if err != nil {
				b.Fatal(err)
			}
			relay(b, escape(&f))
		}
	})
	b.Run("pooled", func(b *testing.B) {
		pool := sync.Pool{New: func() any { return new(ws.Frame) }}
		b.ReportAllocs()
		for b.Loop() {
			f := pool.Get().(*ws.Frame)
			if err := ws.ParseFrameInto(data, f); err != nil {
				b.Fatal(err)
			}
			relay(b, escape(f))
			pool.Put(f)
		}
	})
}

// sink keeps the frame reachable, as the hub's handlers do, so the
// compiler cannot keep a fresh frame on the stack.
var sink *ws.Frame

func escape(f *ws.Frame) *ws.Frame {
	sink = f
	return f
}
