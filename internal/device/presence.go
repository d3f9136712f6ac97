package device

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"paradise/ent"
	"paradise/ent/device"
	"paradise/ent/predicate"
	"paradise/gen/ws"
	"paradise/internal/config"
	"paradise/internal/events"
	"paradise/internal/hub"
	"paradise/internal/outage"
	"paradise/internal/redisdb"
)

// Presence keeps device online state in Redis and the Device rows, from
// the hub's device sessions.
//
// Redis, per device:
//   - device:last_seen:{mac} = unix time of the last sign of life, with a
//     TTL (the Django system's key);
//   - device:conn:{mac} = "{instance}/{session id}" of the device's
//     current session, same TTL.
//
// Both are refreshed by the device's frames and by answered pings, so a
// live session never expires. The refreshes of all sessions are written
// together a few times a second (flushTouches): a device sending a frame
// a second used to cost a Redis round trip a second on its reader.
//
// Per instance: presence:instances scores each instance by its last
// heartbeat (every instanceBeat), and presence:devices:{instance} lists
// the devices connected through it. When an instance dies (kill -9, a lost
// host) its heartbeat stops; after instanceTTL any instance's sweeper
// releases the dead instance's connection keys and marks its devices
// disconnected. Devices whose keys expired without an instance record
// (Redis lost them) are swept once their last_seen is older than the TTL.
type Presence struct {
	db       *ent.Client
	rdb      *redis.Client
	keys     redisdb.Keys
	cfg      config.Presence
	owners   *Service
	log      *zap.Logger
	outages  *outage.Log
	instance string
	// events tells the admin console about devices going online and
	// offline.
	events *events.Bus

	// redisFailed is when this instance last failed to reach Redis (unix
	// nanoseconds). After an outage every instance's heartbeat is stale
	// until it beats again, so the sweeper holds off dead-instance sweeps
	// for instanceTTL after its own last failure.
	redisFailed atomic.Int64

	// sessions holds per-session state of this instance's device
	// sessions, by session id.
	sessions sync.Map // string -> *sessionState

	// touchMu guards touches: the device sessions with a sign of life
	// since the last flush, and when. flushMu is held while a flush
	// writes, so that a session's disconnect can wait for it.
	touchMu sync.Mutex
	touches map[*hub.Session]time.Time
	flushMu sync.Mutex

	stop chan struct{}
	done sync.WaitGroup
}

// sessionState is what presence remembers of one device session.
type sessionState struct {
	// mu guards dbTouched: device_info frames (the session's reader) and
	// flushes both write the row.
	mu        sync.Mutex
	dbTouched time.Time // last last_seen column write
	deviceID  int
}

// dbTouchEvery bounds how often a connected device's last_seen column is
// written; the sweeper only needs it fresher than the TTL.
const dbTouchEvery = time.Minute

// An instance beats every instanceBeat and counts as dead once its last
// beat is older than instanceTTL.
const (
	instanceBeat = 3 * time.Second
	instanceTTL  = 10 * time.Second
)

// NewPresence returns presence, sweeping while the app runs.
func NewPresence(lc fx.Lifecycle, db *ent.Client, rdb *redis.Client, keys redisdb.Keys, cfg config.Presence, owners *Service, ev *events.Bus, log *zap.Logger) *Presence {
	log = log.Named("presence")
	p := &Presence{db: db, rdb: rdb, keys: keys, cfg: cfg, owners: owners, log: log, events: ev,
		outages: outage.NewLog(log), instance: randomID(), touches: make(map[*hub.Session]time.Time),
		stop: make(chan struct{})}
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

// releaseInstance deletes the connection key if it names a session of the
// instance whose "{instance}/" prefix is ARGV[1].
var releaseInstance = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, #ARGV[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)

// connValue is the connection key's value for a session of this instance.
func (p *Presence) connValue(s *hub.Session) string { return p.instance + "/" + s.ID() }

// connect admits a device session and records it as the device's
// connection. A device token outlives a rebind: the device must belong to
// the token's user now, or it would join its previous owner's group.
func (p *Presence) connect(ctx context.Context, s *hub.Session) error {
	if !s.IsDevice() {
		return nil
	}
	now := time.Now()
	deviceID, owned, err := p.owners.MarkConnected(ctx, s.MAC(), s.UserID(), now)
	switch {
	case err != nil:
		// The database is down: that says nothing about the binding.
		return err
	case !owned:
		// Unbound, or bound to someone else, since the token was issued.
		return &hub.Reject{Code: ws.CloseRebound, Reason: "device bound to another owner; log in again"}
	}
	// One round trip: the connection keys, this instance's list, and the
	// console's online event.
	_, err = p.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.Set(ctx, p.keys.DeviceConn(s.MAC()), p.connValue(s), p.cfg.TTL)
		pipe.Set(ctx, p.keys.DeviceLastSeen(s.MAC()), now.Unix(), p.cfg.TTL)
		pipe.SAdd(ctx, p.keys.PresenceDevices(p.instance), s.MAC())
		p.events.PublishIn(ctx, pipe, events.Event{Type: events.DeviceOnline, DeviceID: deviceID, MAC: s.MAC(), UserID: s.UserID(), At: now})
		return nil
	})
	if err != nil {
		// The row already says connected; with no connection key, the
		// sweeper marks it disconnected once last_seen is older than the
		// TTL.
		p.failed(err)
		return fmt.Errorf("device: presence connect: %w", err)
	}
	p.sessions.Store(s.ID(), &sessionState{dbTouched: now, deviceID: deviceID})
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

// alive notes a sign of life of the session, for the next flush.
func (p *Presence) alive(_ context.Context, s *hub.Session) {
	if p.state(s) == nil {
		return
	}
	p.touchMu.Lock()
	p.touches[s] = time.Now()
	p.touchMu.Unlock()
}

// touchFlush is how often the noted signs of life are written, at most:
// a quarter of the TTL when that is shorter, so a live session's keys
// never expire.
func (p *Presence) touchFlush() time.Duration { return min(250*time.Millisecond, p.cfg.TTL/4) }

// flushTouches writes the signs of life noted since the last flush: the
// connection and last_seen keys of every such session in one round trip,
// and, for the devices whose last_seen column is older than dbTouchEvery,
// the column in one statement.
func (p *Presence) flushTouches(ctx context.Context) {
	// Not the tick's deadline: a flush of many sessions may take longer
	// than a tick, and the ticks it spans are skipped.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
	defer cancel()
	p.flushMu.Lock()
	defer p.flushMu.Unlock()
	p.touchMu.Lock()
	batch := p.touches
	if len(batch) == 0 {
		p.touchMu.Unlock()
		return
	}
	p.touches = make(map[*hub.Session]time.Time, len(batch))
	p.touchMu.Unlock()
	_, err := p.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for s, at := range batch {
			claim.Eval(ctx, pipe, []string{p.keys.DeviceConn(s.MAC())}, p.connValue(s), p.cfg.TTL.Milliseconds())
			pipe.Set(ctx, p.keys.DeviceLastSeen(s.MAC()), at.Unix(), p.cfg.TTL)
		}
		return nil
	})
	if err != nil {
		p.report("refresh", fmt.Errorf("device: presence touch: %w", err))
		return
	}
	var due []string
	now := time.Now()
	for s := range batch {
		st := p.state(s)
		if st == nil {
			continue // ended meanwhile
		}
		st.mu.Lock()
		if now.Sub(st.dbTouched) >= dbTouchEvery {
			st.dbTouched = now
			due = append(due, s.MAC())
		}
		st.mu.Unlock()
	}
	// In chunks: a statement takes at most 65,535 parameters (Postgres).
	for chunk := range slices.Chunk(due, touchChunk) {
		err = p.db.Device.Update().Where(device.MACAddressIn(chunk...)).
			SetStatus(device.StatusConnected).SetLastSeen(now).Exec(ctx)
		if err != nil {
			p.report("refresh", fmt.Errorf("device: presence touch of %d devices: %w", len(chunk), err))
			return
		}
	}
}

const (
	// flushTimeout bounds one flush of signs of life.
	flushTimeout = 5 * time.Second
	// touchChunk is how many devices' last_seen columns one statement
	// writes at most.
	touchChunk = 1000
)

// disconnect marks the device disconnected, unless a newer session of it
// has taken over.
func (p *Presence) disconnect(ctx context.Context, s *hub.Session) {
	v, ok := p.sessions.LoadAndDelete(s.ID())
	if !ok {
		return
	}
	// A sign of life not yet written must not reclaim the connection key
	// after it is released: a flush writing one ends first, and the rest
	// are dropped.
	p.flushMu.Lock()
	p.touchMu.Lock()
	delete(p.touches, s)
	p.touchMu.Unlock()
	p.flushMu.Unlock()
	if err := p.markDisconnected(ctx, s, v.(*sessionState).deviceID); err != nil {
		p.report("disconnect", err)
	}
}

// report logs a presence failure: dependency outages once a minute, the
// rest each time.
func (p *Presence) report(what string, err error) {
	if outage.Is(err) {
		p.failed(err)
		p.outages.Report("presence "+what, err)
		return
	}
	p.log.Error("Presence "+what, zap.Error(err))
}

// failed notes a Redis failure (see redisFailed).
func (p *Presence) failed(err error) {
	if outage.Is(err) {
		p.redisFailed.Store(time.Now().UnixNano())
	}
}

// markDisconnected releases the device's connection key and, if this
// session still held it (no newer session took over), marks the device
// disconnected and tells the console.
func (p *Presence) markDisconnected(ctx context.Context, s *hub.Session, deviceID int) error {
	n, err := release.Run(ctx, p.rdb, []string{p.keys.DeviceConn(s.MAC())}, p.connValue(s)).Int()
	if err != nil {
		return fmt.Errorf("device: presence disconnect: %w", err)
	}
	// The device stays in this instance's list while a newer session of
	// it here may own it; a stale entry only costs the sweeper a lookup.
	if n == 1 {
		if err := p.rdb.SRem(ctx, p.keys.PresenceDevices(p.instance), s.MAC()).Err(); err != nil {
			return fmt.Errorf("device: presence disconnect: %w", err)
		}
	}
	if n == 0 {
		return nil
	}
	err = p.db.Device.Update().Where(device.MACAddress(s.MAC())).
		SetStatus(device.StatusDisconnected).SetLastSeen(time.Now()).Exec(ctx)
	if err != nil {
		return fmt.Errorf("device: presence disconnect: %w", err)
	}
	p.events.Publish(ctx, events.Event{Type: events.DeviceOffline, DeviceID: deviceID, MAC: s.MAC(), UserID: s.UserID()})
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

// start registers this instance as alive and starts its heartbeat and
// sweeper.
func (p *Presence) start(ctx context.Context) error {
	if err := p.beat(ctx); err != nil {
		return err
	}
	p.done.Add(3)
	go p.every(p.touchFlush(), p.flushTouches)
	go p.every(instanceBeat, func(ctx context.Context) {
		if err := p.beat(ctx); err != nil {
			p.report("heartbeat", err)
		}
	})
	go p.every(p.cfg.SweepInterval, func(ctx context.Context) {
		n, err := p.Sweep(ctx)
		if err != nil {
			p.report("sweep", err)
		} else if n > 0 {
			p.log.Info("Marked devices of dead instances disconnected", zap.Int("devices", n))
		}
	})
	return nil
}

// shutdown stops the loops and retires this instance. The hub has closed
// its sessions by now (it depends on presence, so it stops first), and
// their disconnect hooks marked their devices.
func (p *Presence) shutdown(ctx context.Context) error {
	close(p.stop)
	p.done.Wait()
	_, err := p.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.ZRem(ctx, p.keys.PresenceInstances(), p.instance)
		pipe.Del(ctx, p.keys.PresenceDevices(p.instance))
		return nil
	})
	if err != nil {
		return fmt.Errorf("device: presence: retire instance: %w", err)
	}
	return nil
}

// every runs fn every interval, each run bounded by the interval, until
// shutdown.
func (p *Presence) every(interval time.Duration, fn func(context.Context)) {
	defer p.done.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), interval)
			fn(ctx)
			cancel()
		}
	}
}

// beat records that this instance is alive.
func (p *Presence) beat(ctx context.Context) error {
	err := p.rdb.ZAdd(ctx, p.keys.PresenceInstances(), redis.Z{Score: float64(time.Now().UnixMilli()), Member: p.instance}).Err()
	if err != nil {
		p.failed(err)
		return fmt.Errorf("device: presence heartbeat: %w", err)
	}
	return nil
}

// Sweep marks disconnected the devices of dead instances, and the devices
// whose connection key expired. Every instance may run it at once: the
// releases and updates are conditional.
func (p *Presence) Sweep(ctx context.Context) (int, error) {
	dead, err := p.sweepDeadInstances(ctx)
	if err != nil {
		return dead, err
	}
	expired, err := p.sweepExpired(ctx)
	return dead + expired, err
}

// sweepDeadInstances releases the connection keys of instances whose
// heartbeat stopped, and marks their devices disconnected. A device that
// reconnected elsewhere meanwhile has a connection key naming its new
// session (so it is not released) or a row touched after the sweep began
// (so it is not updated).
func (p *Presence) sweepDeadInstances(ctx context.Context) (int, error) {
	started := time.Now()
	if failed := p.redisFailed.Load(); failed != 0 && started.Sub(time.Unix(0, failed)) < instanceTTL {
		// Right after an outage every heartbeat looks stale.
		return 0, nil
	}
	stale := strconv.FormatInt(started.Add(-instanceTTL).UnixMilli(), 10)
	instances, err := p.rdb.ZRangeByScore(ctx, p.keys.PresenceInstances(), &redis.ZRangeBy{Min: "-inf", Max: stale}).Result()
	if err != nil {
		return 0, fmt.Errorf("device: sweep instances: %w", err)
	}
	total := 0
	for _, inst := range instances {
		if inst == p.instance {
			continue // alive: this code is running
		}
		macs, err := p.rdb.SMembers(ctx, p.keys.PresenceDevices(inst)).Result()
		if err != nil {
			return total, fmt.Errorf("device: sweep instance %s: %w", inst, err)
		}
		released := make([]*redis.Cmd, len(macs))
		_, err = p.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for i, mac := range macs {
				released[i] = releaseInstance.Eval(ctx, pipe, []string{p.keys.DeviceConn(mac)}, inst+"/")
			}
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("device: sweep instance %s: %w", inst, err)
		}
		var gone []string
		for i, mac := range macs {
			if n, _ := released[i].Int(); n == 1 {
				gone = append(gone, mac)
			}
		}
		if len(gone) > 0 {
			n, err := p.markSwept(ctx, gone, started)
			if err != nil {
				return total, fmt.Errorf("device: sweep instance %s: %w", inst, err)
			}
			total += n
		}
		_, err = p.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
			pipe.Del(ctx, p.keys.PresenceDevices(inst))
			pipe.ZRem(ctx, p.keys.PresenceInstances(), inst)
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("device: retire instance %s: %w", inst, err)
		}
		p.log.Info("Retired a dead instance", zap.String("dead_instance", inst), zap.Int("devices", len(gone)))
	}
	return total, nil
}

// sweepExpired marks disconnected the devices whose connection key expired
// (their instance's record is gone too: Redis lost it). A device whose row
// was touched within the TTL (a fresh connect) is left alone.
func (p *Presence) sweepExpired(ctx context.Context) (int, error) {
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
	n, err := p.markSwept(ctx, gone, cutoff)
	if err != nil {
		return 0, fmt.Errorf("device: sweep: %w", err)
	}
	return n, nil
}

// markSwept marks disconnected the devices with these MACs that are still
// connected and were not seen since before, and tells the console which.
func (p *Presence) markSwept(ctx context.Context, macs []string, before time.Time) (int, error) {
	stale := []predicate.Device{device.MACAddressIn(macs...), device.StatusEQ(device.StatusConnected),
		device.Or(device.LastSeenIsNil(), device.LastSeenLT(before))}
	// The devices are read first only to name them in events; the update
	// repeats the conditions, so a device that reconnected in between is
	// neither marked nor (usually) announced.
	swept, err := p.db.Device.Query().Where(stale...).All(ctx)
	if err != nil {
		return 0, err
	}
	n, err := p.db.Device.Update().Where(stale...).SetStatus(device.StatusDisconnected).Save(ctx)
	if err != nil {
		return 0, err
	}
	for _, d := range swept {
		p.events.Publish(ctx, events.Event{Type: events.DeviceOffline, DeviceID: d.ID, MAC: d.MACAddress})
	}
	return n, nil
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
