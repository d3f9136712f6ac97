// Package device owns device state: device types, devices, their bindings
// to users (last bind wins), presence (the hub's device sessions), and
// server pushes to devices. It plugs into the hub through frame handlers
// and session hooks, and into the REST API through its Handler.
package device

import (
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/coder/websocket"

	"paradise/ent"
	"paradise/ent/device"
	"paradise/ent/devicetype"
	"paradise/ent/userdevice"
	"paradise/gen/ws"
	"paradise/internal/apperr"
	"paradise/internal/database"
	"paradise/internal/events"
	"paradise/internal/hub"
	"paradise/internal/paging"
)

// Sessions closes hub sessions on every instance (the hub's Bus).
type Sessions interface {
	CloseSessions(ctx context.Context, sel hub.Selector, code websocket.StatusCode, reason string) error
}

// Tokens revokes device-session tokens (the auth token store).
type Tokens interface {
	RevokeDevice(ctx context.Context, mac string) ([]string, error)
}

// Service implements the device use cases over ent.
type Service struct {
	db *ent.Client
	// sql, resolveOwnerSQL and connectSQL serve the hand-written hot-path
	// queries.
	sql             *stdsql.DB
	resolveOwnerSQL string
	connectSQL      string
	// lockRows: binds lock the device row (Postgres; SQLite serialises
	// writers instead).
	lockRows bool
	sessions Sessions
	tokens   Tokens
	// events tells the admin console about bindings made and ended.
	events *events.Bus
}

// NewService returns the device service.
func NewService(db *database.DB, sessions Sessions, tokens Tokens, ev *events.Bus) *Service {
	return &Service{db: db.Client, sql: db.SQL, resolveOwnerSQL: db.Rebind(resolveOwnerQuery),
		connectSQL: db.Rebind(connectQuery),
		lockRows:   db.RowLocks(), sessions: sessions, tokens: tokens, events: ev}
}

// ListOwned returns a page of the user's devices, newest binding first, and
// their total count; a non-empty onlyMAC keeps only that device.
func (s *Service) ListOwned(ctx context.Context, userID int, onlyMAC string, page paging.Page) ([]Owned, int, error) {
	q := s.db.UserDevice.Query().Where(userdevice.UserID(userID), userdevice.UnboundAtIsNil())
	if onlyMAC != "" {
		q = q.Where(userdevice.HasDeviceWith(device.MACAddress(onlyMAC)))
	}
	count, err := q.Clone().Count(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("device: count devices of user %d: %w", userID, err)
	}
	if err := page.Check(count); err != nil {
		return nil, 0, err
	}
	bindings, err := q.
		WithDevice(func(q *ent.DeviceQuery) { q.WithDeviceType() }).
		Order(ent.Desc(userdevice.FieldBoundAt), ent.Desc(userdevice.FieldID)).
		Offset(page.Offset()).Limit(page.Size).
		All(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("device: list devices of user %d: %w", userID, err)
	}
	out := make([]Owned, len(bindings))
	for i, b := range bindings {
		out[i] = Owned{Device: fromEnt(b.Edges.Device), BoundAt: b.BoundAt}
	}
	return out, count, nil
}

// GetOwned returns one of the user's devices. Devices of other users are
// reported as not found.
func (s *Service) GetOwned(ctx context.Context, userID, deviceID int) (Owned, error) {
	b, err := s.db.UserDevice.Query().
		Where(userdevice.UserID(userID), userdevice.DeviceID(deviceID), userdevice.UnboundAtIsNil()).
		WithDevice(func(q *ent.DeviceQuery) { q.WithDeviceType() }).
		Only(ctx)
	if ent.IsNotFound(err) {
		return Owned{}, apperr.NotFound("Device not found.")
	}
	if err != nil {
		return Owned{}, fmt.Errorf("device: get device %d of user %d: %w", deviceID, userID, err)
	}
	return Owned{Device: fromEnt(b.Edges.Device), BoundAt: b.BoundAt}, nil
}

// ResolveOwner returns the user holding the latest active binding of the
// device with this MAC address, and the device. An unknown or unbound
// device is apperr.DeviceNotBound.
//
// It runs on every MAC login, so it is one hand-written query (the binding
// joined with its device and the device's type) scanned without
// reflection; ent's builder and scanner cost more than the query itself.
func (s *Service) ResolveOwner(ctx context.Context, rawMAC string) (int, Owned, error) {
	mac, err := macField(rawMAC)
	if err != nil {
		return 0, Owned{}, err
	}
	var r ownerRow
	err = s.sql.QueryRowContext(ctx, s.resolveOwnerSQL, mac).Scan(
		&r.UserID, &r.BoundAt, &r.ID, &r.MACAddress, &r.Name, &r.Status, &r.BatteryLevel,
		&r.FirmwareVersion, &r.WifiName, &r.LastSeen, &r.CreatedAt, &r.MACLogin, &r.HasSecret,
		&r.TypeID, &r.TypeName, &r.TypeDescription, &r.TypeCreatedAt)
	if errors.Is(err, stdsql.ErrNoRows) {
		return 0, Owned{}, apperr.DeviceNotBound()
	}
	if err != nil {
		return 0, Owned{}, fmt.Errorf("device: resolve owner of %s: %w", mac, err)
	}
	return r.UserID, r.owned(), nil
}

// MarkConnected marks the device with this MAC address connected (last
// seen at) if userID holds its latest active binding, and returns the
// device's id; ok is false, and nothing is written, if the device is
// unknown, unbound or bound to someone else. A device session's connect
// runs it: the owner check and the presence write in one statement,
// where ResolveOwner and an UPDATE took two round trips and two commits.
func (s *Service) MarkConnected(ctx context.Context, mac string, userID int, at time.Time) (deviceID int, ok bool, err error) {
	err = s.sql.QueryRowContext(ctx, s.connectSQL, at, mac, userID).Scan(&deviceID)
	if errors.Is(err, stdsql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("device: mark %s connected: %w", mac, err)
	}
	return deviceID, true, nil
}

// connectQuery is MarkConnected's statement: $1 the time, $2 the MAC,
// $3 the user. The owner is the user of the latest active binding, as in
// resolveOwnerQuery.
const connectQuery = `UPDATE devices SET status = 'connected', last_seen = $1
WHERE mac_address = $2 AND (
	SELECT ud.user_id FROM user_devices ud
	WHERE ud.device_id = devices.id AND ud.unbound_at IS NULL
	ORDER BY ud.bound_at DESC, ud.id DESC
	LIMIT 1) = $3
RETURNING id`

// resolveOwnerQuery is ResolveOwner's query; $1 is the MAC address. The
// column names are ent's (ent/schema), checked by the integration tests on
// both dialects.
const resolveOwnerQuery = `SELECT ud.user_id, ud.bound_at, d.id, d.mac_address, d.name, d.status,
	d.battery_level, d.firmware_version, d.wifi_name, d.last_seen, d.created_at,
	d.mac_login, d.secret IS NOT NULL,
	t.id, t.name, t.description, t.created_at
FROM user_devices ud
JOIN devices d ON d.id = ud.device_id
LEFT JOIN device_types t ON t.id = d.device_type_id
WHERE d.mac_address = $1 AND ud.unbound_at IS NULL
ORDER BY ud.bound_at DESC, ud.id DESC
LIMIT 1`

// ownerRow is one row of ResolveOwner's join.
type ownerRow struct {
	UserID          int               `sql:"user_id"`
	BoundAt         time.Time         `sql:"bound_at"`
	ID              int               `sql:"id"`
	MACAddress      string            `sql:"mac_address"`
	Name            string            `sql:"name"`
	Status          string            `sql:"status"`
	BatteryLevel    stdsql.NullInt64  `sql:"battery_level"`
	FirmwareVersion string            `sql:"firmware_version"`
	WifiName        string            `sql:"wifi_name"`
	LastSeen        stdsql.NullTime   `sql:"last_seen"`
	CreatedAt       time.Time         `sql:"created_at"`
	MACLogin        string            `sql:"mac_login"`
	HasSecret       bool              `sql:"has_secret"`
	TypeID          stdsql.NullInt64  `sql:"type_id"`
	TypeName        stdsql.NullString `sql:"type_name"`
	TypeDescription stdsql.NullString `sql:"type_description"`
	TypeCreatedAt   stdsql.NullTime   `sql:"type_created_at"`
}

func (r ownerRow) owned() Owned {
	d := Device{
		ID:              r.ID,
		MACAddress:      r.MACAddress,
		Name:            r.Name,
		Connected:       r.Status == string(device.StatusConnected),
		FirmwareVersion: r.FirmwareVersion,
		WifiName:        r.WifiName,
		CreatedAt:       r.CreatedAt,
		MACLogin:        r.MACLogin,
		HasSecret:       r.HasSecret,
	}
	if r.BatteryLevel.Valid {
		v := int(r.BatteryLevel.Int64)
		d.BatteryLevel = &v
	}
	if r.LastSeen.Valid {
		d.LastSeen = &r.LastSeen.Time
	}
	if r.TypeID.Valid {
		d.Type = &Type{ID: int(r.TypeID.Int64), Name: r.TypeName.String,
			Description: r.TypeDescription.String, CreatedAt: r.TypeCreatedAt.Time}
	}
	return Owned{Device: d, BoundAt: r.BoundAt}
}

// BindInput is a bind request; nil fields keep the device's value.
type BindInput struct {
	MAC    string
	Name   *string
	TypeID *int
}

// Bind binds the device with the MAC address to the user, creating the
// device if it is new. A binding held by another user ends: last bind wins,
// and the device's sessions and tokens of its previous owner end with it
// (see released). Binding a device the user already holds only applies
// Name and TypeID.
func (s *Service) Bind(ctx context.Context, userID int, in BindInput) (Owned, error) {
	mac, err := macField(in.MAC)
	if err != nil {
		return Owned{}, err
	}
	if in.TypeID != nil {
		exists, err := s.db.DeviceType.Query().Where(devicetype.ID(*in.TypeID)).Exist(ctx)
		if err != nil {
			return Owned{}, fmt.Errorf("device: bind: %w", err)
		}
		if !exists {
			return Owned{}, apperr.Field("device_type_id", fmt.Sprintf(`Invalid pk "%d" - object does not exist.`, *in.TypeID))
		}
	}
	// Create the device outside the transaction: on Postgres a failed
	// INSERT would abort the transaction, and losing the race to create
	// it is fine (the winner's row is used).
	if err := s.db.Device.Create().SetMACAddress(mac).Exec(ctx); err != nil && !ent.IsConstraintError(err) {
		return Owned{}, fmt.Errorf("device: create %s: %w", mac, err)
	}
	var (
		id        int
		takenOver bool
		ended     []int // users whose binding this bind ended
		created   bool
	)
	err = database.WithTx(ctx, s.db, func(tx *ent.Tx) error {
		q := tx.Device.Query().Where(device.MACAddress(mac))
		if s.lockRows {
			// Serialise binds of the same device.
			q = q.ForUpdate()
		}
		d, err := q.Only(ctx)
		if err != nil {
			return fmt.Errorf("device: load %s: %w", mac, err)
		}
		id = d.ID
		active, err := tx.UserDevice.Query().Where(userdevice.DeviceID(d.ID), userdevice.UnboundAtIsNil()).All(ctx)
		if err != nil {
			return err
		}
		held := false
		for _, b := range active {
			if b.UserID == userID {
				held = true
				continue
			}
			if err := tx.UserDevice.UpdateOne(b).SetUnboundAt(time.Now()).Exec(ctx); err != nil {
				return fmt.Errorf("device: end binding %d: %w", b.ID, err)
			}
			takenOver = true
			ended = append(ended, b.UserID)
		}
		if !held {
			if err := tx.UserDevice.Create().SetUserID(userID).SetDeviceID(d.ID).Exec(ctx); err != nil {
				return fmt.Errorf("device: bind %s to user %d: %w", mac, userID, err)
			}
			created = true
		}
		if in.Name != nil || in.TypeID != nil {
			upd := tx.Device.UpdateOne(d)
			if in.Name != nil {
				upd.SetName(*in.Name)
			}
			if in.TypeID != nil {
				upd.SetDeviceTypeID(*in.TypeID)
			}
			if err := upd.Exec(ctx); err != nil {
				return fmt.Errorf("device: update %s: %w", mac, err)
			}
		}
		return nil
	})
	if err != nil {
		return Owned{}, err
	}
	for _, prev := range ended {
		s.events.Publish(ctx, events.Event{Type: events.BindingEnded, DeviceID: id, MAC: mac, UserID: prev})
	}
	if created {
		s.events.Publish(ctx, events.Event{Type: events.BindingCreated, DeviceID: id, MAC: mac, UserID: userID})
	}
	if takenOver {
		if err := s.released(ctx, mac, userID); err != nil {
			return Owned{}, err
		}
	}
	return s.GetOwned(ctx, userID, id)
}

// released ends what a device's previous owner held once the device
// changed hands (newOwner 0: unbound): its device-session tokens stop
// working on REST, and its hub sessions in any other group close with 4003
// on every instance, so the previous owner stops receiving its frames.
func (s *Service) released(ctx context.Context, mac string, newOwner int) error {
	if _, err := s.tokens.RevokeDevice(ctx, mac); err != nil {
		return fmt.Errorf("device: release %s: %w", mac, err)
	}
	sel := hub.Selector{MAC: mac, ExceptUserID: newOwner}
	if err := s.sessions.CloseSessions(ctx, sel, ws.CloseRebound, "device bound to another owner; log in again"); err != nil {
		return fmt.Errorf("device: release %s: %w", mac, err)
	}
	return nil
}

// Unbind ends the user's binding of the device with the MAC address and
// returns the normalised MAC.
func (s *Service) Unbind(ctx context.Context, userID int, rawMAC string) (string, error) {
	mac, err := macField(rawMAC)
	if err != nil {
		return "", err
	}
	n, err := s.db.UserDevice.Update().
		Where(userdevice.UserID(userID), userdevice.UnboundAtIsNil(), userdevice.HasDeviceWith(device.MACAddress(mac))).
		SetUnboundAt(time.Now()).
		Save(ctx)
	if err != nil {
		return "", fmt.Errorf("device: unbind %s from user %d: %w", mac, userID, err)
	}
	if n == 0 {
		return "", apperr.NotFound("Device is not bound to you.")
	}
	s.events.Publish(ctx, events.Event{Type: events.BindingEnded, MAC: mac, UserID: userID})
	if err := s.released(ctx, mac, 0); err != nil {
		return "", err
	}
	return mac, nil
}

func macField(raw string) (string, error) {
	mac, err := NormalizeMAC(raw)
	if err != nil {
		return "", apperr.Field("mac_address", err.Error())
	}
	return mac, nil
}

// Owner returns the device with this id and the user holding its active
// binding, for staff. A device bound to nobody is a 409: it has no owner to
// act for.
func (s *Service) Owner(ctx context.Context, deviceID int) (int, Owned, error) {
	b, err := s.db.UserDevice.Query().
		Where(userdevice.DeviceID(deviceID), userdevice.UnboundAtIsNil()).
		WithDevice().
		Only(ctx)
	if ent.IsNotFound(err) {
		exists, err := s.db.Device.Query().Where(device.ID(deviceID)).Exist(ctx)
		if err != nil {
			return 0, Owned{}, fmt.Errorf("device: owner of %d: %w", deviceID, err)
		}
		if !exists {
			return 0, Owned{}, apperr.NotFound("Device not found.")
		}
		return 0, Owned{}, apperr.Conflict("Device is not bound to any user.")
	}
	if err != nil {
		return 0, Owned{}, fmt.Errorf("device: owner of %d: %w", deviceID, err)
	}
	return b.UserID, Owned{Device: fromEnt(b.Edges.Device), BoundAt: b.BoundAt}, nil
}
