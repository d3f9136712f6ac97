package hub

import (
	"testing"

	"paradise/gen/ws"
)

// BenchmarkRelayFrame measures what the hub does with every relayed
// frame before it is queued: parse and validate it, stamp its from and
// encode it again. "before" is how the hub did it (a fresh frame, which
// escapes to the heap since handlers get a pointer to it, and
// MarshalJSON); "now" is handleFrame's (a pooled frame, encodeRelayed).
//
//	go test ./internal/hub -run '^$' -bench RelayFrame -benchmem
func BenchmarkRelayFrame(b *testing.B) {
	data := []byte(`{"type":"chat","message":{"text":"hello there, how are you doing today?"}}`)
	from := ws.Sender{Role: ws.RoleDevice, MACAddress: ws.NewNilString("AA:BB:CC:DD:EE:FF"), ConnectionID: randomID()}
	b.Run("before", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			f, err := ws.ParseFrame(data)
			if err != nil {
				b.Fatal(err)
			}
			escape(&f).SetFrom(from)
			if _, err := f.MarshalJSON(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("now", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			f := framePool.Get().(*ws.Frame)
			if err := ws.ParseFrameInto(data, f); err != nil {
				b.Fatal(err)
			}
			encodeRelayed(escape(f), from, len(data))
			framePool.Put(f)
		}
	})
}

// sink keeps the frame reachable, as the hub's handlers may, so the
// compiler cannot keep a fresh frame on the stack.
var sink *ws.Frame

func escape(f *ws.Frame) *ws.Frame {
	sink = f
	return f
}

// TestEncodeRelayed: the relayed frame is the client's with the sender
// as from, whatever from the client claimed.
func TestEncodeRelayed(t *testing.T) {
	from := ws.Sender{Role: ws.RoleDevice, MACAddress: ws.NewNilString("AA:BB:CC:DD:EE:FF"), ConnectionID: "c0ffee"}
	for _, in := range []string{
		`{"type":"chat","message":{"text":"hi"}}`,
		`{"type":"chat","message":{"text":"hi"},"from":{"role":"app","mac_address":null,"connection_id":"forged"}}`,
	} {
		var f ws.Frame
		if err := ws.ParseFrameInto([]byte(in), &f); err != nil {
			t.Fatal(err)
		}
		out := encodeRelayed(&f, from, len(in))
		got, err := ws.ParseFrame(out)
		if err != nil {
			t.Fatalf("%s: %v", out, err)
		}
		fr, ok := got.GetFrom()
		if !ok || fr != from || got.Type != ws.ChatFrame || got.Chat.Message.Text != "hi" {
			t.Fatalf("relayed %s from %s", out, in)
		}
	}
}
