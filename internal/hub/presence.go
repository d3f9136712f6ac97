package hub

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"paradise/ent"
	"paradise/ent/device"
	"paradise/gen/ws"
	"paradise/internal/redisdb"
)

// presence keeps device online state in Redis and the Device rows.
//
// Redis, per device:
//   - device:last_seen:{mac} = unix time of the last sign of life, with a
//     TTL (the Django system's key);
//   - device:conn:{mac} = id of the device's current connection, same TTL.
//
// Both are refreshed by the device's frames and by answered pings, so a
// live connection never expires. When an instance dies its devices' keys
// expire, and the sweeper (on any instance) marks them disconnected.
type presence struct {
	db   *ent.Client
	rdb  *redis.Client
	keys redisdb.Keys
	ttl  time.Duration
}

// dbTouchEvery bounds how often a connected device's last_seen column is
// written; the sweeper only needs it fresher than the TTL.
const dbTouchEvery = time.Minute

// claim refreshes the connection key only while it still names this
// connection (or names none), so a replaced connection cannot take it back.
var claim = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur == false or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`)

// release deletes the connection key if it still names this connection.
var release = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)

func (p *presence) connKey(mac string) string     { return p.keys.Key("device:conn:", mac) }
func (p *presence) lastSeenKey(mac string) string { return p.keys.Key("device:last_seen:", mac) }

// connect records that conn is the device's connection.
func (p *presence) connect(ctx context.Context, c *conn) error {
	now := time.Now()
	_, err := p.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.Set(ctx, p.connKey(c.mac), c.id, p.ttl)
		pipe.Set(ctx, p.lastSeenKey(c.mac), now.Unix(), p.ttl)
		return nil
	})
	if err != nil {
		return fmt.Errorf("hub: presence connect: %w", err)
	}
	c.dbTouched = now
	err = p.db.Device.Update().Where(device.MACAddress(c.mac)).
		SetStatus(device.StatusConnected).SetLastSeen(now).Exec(ctx)
	if err != nil {
		return fmt.Errorf("hub: presence connect: %w", err)
	}
	return nil
}

// touch refreshes the device's keys, and now and then its last_seen column.
// The caller holds c.presenceMu.
func (p *presence) touch(ctx context.Context, c *conn) error {
	now := time.Now()
	_, err := p.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		claim.Eval(ctx, pipe, []string{p.connKey(c.mac)}, c.id, p.ttl.Milliseconds())
		pipe.Set(ctx, p.lastSeenKey(c.mac), now.Unix(), p.ttl)
		return nil
	})
	if err != nil {
		return fmt.Errorf("hub: presence touch: %w", err)
	}
	if now.Sub(c.dbTouched) < dbTouchEvery {
		return nil
	}
	c.dbTouched = now
	err = p.db.Device.Update().Where(device.MACAddress(c.mac)).
		SetStatus(device.StatusConnected).SetLastSeen(now).Exec(ctx)
	if err != nil {
		return fmt.Errorf("hub: presence touch: %w", err)
	}
	return nil
}

// disconnect marks the device disconnected, unless a newer connection of
// it has taken over.
func (p *presence) disconnect(ctx context.Context, c *conn) error {
	n, err := release.Run(ctx, p.rdb, []string{p.connKey(c.mac)}, c.id).Int()
	if err != nil {
		return fmt.Errorf("hub: presence disconnect: %w", err)
	}
	if n == 0 {
		return nil
	}
	err = p.db.Device.Update().Where(device.MACAddress(c.mac)).
		SetStatus(device.StatusDisconnected).SetLastSeen(time.Now()).Exec(ctx)
	if err != nil {
		return fmt.Errorf("hub: presence disconnect: %w", err)
	}
	return nil
}

// deviceInfo stores what a device reported about itself. The caller holds
// c.presenceMu.
func (p *presence) deviceInfo(ctx context.Context, c *conn, info ws.DeviceInfoPayload) error {
	now := time.Now()
	upd := p.db.Device.Update().Where(device.MACAddress(c.mac)).
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
		return fmt.Errorf("hub: device_info of %s: %w", c.mac, err)
	}
	c.dbTouched = now
	return nil
}

// Online reports whether the device with this MAC has a live connection on
// any instance.
func (p *presence) online(ctx context.Context, mac string) (bool, error) {
	n, err := p.rdb.Exists(ctx, p.connKey(mac)).Result()
	if err != nil {
		return false, fmt.Errorf("hub: presence: %w", err)
	}
	return n == 1, nil
}

// sweep marks disconnected the devices whose connection key expired: their
// instance died without saying goodbye. Every instance may run it at once:
// the update is conditional, and a device whose row was touched within the
// TTL (a fresh connect) is left alone.
func (p *presence) sweep(ctx context.Context) (int, error) {
	cutoff := time.Now().Add(-p.ttl)
	stale, err := p.db.Device.Query().
		Where(device.StatusEQ(device.StatusConnected), device.Or(device.LastSeenIsNil(), device.LastSeenLT(cutoff))).
		Select(device.FieldMACAddress).Strings(ctx)
	if err != nil {
		return 0, fmt.Errorf("hub: sweep: %w", err)
	}
	if len(stale) == 0 {
		return 0, nil
	}
	exists := make([]*redis.IntCmd, len(stale))
	_, err = p.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i, mac := range stale {
			exists[i] = pipe.Exists(ctx, p.connKey(mac))
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("hub: sweep: %w", err)
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
		return 0, fmt.Errorf("hub: sweep: %w", err)
	}
	return n, nil
}
