// Package command owns persistent device commands: a command is stored
// (ent DeviceCommand), delivered to its device as a `command` frame at
// once when the device is online on any instance and otherwise on its
// next connect, re-sent on every reconnect until the device answers with
// `command_result`, and expired by a sweeper safe to run on every
// instance. The owner's sessions get a `command_status` frame at each
// change of state. Delivery is at least once; the command id is the
// device's de-duplication key.
package command

import (
	"context"
	"encoding/json"
	"fmt"

	"strconv"
	"time"

	"github.com/go-faster/jx"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"paradise/ent"
	"paradise/ent/devicecommand"
	"paradise/gen/ws"
	"paradise/internal/apperr"
	"paradise/internal/database"
	dev "paradise/internal/device"
	"paradise/internal/hub"
	"paradise/internal/metrics"
	"paradise/internal/paging"
	"paradise/internal/ratelimit"
)

// Status of a command.
type Status string

// Statuses of a command; queued and sent are pending.
const (
	Queued       Status = "queued"
	Sent         Status = "sent"
	Acknowledged Status = "acknowledged"
	Failed       Status = "failed"
	Expired      Status = "expired"
)

// Limits of a command.
const (
	DefaultTTL     = 24 * time.Hour
	MaxTTL         = 30 * 24 * time.Hour
	MaxParamsBytes = 8 << 10
)

// Command is a stored command.
type Command struct {
	ID             int
	DeviceID       int
	IssuerID       int
	Name           string
	Params         map[string]any
	Status         Status
	Attempts       int
	IdempotencyKey *string
	Result         map[string]any
	CreatedAt      time.Time
	ExpiresAt      time.Time
	SentAt         *time.Time
	CompletedAt    *time.Time
}

func fromEnt(c *ent.DeviceCommand) Command {
	return Command{ID: c.ID, DeviceID: c.DeviceID, IssuerID: c.IssuerID, Name: c.Name, Params: c.Params,
		Status: Status(c.Status), Attempts: c.Attempts, IdempotencyKey: c.IdempotencyKey, Result: c.Result,
		CreatedAt: c.CreatedAt, ExpiresAt: c.ExpiresAt, SentAt: c.SentAt, CompletedAt: c.CompletedAt}
}

// Sender sends server frames through the hub on every instance (the
// hub's Bus).
type Sender interface {
	SendToApps(ctx context.Context, userID int, f ws.Frame) error
	SendToAppsBatch(ctx context.Context, frames []hub.AppFrame) error
	SendToDevice(ctx context.Context, userID int, mac string, f ws.Frame) error
}

// Devices is what commands need of the device service.
type Devices interface {
	GetOwned(ctx context.Context, userID, deviceID int) (dev.Owned, error)
	ResolveOwner(ctx context.Context, mac string) (int, dev.Owned, error)
}

// Presence tells whether a device has a live session on any instance.
type Presence interface {
	Online(ctx context.Context, mac string) (bool, error)
}

// Service implements the command use cases.
type Service struct {
	db       *ent.Client
	sender   Sender
	devices  Devices
	presence Presence
	guard    *ratelimit.Guard
	m        *metrics.Metrics
	log      *zap.Logger
	now      func() time.Time
	sqlDB    *database.DB
	acks     *acker
}

// NewService returns the command service; its batcher of device answers
// runs while the app runs.
func NewService(lc fx.Lifecycle, sqlDB *database.DB, sender Sender, devices Devices, presence Presence, guard *ratelimit.Guard, m *metrics.Metrics, log *zap.Logger) *Service {
	s := &Service{db: sqlDB.Client, sqlDB: sqlDB, sender: sender, devices: devices, presence: presence, guard: guard, m: m,
		log: log.Named("command"), now: time.Now}
	s.acks = newAcker(s, sqlDB)
	s.acks.run(lc)
	return s
}

// CreateInput is a command to queue.
type CreateInput struct {
	Name           string
	Params         map[string]any
	TTL            time.Duration // 0: DefaultTTL
	IdempotencyKey string        // "": none
}

// Create queues a command for one of the issuer's devices and delivers it
// at once if the device is online. With an idempotency key already used
// for the device, it returns the command the key created and created
// false.
func (s *Service) Create(ctx context.Context, issuer, deviceID int, in CreateInput) (Command, bool, error) {
	owned, err := s.devices.GetOwned(ctx, issuer, deviceID)
	if err != nil {
		return Command{}, false, err
	}
	return s.queue(ctx, issuer, issuer, owned.Device, in)
}

// queue stores a command for device d, which owner holds, and delivers it
// at once if d is online. The owner's sessions get its status frames.
func (s *Service) queue(ctx context.Context, issuer, owner int, d dev.Device, in CreateInput) (Command, bool, error) {
	deviceID, mac := d.ID, d.MACAddress
	if in.IdempotencyKey != "" {
		if c, err := s.byKey(ctx, deviceID, in.IdempotencyKey); err == nil {
			return c, false, nil
		} else if !ent.IsNotFound(err) {
			return Command{}, false, err
		}
	}
	if err := s.guard.Push(ctx, issuer, mac); err != nil {
		return Command{}, false, err
	}
	ttl := in.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if ttl < time.Second || ttl > MaxTTL {
		return Command{}, false, apperr.Field("ttl_seconds", "Must be between 1 and 2592000.")
	}
	params := in.Params
	if params == nil {
		params = map[string]any{}
	}
	if b, err := json.Marshal(params); err != nil || len(b) > MaxParamsBytes {
		return Command{}, false, apperr.Field("params", fmt.Sprintf("Must be at most %d bytes of JSON.", MaxParamsBytes))
	}
	now := s.now()
	create := s.db.DeviceCommand.Create().SetDeviceID(deviceID).SetIssuerID(issuer).SetName(in.Name).
		SetParams(params).SetExpiresAt(now.Add(ttl)).SetCreatedAt(now)
	if in.IdempotencyKey != "" {
		create.SetIdempotencyKey(in.IdempotencyKey)
	}
	row, err := create.Save(ctx)
	if ent.IsConstraintError(err) && in.IdempotencyKey != "" {
		// A concurrent request with the same key won.
		c, err := s.byKey(ctx, deviceID, in.IdempotencyKey)
		return c, false, err
	}
	if err != nil {
		return Command{}, false, fmt.Errorf("command: create for device %d: %w", deviceID, err)
	}
	s.m.Commands.WithLabelValues(string(Queued)).Inc()
	c := fromEnt(row)
	s.status(ctx, d, owner, c)
	online, err := s.presence.Online(ctx, mac)
	if err != nil {
		// Still queued: it goes out on the device's next connect.
		s.log.Warn("Presence unknown; command stays queued", zap.Int("command_id", c.ID), zap.Error(err))
		return c, true, nil
	}
	if online {
		sent, err := s.deliver(ctx, owner, d, []Command{c}, func(f ws.Frame) error {
			return s.sender.SendToDevice(ctx, owner, mac, f)
		})
		if err != nil {
			s.log.Warn("Command delivery failed; it stays pending", zap.Int("command_id", c.ID), zap.Error(err))
		} else if len(sent) == 1 {
			c = sent[0]
		}
	}
	return c, true, nil
}

func (s *Service) byKey(ctx context.Context, deviceID int, key string) (Command, error) {
	row, err := s.db.DeviceCommand.Query().
		Where(devicecommand.DeviceID(deviceID), devicecommand.IdempotencyKey(key)).Only(ctx)
	if err != nil {
		return Command{}, err
	}
	return fromEnt(row), nil
}

// Get returns one command of one of the user's devices.
func (s *Service) Get(ctx context.Context, userID, deviceID, commandID int) (Command, error) {
	if _, err := s.devices.GetOwned(ctx, userID, deviceID); err != nil {
		return Command{}, err
	}
	return s.get(ctx, deviceID, commandID)
}

// get returns one command of a device.
func (s *Service) get(ctx context.Context, deviceID, commandID int) (Command, error) {
	row, err := s.db.DeviceCommand.Query().
		Where(devicecommand.ID(commandID), devicecommand.DeviceID(deviceID)).Only(ctx)
	if ent.IsNotFound(err) {
		return Command{}, apperr.NotFound("Command not found.")
	}
	if err != nil {
		return Command{}, fmt.Errorf("command: get %d: %w", commandID, err)
	}
	return fromEnt(row), nil
}

// List returns a page of one of the user's device's commands, newest
// first, of one status unless status is empty.
func (s *Service) List(ctx context.Context, userID, deviceID int, status Status, page paging.Page) ([]Command, int, error) {
	if _, err := s.devices.GetOwned(ctx, userID, deviceID); err != nil {
		return nil, 0, err
	}
	return s.list(ctx, deviceID, status, page)
}

// list returns a page of a device's commands, newest first.
func (s *Service) list(ctx context.Context, deviceID int, status Status, page paging.Page) ([]Command, int, error) {
	q := s.db.DeviceCommand.Query().Where(devicecommand.DeviceID(deviceID))
	if status != "" {
		q = q.Where(devicecommand.StatusEQ(devicecommand.Status(status)))
	}
	count, err := q.Clone().Count(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("command: count for device %d: %w", deviceID, err)
	}
	if err := page.Check(count); err != nil {
		return nil, 0, err
	}
	rows, err := q.Order(ent.Desc(devicecommand.FieldID)).Offset(page.Offset()).Limit(page.Size).All(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("command: list for device %d: %w", deviceID, err)
	}
	out := make([]Command, len(rows))
	for i, r := range rows {
		out[i] = fromEnt(r)
	}
	return out, count, nil
}

// deliver sends the commands, in order, with send, then records the
// attempt (status sent, attempts + 1) of those still pending and tells
// the owner's sessions. It returns the commands as recorded.
func (s *Service) deliver(ctx context.Context, owner int, d dev.Device, cmds []Command, send func(ws.Frame) error) ([]Command, error) {
	if len(cmds) == 0 {
		return nil, nil
	}
	ids := make([]int, 0, len(cmds))
	for _, c := range cmds {
		if err := send(commandFrame(c)); err != nil {
			return nil, err
		}
		ids = append(ids, c.ID)
	}
	now := s.now()
	n, err := s.db.DeviceCommand.Update().
		Where(devicecommand.IDIn(ids...), devicecommand.StatusIn(devicecommand.StatusQueued, devicecommand.StatusSent)).
		SetStatus(devicecommand.StatusSent).AddAttempts(1).SetSentAt(now).
		Save(ctx)
	if err != nil {
		return nil, fmt.Errorf("command: record delivery to %s: %w", d.MACAddress, err)
	}
	s.m.Commands.WithLabelValues(string(Sent)).Add(float64(n))
	out := make([]Command, 0, len(cmds))
	for _, c := range cmds {
		if c.Status == Queued || c.Status == Sent {
			c.Status, c.Attempts, c.SentAt = Sent, c.Attempts+1, &now
			s.status(ctx, d, owner, c)
		}
		out = append(out, c)
	}
	return out, nil
}

// commandFrame is the command as its device receives it.
func commandFrame(c Command) ws.Frame {
	p := ws.CommandPayload{CommandID: strconv.Itoa(c.ID), Name: c.Name}
	if len(c.Params) > 0 {
		p.Params = ws.NewOptCommandPayloadParams(ws.CommandPayloadParams(rawMap(c.Params)))
	}
	return ws.NewCommandFrame(ws.Command{Message: p})
}

// status tells the owner's app sessions the command's state. A lost status
// frame is only logged: the command's state is in the database.
func (s *Service) status(ctx context.Context, d dev.Device, owner int, c Command) {
	if err := s.sender.SendToApps(ctx, owner, commandStatusFrame(d, c)); err != nil {
		s.log.Warn("Command status frame not sent", zap.Int("command_id", c.ID), zap.Error(err))
	}
}

// statusFrame is one command_status frame to send.
type statusFrame struct {
	owner  int
	device dev.Device
	c      Command
}

// statuses sends many status frames in one Redis round trip; lost frames
// are only logged, as with status.
func (s *Service) statuses(ctx context.Context, frames []statusFrame) {
	if len(frames) == 0 {
		return
	}
	out := make([]hub.AppFrame, len(frames))
	for i, f := range frames {
		out[i] = hub.AppFrame{UserID: f.owner, Frame: commandStatusFrame(f.device, f.c)}
	}
	if err := s.sender.SendToAppsBatch(ctx, out); err != nil {
		s.log.Warn("Command status frames not sent", zap.Int("frames", len(frames)), zap.Error(err))
	}
}

func commandStatusFrame(d dev.Device, c Command) ws.Frame {
	p := ws.CommandStatusPayload{CommandID: strconv.Itoa(c.ID), DeviceID: d.ID, MACAddress: d.MACAddress,
		Name: c.Name, Status: ws.CommandStatusValue(c.Status), Attempts: c.Attempts}
	if c.Result != nil {
		p.Result = ws.NewOptCommandStatusPayloadResult(ws.CommandStatusPayloadResult(rawMap(c.Result)))
	}
	return ws.NewCommandStatusFrame(ws.CommandStatus{Message: p})
}

// rawMap encodes each value of m as JSON (values came from JSON, so they
// encode).
func rawMap(m map[string]any) map[string]jx.Raw {
	out := make(map[string]jx.Raw, len(m))
	for k, v := range m {
		b, err := json.Marshal(v)
		if err != nil {
			continue
		}
		out[k] = jx.Raw(b)
	}
	return out
}

// decodeMap decodes each raw value of m.
func decodeMap(m map[string]jx.Raw) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		var x any
		if err := json.Unmarshal(v, &x); err == nil {
			out[k] = x
		}
	}
	return out
}

// deviceOf is the device of an ent row, as far as status frames need it.
func deviceOf(d *ent.Device) dev.Device {
	return dev.Device{ID: d.ID, MACAddress: d.MACAddress}
}
