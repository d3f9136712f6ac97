package device

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"paradise/ent"
	"paradise/ent/device"
	"paradise/gen/ws"
	"paradise/internal/apperr"
	"paradise/internal/config"
	"paradise/internal/hub"
	"paradise/internal/redisdb"
)

// Presence keeps device online state in Redis and the Device rows, from
// the hub's device sessions.
//
// Redis, per device:
//   - device:last_seen:{mac} = unix time of the last sign of life, with a
//     TTL (the Django system's key);
//   - device:conn:{mac} = id of the device's current session, same TTL.
//
// Both are refreshed by the device's frames and by answered pings, so a
// live session never expires. When an instance dies its devices' keys
// expire, and the sweeper (on any instance) marks them disconnected.
type Presence struct {
	db     *ent.Client
	rdb    *redis.Client
	keys   redisdb.Keys
	cfg    config.Presence
	owners *Service
	log    *zap.Logger

	// sessions holds per-session state of this instance's device
	// sessions, by session id.
	sessions sync.Map // string -> *sessionState

	stop chan struct{}
	done sync.WaitGroup
}

// sessionState is what presence remembers of one device session.
type sessionState struct {
	// mu serialises the session's presence writes: they come from its
	// reader (frames) and its ping timer (answered pings).
	mu        sync.Mutex
	dbTouched time.Time // last last_seen column write
}

// dbTouchEvery bounds how often a connected device's last_seen column is
// written; the sweeper only needs it fresher than the TTL.
const dbTouchEvery = time.Minute

// NewPresence returns presence, sweeping while the app runs.
func NewPresence(lc fx.Lifecycle, db *ent.Client, rdb *redis.Client, keys redisdb.Keys, cfg config.Presence, owners *Service, log *zap.Logger) *Presence {
	p := &Presence{db: db, rdb: rdb, keys: keys, cfg: cfg, owners: owners, log: log.Named("presence"), stop: make(chan struct{})}
	lc.Append(fx.StartStopHook(p.start, p.shutdown))
	return p
}

// Hooks are the hub session hooks presence runs on.
func (p *Presence) Hooks() hub.Hooks {
	return hub.Hooks{Name: "presence", Connect: p.connect, Disconnect: p.disconnect, Alive: p.alive}
}

// DeviceInfoHandler stores what a device reports about itself; the frame
// is relayed to the group as well.
func (p *Presence) DeviceInfoHandler() hub.FrameHandler {
	return hub.FrameHandler{Type: "device_info", Handle: p.deviceInfo}
}

// claim refreshes the connection key only while it still names this
// session (or names none), so a replaced session cannot take it back.
var claim = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur == false or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`)

// release deletes the connection key if it still names this session.
var release = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)

// connect admits a device session and records it as the device's
// connection. A device token outlives a rebind: the device must belong to
// the token's user now, or it would join its previous owner's group.
func (p *Presence) connect(ctx context.Context, s *hub.Session) error {
	if !s.IsDevice() {
		return nil
	}
	owner, _, err := p.owners.ResolveOwner(ctx, s.MAC())
	var ae *apperr.Error
	switch {
	case errors.As(err, &ae):
		// Unbound (or unknown) since the token was issued.
		return &hub.Reject{Code: ws.CloseRebound, Reason: "device bound to another owner; log in again"}
	case err != nil:
		// The database is down: that says nothing about the binding.
		return err
	case owner != s.UserID():
		return &hub.Reject{Code: ws.CloseRebound, Reason: "device bound to another owner; log in again"}
	}
	now := time.Now()
	_, err = p.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.Set(ctx, p.keys.DeviceConn(s.MAC()), s.ID(), p.cfg.TTL)
		pipe.Set(ctx, p.keys.DeviceLastSeen(s.MAC()), now.Unix(), p.cfg.TTL)
		return nil
	})
	if err != nil {
		return fmt.Errorf("device: presence connect: %w", err)
	}
	err = p.db.Device.Update().Where(device.MACAddress(s.MAC())).
		SetStatus(device.StatusConnected).SetLastSeen(now).Exec(ctx)
	if err != nil {
		return fmt.Errorf("device: presence connect: %w", err)
	}
	p.sessions.Store(s.ID(), &sessionState{dbTouched: now})
	return nil
}

// state returns the session's presence state; nil for sessions presence
// did not admit (apps).
func (p *Presence) state(s *hub.Session) *sessionState {
	v, ok := p.sessions.Load(s.ID())
	if !ok {
		return nil
	}
	return v.(*sessionState)
}

// alive refreshes the device's keys, and now and then its last_seen
// column.
func (p *Presence) alive(ctx context.Context, s *hub.Session) {
	st := p.state(s)
	if st == nil {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if err := p.touch(ctx, s, st); err != nil && !errors.Is(err, context.Canceled) {
		s.Logger().Warn("Presence refresh", zap.Error(err))
	}
}

func (p *Presence) touch(ctx context.Context, s *hub.Session, st *sessionState) error {
	now := time.Now()
	_, err := p.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		claim.Eval(ctx, pipe, []string{p.keys.DeviceConn(s.MAC())}, s.ID(), p.cfg.TTL.Milliseconds())
		pipe.Set(ctx, p.keys.DeviceLastSeen(s.MAC()), now.Unix(), p.cfg.TTL)
		return nil
	})
	if err != nil {
		return fmt.Errorf("device: presence touch: %w", err)
	}
	if now.Sub(st.dbTouched) < dbTouchEvery {
		return nil
	}
	st.dbTouched = now
	err = p.db.Device.Update().Where(device.MACAddress(s.MAC())).
		SetStatus(device.StatusConnected).SetLastSeen(now).Exec(ctx)
	if err != nil {
		return fmt.Errorf("device: presence touch: %w", err)
	}
	return nil
}

// disconnect marks the device disconnected, unless a newer session of it
// has taken over.
func (p *Presence) disconnect(ctx context.Context, s *hub.Session) {
	if _, ok := p.sessions.LoadAndDelete(s.ID()); !ok {
		return
	}
	if err := p.markDisconnected(ctx, s); err != nil {
		s.Logger().Error("Presence disconnect", zap.Error(err))
	}
}

func (p *Presence) markDisconnected(ctx context.Context, s *hub.Session) error {
	n, err := release.Run(ctx, p.rdb, []string{p.keys.DeviceConn(s.MAC())}, s.ID()).Int()
	if err != nil {
		return fmt.Errorf("device: presence disconnect: %w", err)
	}
	if n == 0 {
		return nil
	}
	err = p.db.Device.Update().Where(device.MACAddress(s.MAC())).
		SetStatus(device.StatusDisconnected).SetLastSeen(time.Now()).Exec(ctx)
	if err != nil {
		return fmt.Errorf("device: presence disconnect: %w", err)
	}
	return nil
}

// deviceInfo stores what a device reported about itself. Apps may send
// device_info too (it is relayed); only a device's own report is stored.
func (p *Presence) deviceInfo(ctx context.Context, s *hub.Session, f *ws.Frame) error {
	st := p.state(s)
	if st == nil {
		return nil
	}
	info := f.DeviceInfo.Message
	st.mu.Lock()
	defer st.mu.Unlock()
	now := time.Now()
	upd := p.db.Device.Update().Where(device.MACAddress(s.MAC())).
		SetStatus(device.StatusConnected).SetLastSeen(now)
	if v, ok := info.BatteryLevel.Get(); ok {
		upd.SetBatteryLevel(v)
	}
	if v, ok := info.FirmwareVersion.Get(); ok {
		upd.SetFirmwareVersion(v)
	}
	if v, ok := info.WifiName.Get(); ok {
		upd.SetWifiName(v)
	}
	if err := upd.Exec(ctx); err != nil {
		return fmt.Errorf("device: device_info of %s: %w", s.MAC(), err)
	}
	st.dbTouched = now
	return nil
}

// Online reports whether the device with this MAC has a live session on
// any instance.
func (p *Presence) Online(ctx context.Context, mac string) (bool, error) {
	n, err := p.rdb.Exists(ctx, p.keys.DeviceConn(mac)).Result()
	if err != nil {
		return false, fmt.Errorf("device: presence: %w", err)
	}
	return n == 1, nil
}

func (p *Presence) start(context.Context) error {
	p.done.Add(1)
	go p.sweepLoop()
	return nil
}

func (p *Presence) shutdown(context.Context) error {
	close(p.stop)
	p.done.Wait()
	return nil
}

func (p *Presence) sweepLoop() {
	defer p.done.Done()
	t := time.NewTicker(p.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), p.cfg.SweepInterval)
			n, err := p.Sweep(ctx)
			cancel()
			if err != nil {
				p.log.Warn("Presence sweep failed", zap.Error(err))
			} else if n > 0 {
				p.log.Info("Marked devices of dead instances disconnected", zap.Int("devices", n))
			}
		}
	}
}

// Sweep marks disconnected the devices whose connection key expired: their
// instance died without saying goodbye. Every instance may run it at once:
// the update is conditional, and a device whose row was touched within the
// TTL (a fresh connect) is left alone.
func (p *Presence) Sweep(ctx context.Context) (int, error) {
	cutoff := time.Now().Add(-p.cfg.TTL)
	stale, err := p.db.Device.Query().
		Where(device.StatusEQ(device.StatusConnected), device.Or(device.LastSeenIsNil(), device.LastSeenLT(cutoff))).
		Select(device.FieldMACAddress).Strings(ctx)
	if err != nil {
		return 0, fmt.Errorf("device: sweep: %w", err)
	}
	if len(stale) == 0 {
		return 0, nil
	}
	exists := make([]*redis.IntCmd, len(stale))
	_, err = p.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i, mac := range stale {
			exists[i] = pipe.Exists(ctx, p.keys.DeviceConn(mac))
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("device: sweep: %w", err)
	}
	var gone []string
	for i, mac := range stale {
		if exists[i].Val() == 0 {
			gone = append(gone, mac)
		}
	}
	if len(gone) == 0 {
		return 0, nil
	}
	n, err := p.db.Device.Update().
		Where(device.MACAddressIn(gone...), device.StatusEQ(device.StatusConnected),
			device.Or(device.LastSeenIsNil(), device.LastSeenLT(cutoff))).
		SetStatus(device.StatusDisconnected).Save(ctx)
	if err != nil {
		return 0, fmt.Errorf("device: sweep: %w", err)
	}
	return n, nil
}
