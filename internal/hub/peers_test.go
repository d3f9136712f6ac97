package hub_test

import (
	"context"
	"encoding/json"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"paradise/internal/testenv"
)

const publishedMetric = "paradise_hub_published_total"

// TestAloneRelaysLocally: an instance with every member of a group relays
// without Redis; once another instance has a member, frames cross both
// ways; when that member leaves, the first instance stops publishing.
func TestAloneRelaysLocally(t *testing.T) {
	cfg := hubConfig(t, testenv.Postgres)
	a := testenv.StartWith(t, cfg)
	b := testenv.StartWith(t, cfg)
	p, dev, app, published := relayAlone(t, a)
	if published != 0 {
		t.Fatalf("a published %v frames of a group it alone has members of, want 0", published)
	}

	appB := b.Dial(t, p.owner.Token)
	dev.Send(chat("to both"))
	app.Expect("chat")
	appB.Expect("chat")
	if n := metricValue(t, a, publishedMetric); n != 1 {
		t.Fatalf("a published %v frames with a member on b, want 1", n)
	}
	appB.Send(chat("from b"))
	dev.Expect("chat")
	app.Expect("chat")
	if n := metricValue(t, b, publishedMetric); n != 1 {
		t.Fatalf("b published %v frames, want 1", n)
	}

	if err := appB.Conn.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
	// b's left reaches a a moment after the close.
	eventually(t, "a relaying locally again", func() bool {
		before := metricValue(t, a, publishedMetric)
		dev.Send(chat("alone again"))
		app.Expect("chat")
		return metricValue(t, a, publishedMetric) == before
	})
}

// TestLocalRelayOff: with local relaying off (a cluster upgrading from a
// build that does not announce its members), an instance publishes every
// relayed frame, alone or not.
func TestLocalRelayOff(t *testing.T) {
	cfg := hubConfig(t, testenv.Postgres)
	cfg.Hub.LocalRelay = false
	if _, _, _, published := relayAlone(t, testenv.StartWith(t, cfg)); published != 3 {
		t.Fatalf("a published %v frames, want all 3", published)
	}
}

// relayAlone opens the device and app sessions of a new pair on s, has the
// device send its app three chats, and returns the pair, its sessions and
// how many frames s published meanwhile.
func relayAlone(t *testing.T, s *testenv.Service) (p pair, dev, app *testenv.WS, published float64) {
	t.Helper()
	p = newPair(t, s)
	dev = s.Dial(t, p.device.Token)
	app = s.Dial(t, p.owner.Token)
	for i := range 3 {
		dev.Send(chat("alone " + strconv.Itoa(i)))
		app.Expect("chat")
	}
	return p, dev, app, metricValue(t, s, publishedMetric)
}

// TestJoinMissesNothing: a member joining on another instance while the
// group's device sends as fast as it can gets every frame the device sent
// after the member's connected frame, in order, every time.
func TestJoinMissesNothing(t *testing.T) {
	cfg := hubConfig(t, testenv.Postgres)
	cfg.Hub.Rate, cfg.Hub.Burst = 1e6, 1e6
	a := testenv.StartWith(t, cfg)
	b := testenv.StartWith(t, cfg)
	p := newPair(t, a)
	dev := a.Dial(t, p.device.Token)
	app := a.Dial(t, p.owner.Token)

	// The device sends numbered chats until the test ends; the app on a
	// drains them so it is not cut off as a slow consumer, and both answer
	// pings.
	ctx, stop := context.WithCancel(context.Background())
	var sent atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			n := sent.Add(1)
			msg := `{"type":"chat","message":{"text":"` + strconv.FormatInt(n, 10) + `"}}`
			if err := dev.Conn.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	frames(ctx, app)
	frames(ctx, dev)
	t.Cleanup(func() { stop(); <-done })

	for round := range 20 {
		joiner := b.Dial(t, p.owner.Token)
		// Every frame numbered above this one was written after the
		// joiner had its connected frame.
		from := sent.Load()
		next := from + 1
		for next <= from+30 {
			f := joiner.Expect("chat")
			var msg struct {
				Text string `json:"text"`
			}
			if err := json.Unmarshal(f.Message, &msg); err != nil {
				t.Fatal(err)
			}
			n, _ := strconv.ParseInt(msg.Text, 10, 64)
			switch {
			case n <= from:
				// Sent before the join: may or may not arrive.
			case n == next:
				next++
			default:
				t.Fatalf("round %d: joined when %d frames were sent; got frame %d, want %d", round, from, n, next)
			}
		}
		joiner.Conn.CloseNow()
	}
}

// TestRestoredSubscription: an instance whose Redis connection dropped
// cannot know who joined meanwhile; once its subscriptions are restored it
// publishes again, and announces itself to the instance that joined.
func TestRestoredSubscription(t *testing.T) {
	cfg := hubConfig(t, testenv.Postgres)
	b := testenv.StartWith(t, cfg)
	_, rdb, dsn, redisURL := proxied(t, cfg.DatabaseURL, cfg.RedisURL)
	cfgA := cfg
	cfgA.DatabaseURL, cfgA.RedisURL = dsn, redisURL
	a := testenv.StartWith(t, cfgA)
	p := newPair(t, a)
	dev := a.Dial(t, p.device.Token)
	app := a.Dial(t, p.owner.Token)
	dev.Send(chat("alone"))
	app.Expect("chat")

	// b's member joins while a cannot hear it.
	rdb.Disable()
	appB := b.Dial(t, p.owner.Token)
	rdb.Enable()

	ctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	devFrames, appBFrames := frames(ctx, dev), frames(ctx, appB)
	eventually(t, "a's frames reaching b", func() bool {
		dev.Send(chat("anyone there?"))
		app.Expect("chat")
		select {
		case <-appBFrames:
			return true
		case <-time.After(100 * time.Millisecond):
			return false
		}
	})
	appB.Send(chat("here"))
	for timeout := time.After(5 * time.Second); ; {
		select {
		case f := <-devFrames:
			if f.Type == "chat" && f.From.Role == "app" {
				return
			}
		case <-timeout:
			t.Fatal("a's device never got the frame from b")
		}
	}
}

// frames reads c's frames on a goroutine until ctx ends or c closes, so
// that c answers the server's pings meanwhile.
func frames(ctx context.Context, c *testenv.WS) <-chan testenv.Frame {
	out := make(chan testenv.Frame, 64)
	go func() {
		defer close(out)
		for {
			_, data, err := c.Conn.Read(ctx)
			if err != nil {
				return
			}
			var f testenv.Frame
			if json.Unmarshal(data, &f) == nil {
				select {
				case out <- f:
				default: // nobody is looking for it
				}
			}
		}
	}()
	return out
}
