package command

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"paradise/ent/device"
	"paradise/ent/devicecommand"
	"paradise/gen/ws"
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
	rows, err := s.pending(ctx, sess.MAC())
	if err != nil {
		// Still pending: delivered on the next connect.
		s.log.Warn("Pending commands not read", zap.String("mac", sess.MAC()), zap.Error(err))
		return
	}
	if len(rows) == 0 {
		return
	}
	cmds := make([]Command, len(rows))
	for i, r := range rows {
		cmds[i] = fromEnt(r)
	}
	d, err := s.db.Device.Query().Where(device.MACAddress(sess.MAC())).Only(ctx)
	if err != nil {
		s.log.Warn("Pending commands not delivered", zap.String("mac", sess.MAC()), zap.Error(err))
		return
	}
	if _, err := s.deliver(ctx, sess.UserID(), deviceOf(d), cmds, sess.Send); err != nil && !errors.Is(err, context.Canceled) {
		s.log.Warn("Pending commands not delivered", zap.String("mac", sess.MAC()), zap.Error(err))
	}
}

// ResultHandler records a device's command_result for a stored command
// (a command_id of digits naming one of the device's pending commands);
// other results (app-to-device commands) are only relayed, as before.
func (s *Service) ResultHandler() hub.FrameHandler {
	return hub.FrameHandler{Type: ws.CommandResultFrame, Handle: s.result}
}

func (s *Service) result(ctx context.Context, sess *hub.Session, f *ws.Frame) error {
	if !sess.IsDevice() {
		return nil
	}
	msg := f.CommandResult.Message
	id, err := strconv.Atoi(msg.CommandID)
	if err != nil || id <= 0 {
		return nil
	}
	status, result := devicecommand.StatusAcknowledged, map[string]any{}
	if v, ok := msg.Result.Get(); ok {
		result = decodeMap(v)
	}
	if !msg.Ok {
		status = devicecommand.StatusFailed
		if e, ok := msg.Error.Get(); ok {
			result["error"] = e
		}
	}
	now := s.now()
	// Conditional on the command being pending and this device's: a
	// repeated answer (at-least-once delivery) or another device's
	// answer changes nothing.
	n, err := s.db.DeviceCommand.Update().
		Where(devicecommand.ID(id), devicecommand.HasDeviceWith(device.MACAddress(sess.MAC())),
			devicecommand.StatusIn(devicecommand.StatusQueued, devicecommand.StatusSent)).
		SetStatus(status).SetResult(result).SetCompletedAt(now).
		Save(ctx)
	if err != nil || n == 0 {
		return err
	}
	s.m.Commands.WithLabelValues(string(status)).Inc()
	row, err := s.db.DeviceCommand.Query().Where(devicecommand.ID(id)).WithDevice().Only(ctx)
	if err != nil {
		return err
	}
	s.status(ctx, deviceOf(row.Edges.Device), sess.UserID(), fromEnt(row))
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
