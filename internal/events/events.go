// Package events carries the admin console's live events (devices online
// and offline, bindings made and ended, conversations started) from
// whichever instance they happen on to every instance's event streams,
// over Redis pub/sub (redisdb.Keys.AdminEvents).
//
// Events are notifications, not records: publishing is best effort and
// never fails the write that caused it, and a subscriber sees only what is
// published while it listens.
package events

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"paradise/internal/outage"
	"paradise/internal/redisdb"
)

// Module provides the event bus.
var Module = fx.Module("events", fx.Provide(New))

// Type names an event (openapi.yaml's AdminEventType).
type Type string

// The event types.
const (
	DeviceOnline        Type = "device_online"
	DeviceOffline       Type = "device_offline"
	BindingCreated      Type = "binding_created"
	BindingEnded        Type = "binding_ended"
	ConversationCreated Type = "conversation_created"
)

// Event is one live event; the ids that do not apply are zero.
type Event struct {
	Type           Type      `json:"type"`
	At             time.Time `json:"at"`
	DeviceID       int       `json:"device_id,omitempty"`
	MAC            string    `json:"mac_address,omitempty"`
	UserID         int       `json:"user_id,omitempty"`
	ConversationID int       `json:"conversation_id,omitempty"`
}

// Bus publishes and subscribes to the events of every instance.
type Bus struct {
	rdb     *redis.Client
	channel string
	log     *zap.Logger
	outages *outage.Log
}

// New returns the bus.
func New(rdb *redis.Client, keys redisdb.Keys, log *zap.Logger) *Bus {
	log = log.Named("events")
	return &Bus{rdb: rdb, channel: keys.AdminEvents(), log: log, outages: outage.NewLog(log)}
}

// publishTimeout bounds a publish, so a slow Redis cannot hold up the
// write that caused the event.
const publishTimeout = 2 * time.Second

// Publish sends the event to every instance's subscribers. It is best
// effort: a failure is logged (outages once a minute), never returned. A
// zero At is set to now.
func (b *Bus) Publish(ctx context.Context, ev Event) {
	msg, ok := b.encode(ev)
	if !ok {
		return
	}
	// The caller's context may end with its request; the event should
	// still go out.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	if err := b.rdb.Publish(ctx, b.channel, msg).Err(); err != nil {
		if outage.Is(err) {
			b.outages.Report("publish event", err)
			return
		}
		b.log.Warn("Publish event", zap.String("type", string(ev.Type)), zap.Error(err))
	}
}

// PublishIn adds the event's publication to pipe, for a caller that
// writes to Redis anyway: the event costs no round trip of its own, and
// it goes out if the rest of the pipeline does. A zero At is set to now.
func (b *Bus) PublishIn(ctx context.Context, pipe redis.Pipeliner, ev Event) {
	if msg, ok := b.encode(ev); ok {
		pipe.Publish(ctx, b.channel, msg)
	}
}

// encode encodes the event, setting a zero At to now.
func (b *Bus) encode(ev Event) ([]byte, bool) {
	if ev.At.IsZero() {
		ev.At = time.Now()
	}
	msg, err := json.Marshal(ev)
	if err != nil {
		b.log.Error("Encode event", zap.Error(err))
		return nil, false
	}
	return msg, true
}

// Subscription receives events until closed.
type Subscription struct {
	ps *redis.PubSub
	ch <-chan *redis.Message
}

// Subscribe listens to every instance's events. It returns once Redis has
// confirmed the subscription, so events published after it returns are
// received.
func (b *Bus) Subscribe(ctx context.Context) (*Subscription, error) {
	ps := b.rdb.Subscribe(ctx, b.channel)
	if _, err := ps.Receive(ctx); err != nil {
		_ = ps.Close()
		return nil, fmt.Errorf("events: subscribe: %w", err)
	}
	return &Subscription{ps: ps, ch: ps.Channel()}, nil
}

// Next returns the next event, or an error when ctx ends or the
// subscription is closed. Messages that do not decode are skipped.
func (s *Subscription) Next(ctx context.Context) (Event, error) {
	for {
		select {
		case <-ctx.Done():
			return Event{}, ctx.Err()
		case m, ok := <-s.ch:
			if !ok {
				return Event{}, fmt.Errorf("events: subscription closed")
			}
			var ev Event
			if err := json.Unmarshal([]byte(m.Payload), &ev); err != nil {
				continue
			}
			return ev, nil
		}
	}
}

// Close ends the subscription.
func (s *Subscription) Close() error { return s.ps.Close() }
