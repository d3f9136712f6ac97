package command

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"entgo.io/ent/dialect"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"paradise/ent/devicecommand"
	"paradise/gen/ws"
	dev "paradise/internal/device"
	"paradise/internal/hub"
)

// Hooks deliver a device's pending commands when its session has joined
// its group: in order, after the connected frame, on whichever instance
// holds the session.
func (s *Service) Hooks() hub.Hooks {
	return hub.Hooks{Name: "command", Joined: s.joined}
}

func (s *Service) joined(ctx context.Context, sess *hub.Session) {
	if !sess.IsDevice() {
		return
	}
	// Answers this instance still holds for the device go in first, so
	// that what it answered just before reconnecting is not sent again.
	s.acks.sync(ctx, sess.MAC())
	cmds, err := s.claimPending(ctx, sess.MAC())
	if err != nil {
		// Still pending: delivered on the next connect.
		if !errors.Is(err, context.Canceled) {
			s.log.Warn("Pending commands not delivered", zap.String("mac", sess.MAC()), zap.Error(err))
		}
		return
	}
	if len(cmds) == 0 {
		return
	}
	d := dev.Device{ID: cmds[0].DeviceID, MACAddress: sess.MAC()}
	frames := make([]statusFrame, 0, len(cmds))
	for _, c := range cmds {
		if err := sess.Send(commandFrame(c)); err != nil {
			// The session ended: the rest stay pending (recorded as
			// sent), re-sent on the next connect.
			break
		}
		frames = append(frames, statusFrame{owner: sess.UserID(), device: d, c: c})
	}
	s.m.Commands.WithLabelValues(string(Sent)).Add(float64(len(cmds)))
	s.statuses(ctx, frames)
}

// claimPending records a delivery attempt (status sent, attempts + 1) of
// every pending, unexpired command of the device and returns them, oldest
// first: one statement (UPDATE ... RETURNING) instead of reading the
// device, reading its commands and updating them. The attempt is recorded
// before the frames are sent; a command whose frame does not go out is
// still pending and goes out on the next connect.
func (s *Service) claimPending(ctx context.Context, mac string) ([]Command, error) {
	now := s.now()
	p1, p2 := "$1", "$2"
	if s.sqlDB.Dialect != dialect.Postgres {
		p1, p2 = "?1", "?2"
	}
	q := "UPDATE device_commands SET status = 'sent', attempts = attempts + 1, sent_at = " + p1 +
		" WHERE device_id IN (SELECT id FROM devices WHERE mac_address = " + p2 + ")" +
		" AND status IN ('queued', 'sent') AND expires_at > " + p1 +
		" RETURNING id, device_id, issuer_id, name, params, attempts, created_at, expires_at"
	rows, err := s.sqlDB.SQL.QueryContext(ctx, q, now, mac)
	if err != nil {
		return nil, fmt.Errorf("command: deliver to %s: %w", mac, err)
	}
	defer rows.Close()
	var cmds []Command
	for rows.Next() {
		var (
			c      Command
			params []byte
		)
		if err := rows.Scan(&c.ID, &c.DeviceID, &c.IssuerID, &c.Name, &params, &c.Attempts, &c.CreatedAt, &c.ExpiresAt); err != nil {
			return nil, fmt.Errorf("command: deliver to %s: %w", mac, err)
		}
		if err := json.Unmarshal(params, &c.Params); err != nil {
			return nil, fmt.Errorf("command: deliver to %s: params of %d: %w", mac, c.ID, err)
		}
		c.Status, c.SentAt = Sent, &now
		cmds = append(cmds, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("command: deliver to %s: %w", mac, err)
	}
	slices.SortFunc(cmds, func(a, b Command) int { return a.ID - b.ID })
	return cmds, nil
}

// ResultHandler records a device's command_result for a stored command
// (a command_id of digits naming one of the device's pending commands);
// other results (app-to-device commands) are only relayed, as before.
// Results are relayed to the owner's app sessions only, not to the
// user's other devices.
func (s *Service) ResultHandler() hub.FrameHandler {
	return hub.FrameHandler{Type: ws.CommandResultFrame, RelayToApps: true, Handle: s.result}
}

// result queues a device's answer for the batcher (acks.go), which
// records it within a few milliseconds and sends the status frame.
func (s *Service) result(ctx context.Context, sess *hub.Session, f *ws.Frame) error {
	if !sess.IsDevice() {
		return nil
	}
	msg := f.CommandResult.Message
	id, err := strconv.Atoi(msg.CommandID)
	if err != nil || id <= 0 {
		return nil
	}
	ans := answer{id: id, mac: sess.MAC(), owner: sess.UserID(), status: Acknowledged, result: map[string]any{}}
	if v, ok := msg.Result.Get(); ok {
		ans.result = decodeMap(v)
	}
	if !msg.Ok {
		ans.status = Failed
		if e, ok := msg.Error.Get(); ok {
			ans.result["error"] = e
		}
	}
	if err := s.acks.queue(ctx, ans); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// Sweeper expires commands past their time to live. It runs on every
// instance: each expiry is a conditional update, so exactly one instance
// expires a command (and sends its status frame).
type Sweeper struct {
	s     *Service
	every time.Duration
	stop  chan struct{}
	done  sync.WaitGroup
}

// sweepBatch bounds the commands one sweep reads.
const sweepBatch = 500

// NewSweeper returns the expiry sweeper, running while the app runs.
func NewSweeper(lc fx.Lifecycle, s *Service) *Sweeper {
	w := &Sweeper{s: s, every: 5 * time.Second, stop: make(chan struct{})}
	lc.Append(fx.StartStopHook(func() {
		w.done.Add(1)
		go w.loop()
	}, func() {
		close(w.stop)
		w.done.Wait()
	}))
	return w
}

func (w *Sweeper) loop() {
	defer w.done.Done()
	t := time.NewTicker(w.every)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), w.every)
			if _, err := w.s.Expire(ctx); err != nil {
				w.s.log.Warn("Command expiry sweep failed", zap.Error(err))
			}
			cancel()
		}
	}
}

// Expire expires pending commands past their expiry and returns how many
// this call expired.
func (s *Service) Expire(ctx context.Context) (int, error) {
	now := s.now()
	rows, err := s.db.DeviceCommand.Query().
		Where(devicecommand.StatusIn(devicecommand.StatusQueued, devicecommand.StatusSent),
			devicecommand.ExpiresAtLTE(now)).
		WithDevice().Limit(sweepBatch).All(ctx)
	if err != nil {
		return 0, err
	}
	expired := 0
	for _, r := range rows {
		n, err := s.db.DeviceCommand.Update().
			Where(devicecommand.ID(r.ID), devicecommand.StatusIn(devicecommand.StatusQueued, devicecommand.StatusSent)).
			SetStatus(devicecommand.StatusExpired).SetCompletedAt(now).Save(ctx)
		if err != nil {
			return expired, err
		}
		if n == 0 {
			continue // answered, or expired by another instance
		}
		expired++
		s.m.Commands.WithLabelValues(string(Expired)).Inc()
		c := fromEnt(r)
		c.Status, c.CompletedAt = Expired, &now
		if owner, _, err := s.devices.ResolveOwner(ctx, r.Edges.Device.MACAddress); err == nil {
			s.status(ctx, deviceOf(r.Edges.Device), owner, c)
		}
	}
	return expired, nil
}
