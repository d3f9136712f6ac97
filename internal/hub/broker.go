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

	"paradise/internal/outage"
	"paradise/internal/redisdb"
)

// broker carries group frames and control events between hub instances
// over Redis pub/sub. Each instance subscribes to the group channels of the
// users it has local connections for, plus one control channel.
//
// A group message is "<origin>\n<exclude>\n<target>\n<frame>": origin is
// the publishing instance (empty for the Bus, whose messages every
// instance delivers, its own included), exclude the connection that sent
// the frame (it is not echoed back), target a device MAC when only that
// device's sessions get the frame. An instance ignores its own relays,
// having delivered them locally, and publishes them only while another
// instance has members of the group (peers.go), whose membership messages
// travel on the same channel.
type broker struct {
	rdb      *redis.Client
	keys     redisdb.Keys
	instance string
	log      *zap.Logger
	outages  *outage.Log

	ps *redis.PubSub
	// out feeds the publisher goroutine, which sends PUBLISH commands in
	// pipelined batches: one round trip for many frames under load. A full
	// queue blocks the sending connection's reader (backpressure), so
	// nothing is dropped.
	out  chan outgoing
	done chan struct{}
	wg   sync.WaitGroup

	onGroup   func(userID int, origin string, m groupMessage)
	onControl func(control)
	// onMember gets the group's membership messages (peers.go), this
	// instance's own included; onSubscribed, Redis's confirmations of
	// group subscriptions.
	onMember     func(userID int, kind, origin, join string)
	onSubscribed func(userID int)
}

type outgoing struct {
	channel string
	payload []byte
}

// groupMessage is a frame for (some of) a group's members.
type groupMessage struct {
	exclude string // connection id not to deliver to
	target  string // device MAC to deliver to only, or empty for all
	frame   []byte
}

// control is a hub-wide event about sessions.
type control struct {
	Kind   string `json:"kind"` // controlReplace or controlClose
	Origin string `json:"origin,omitempty"`
	// MAC and Conn: the device connection that replaces older ones
	// (controlReplace).
	MAC  string `json:"mac,omitempty"`
	Conn string `json:"conn,omitempty"`
	// Select, Code and Reason: the sessions to close and how
	// (controlClose).
	Select Selector `json:"select,omitzero"`
	Code   int      `json:"code,omitempty"`
	Reason string   `json:"reason,omitempty"`
}

const (
	// controlReplace: a device opened a new connection; older ones close
	// with 4002.
	controlReplace = "replace"
	// controlClose: close the selected sessions with a code.
	controlClose = "close"
)

const publishBatch = 256

func newBroker(rdb *redis.Client, keys redisdb.Keys, instance string, log *zap.Logger, outages *outage.Log) *broker {
	return &broker{
		rdb:      rdb,
		keys:     keys,
		instance: instance,
		log:      log,
		outages:  outages,
		out:      make(chan outgoing, 8192),
		done:     make(chan struct{}),
	}
}

// start subscribes to the control channel and starts the receive and
// publish loops.
func (b *broker) start(ctx context.Context) error {
	b.ps = b.rdb.Subscribe(ctx, b.keys.HubControl())
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
	return b.ps.Subscribe(ctx, b.keys.HubGroup(userID))
}

func (b *broker) unsubscribe(ctx context.Context, userID int) error {
	return b.ps.Unsubscribe(ctx, b.keys.HubGroup(userID))
}

// encodeGroup builds a group message's payload.
func encodeGroup(origin string, m groupMessage) []byte {
	payload := make([]byte, 0, len(origin)+len(m.exclude)+len(m.target)+len(m.frame)+3)
	payload = append(payload, origin...)
	payload = append(payload, '\n')
	payload = append(payload, m.exclude...)
	payload = append(payload, '\n')
	payload = append(payload, m.target...)
	payload = append(payload, '\n')
	return append(payload, m.frame...)
}

// publishGroup queues a relayed frame for the group's other instances.
func (b *broker) publishGroup(userID int, m groupMessage) {
	b.enqueue(outgoing{channel: b.keys.HubGroup(userID), payload: encodeGroup(b.instance, m)})
}

// memberPayload is a membership message (peers.go) of this instance:
// kind as the target, the join it is about as the exclude.
func (b *broker) memberPayload(kind, join string) []byte {
	return encodeGroup(b.instance, groupMessage{exclude: join, target: kind})
}

// publishMember queues a membership message for the group's channel.
func (b *broker) publishMember(userID int, kind, join string) {
	b.enqueue(outgoing{channel: b.keys.HubGroup(userID), payload: b.memberPayload(kind, join)})
}

// announce publishes a membership message at once, ahead of anything
// queued, and returns how many subscribers of the group's channel got it.
func (b *broker) announce(ctx context.Context, userID int, kind, join string) (int64, error) {
	n, err := b.rdb.Publish(ctx, b.keys.HubGroup(userID), b.memberPayload(kind, join)).Result()
	if err != nil {
		return 0, fmt.Errorf("hub: announce %q in group %d: %w", kind[len(memberMark):], userID, err)
	}
	return n, nil
}

// publishControl queues a control event for the other instances.
func (b *broker) publishControl(c control) {
	c.Origin = b.instance
	payload, err := json.Marshal(c)
	if err != nil {
		b.log.Error("Encode control event", zap.Error(err))
		return
	}
	b.enqueue(outgoing{channel: b.keys.HubControl(), payload: payload})
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
		// Frames for other instances are lost while Redis is down; local
		// members still get theirs.
		b.outages.Report("publish", err)
	}
}

func (b *broker) receive() {
	defer b.wg.Done()
	groupPrefix := b.keys.HubGroupPrefix()
	controlChannel := b.keys.HubControl()
	for msg := range b.ps.ChannelWithSubscriptions(redis.WithChannelSize(4096)) {
		switch msg := msg.(type) {
		case *redis.Subscription:
			if msg.Kind != "subscribe" || !strings.HasPrefix(msg.Channel, groupPrefix) {
				continue
			}
			if userID, err := strconv.Atoi(msg.Channel[len(groupPrefix):]); err == nil {
				b.onSubscribed(userID)
			}
		case *redis.Message:
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
				b.receiveGroup(msg.Channel[len(groupPrefix):], msg.Payload)
			}
		}
	}
}

// receiveGroup handles a message from a group's channel.
func (b *broker) receiveGroup(user, payload string) {
	origin, rest, ok := strings.Cut(payload, "\n")
	if !ok {
		return
	}
	exclude, rest, ok1 := strings.Cut(rest, "\n")
	target, frame, ok2 := strings.Cut(rest, "\n")
	if !ok1 || !ok2 {
		return
	}
	isMember := strings.HasPrefix(target, memberMark)
	// Redis echoes our own relays back; drop them before any copying.
	if origin == b.instance && !isMember {
		return
	}
	userID, err := strconv.Atoi(user)
	if err != nil {
		return
	}
	if isMember {
		b.onMember(userID, target, origin, exclude)
		return
	}
	b.onGroup(userID, origin, groupMessage{exclude: exclude, target: target, frame: []byte(frame)})
}
