package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"paradise/internal/redisdb"
)

// broker carries group frames and control events between hub instances
// over Redis pub/sub. Each instance subscribes to the group channels of the
// users it has local connections for, plus one control channel.
//
// A group message is "<origin instance>\n<sender connection>\n<frame>";
// an instance ignores its own messages, having delivered them locally.
type broker struct {
	rdb      *redis.Client
	keys     redisdb.Keys
	instance string
	log      *zap.Logger

	ps *redis.PubSub
	// out feeds the publisher goroutine, which sends PUBLISH commands in
	// pipelined batches: one round trip for many frames under load. A full
	// queue blocks the sending connection's reader (backpressure), so
	// nothing is dropped.
	out  chan outgoing
	done chan struct{}
	wg   sync.WaitGroup

	onGroup   func(userID int, sender string, frame []byte)
	onControl func(control)
}

type outgoing struct {
	channel string
	payload []byte
}

// control is a hub-wide event about a device connection.
type control struct {
	Kind   string `json:"kind"` // controlReplace or controlRebound
	Origin string `json:"origin"`
	MAC    string `json:"mac"`
	// Conn is the connection that replaces older ones (controlReplace).
	Conn string `json:"conn,omitempty"`
	// Owner is the device's new owner, 0 for none (controlRebound).
	Owner int `json:"owner,omitempty"`
}

const (
	// controlReplace: a device opened a new connection; older ones close
	// with 4002.
	controlReplace = "replace"
	// controlRebound: a device changed owner; its connections in other
	// groups close with 4003.
	controlRebound = "rebound"
)

const publishBatch = 256

func newBroker(rdb *redis.Client, keys redisdb.Keys, instance string, log *zap.Logger) *broker {
	return &broker{
		rdb:      rdb,
		keys:     keys,
		instance: instance,
		log:      log,
		out:      make(chan outgoing, 8192),
		done:     make(chan struct{}),
	}
}

func (b *broker) groupChannel(userID int) string {
	return b.keys.Key("hub:device_", strconv.Itoa(userID))
}

func (b *broker) controlChannel() string { return b.keys.Key("hub:control") }

// start subscribes to the control channel and starts the receive and
// publish loops.
func (b *broker) start(ctx context.Context) error {
	b.ps = b.rdb.Subscribe(ctx, b.controlChannel())
	// Wait for the subscription to be confirmed, so events published after
	// start are not missed.
	if _, err := b.ps.Receive(ctx); err != nil {
		_ = b.ps.Close()
		return fmt.Errorf("hub: subscribe: %w", err)
	}
	b.wg.Add(2)
	go b.receive()
	go b.publish()
	return nil
}

// stop flushes pending publishes and closes the subscription.
func (b *broker) stop() {
	close(b.done)
	_ = b.ps.Close() // ends receive's channel
	b.wg.Wait()
}

func (b *broker) subscribe(ctx context.Context, userID int) error {
	return b.ps.Subscribe(ctx, b.groupChannel(userID))
}

func (b *broker) unsubscribe(ctx context.Context, userID int) error {
	return b.ps.Unsubscribe(ctx, b.groupChannel(userID))
}

// publishGroup queues a frame for the group's other instances.
func (b *broker) publishGroup(userID int, sender string, frame []byte) {
	payload := make([]byte, 0, len(b.instance)+len(sender)+len(frame)+2)
	payload = append(payload, b.instance...)
	payload = append(payload, '\n')
	payload = append(payload, sender...)
	payload = append(payload, '\n')
	payload = append(payload, frame...)
	b.enqueue(outgoing{channel: b.groupChannel(userID), payload: payload})
}

// publishControl queues a control event for every instance.
func (b *broker) publishControl(c control) {
	c.Origin = b.instance
	payload, err := json.Marshal(c)
	if err != nil {
		b.log.Error("Encode control event", zap.Error(err))
		return
	}
	b.enqueue(outgoing{channel: b.controlChannel(), payload: payload})
}

func (b *broker) enqueue(m outgoing) {
	select {
	case b.out <- m:
	case <-b.done:
		b.log.Warn("Hub stopping; dropped a cross-instance message", zap.String("channel", m.channel))
	}
}

func (b *broker) publish() {
	defer b.wg.Done()
	batch := make([]outgoing, 0, publishBatch)
	for {
		select {
		case m := <-b.out:
			batch = append(batch[:0], m)
		case <-b.done:
			// Flush what is queued, then stop.
			for {
				select {
				case m := <-b.out:
					b.send([]outgoing{m})
				default:
					return
				}
			}
		}
	fill:
		for len(batch) < publishBatch {
			select {
			case m := <-b.out:
				batch = append(batch, m)
			default:
				break fill
			}
		}
		b.send(batch)
	}
}

func (b *broker) send(batch []outgoing) {
	_, err := b.rdb.Pipelined(context.Background(), func(p redis.Pipeliner) error {
		for _, m := range batch {
			p.Publish(context.Background(), m.channel, m.payload)
		}
		return nil
	})
	if err != nil {
		b.log.Error("Publish to Redis", zap.Int("messages", len(batch)), zap.Error(err))
	}
}

func (b *broker) receive() {
	defer b.wg.Done()
	groupPrefix := b.keys.Key("hub:device_")
	controlChannel := b.controlChannel()
	for msg := range b.ps.Channel(redis.WithChannelSize(4096)) {
		switch {
		case msg.Channel == controlChannel:
			var c control
			if err := json.Unmarshal([]byte(msg.Payload), &c); err != nil {
				b.log.Warn("Bad control event", zap.Error(err))
				continue
			}
			if c.Origin != b.instance {
				b.onControl(c)
			}
		case strings.HasPrefix(msg.Channel, groupPrefix):
			// Redis echoes our own publications back; drop them before
			// any copying.
			origin, rest, ok := strings.Cut(msg.Payload, "\n")
			if !ok || origin == b.instance {
				continue
			}
			sender, frame, ok := strings.Cut(rest, "\n")
			userID, err := strconv.Atoi(msg.Channel[len(groupPrefix):])
			if !ok || err != nil {
				continue
			}
			b.onGroup(userID, sender, []byte(frame))
		}
	}
}
