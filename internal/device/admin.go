package device

import (
	"context"
	"fmt"
	"strings"
	"time"

	"entgo.io/ent/dialect/sql"

	"paradise/ent"
	"paradise/ent/device"
	"paradise/ent/devicecommand"
	"paradise/ent/devicetype"
	"paradise/ent/predicate"
	"paradise/ent/user"
	"paradise/ent/userdevice"
	"paradise/gen/ws"
	"paradise/internal/apperr"
	"paradise/internal/database"
	"paradise/internal/events"
	"paradise/internal/hub"
	"paradise/internal/paging"
)

// This file holds the staff's use cases on devices and bindings (the
// admin API).

// UserRef names a user.
type UserRef struct {
	ID       int
	Username string
}

// Managed is a device as staff see it: the device and its current owner.
type Managed struct {
	Device  Device
	Owner   *UserRef   // nil when unbound
	BoundAt *time.Time // nil when unbound
}

// Binding is one binding, active while UnboundAt is nil.
type Binding struct {
	ID        int
	User      UserRef
	DeviceID  int
	MAC       string
	BoundAt   time.Time
	UnboundAt *time.Time
}

// Filter selects devices for staff; zero fields do not filter.
type Filter struct {
	// Search is a case-insensitive substring of the MAC address or name.
	Search          string
	Status          string // connected, disconnected
	TypeID          int
	OwnerID         int
	Bound           *bool
	FirmwareVersion *string
	SeenFrom        time.Time
	SeenTo          time.Time
	// Ordering is openapi.yaml's DeviceOrdering; empty is "id".
	Ordering string
}

var deviceOrderings = map[string]string{
	"id": device.FieldID, "mac_address": device.FieldMACAddress, "name": device.FieldName,
	"last_seen": device.FieldLastSeen, "created_at": device.FieldCreatedAt,
}

func (f Filter) predicates() []predicate.Device {
	var ps []predicate.Device
	if s := strings.TrimSpace(f.Search); s != "" {
		// MACs are stored upper-case with colons; a search for a part of
		// one written otherwise still finds it.
		ps = append(ps, device.Or(device.NameContainsFold(s), device.MACAddressContains(strings.ToUpper(s))))
	}
	if f.Status != "" {
		ps = append(ps, device.StatusEQ(device.Status(f.Status)))
	}
	if f.TypeID != 0 {
		ps = append(ps, device.DeviceTypeID(f.TypeID))
	}
	if f.OwnerID != 0 {
		ps = append(ps, device.HasBindingsWith(userdevice.UserID(f.OwnerID), userdevice.UnboundAtIsNil()))
	}
	if f.Bound != nil {
		active := device.HasBindingsWith(userdevice.UnboundAtIsNil())
		if *f.Bound {
			ps = append(ps, active)
		} else {
			ps = append(ps, device.Not(active))
		}
	}
	if f.FirmwareVersion != nil {
		ps = append(ps, device.FirmwareVersion(*f.FirmwareVersion))
	}
	if !f.SeenFrom.IsZero() {
		ps = append(ps, device.LastSeenGTE(f.SeenFrom.In(time.Local)))
	}
	if !f.SeenTo.IsZero() {
		ps = append(ps, device.LastSeenLTE(f.SeenTo.In(time.Local)))
	}
	return ps
}

// deviceOrder is the ORDER BY of an ordering, id breaking ties; NULL
// last_seen sorts last ascending, first descending.
func deviceOrder(ordering string) ([]device.OrderOption, error) {
	if ordering == "" {
		ordering = "id"
	}
	desc := strings.HasPrefix(ordering, "-")
	col, ok := deviceOrderings[strings.TrimPrefix(ordering, "-")]
	if !ok {
		return nil, apperr.Field("ordering", fmt.Sprintf("%q is not a valid choice.", ordering))
	}
	by := func(c string) device.OrderOption {
		if desc {
			return sql.OrderByField(c, sql.OrderDesc(), sql.OrderNullsFirst()).ToFunc()
		}
		return sql.OrderByField(c, sql.OrderNullsLast()).ToFunc()
	}
	return []device.OrderOption{by(col), by(device.FieldID)}, nil
}

// withOwner loads a device's type and active binding with its user.
func withOwner(q *ent.DeviceQuery) *ent.DeviceQuery {
	return q.WithDeviceType().WithBindings(func(b *ent.UserDeviceQuery) {
		b.Where(userdevice.UnboundAtIsNil()).WithUser(func(u *ent.UserQuery) { u.Select(user.FieldID, user.FieldUsername) })
	})
}

func managedFromEnt(d *ent.Device) Managed {
	m := Managed{Device: fromEnt(d)}
	for _, b := range d.Edges.Bindings {
		if b.UnboundAt == nil && b.Edges.User != nil {
			at := b.BoundAt
			m.Owner, m.BoundAt = &UserRef{ID: b.Edges.User.ID, Username: b.Edges.User.Username}, &at
		}
	}
	return m
}

// List returns a page of devices matching the filter, and their count.
func (s *Service) List(ctx context.Context, f Filter, page paging.Page) ([]Managed, int, error) {
	order, err := deviceOrder(f.Ordering)
	if err != nil {
		return nil, 0, err
	}
	q := s.db.Device.Query().Where(f.predicates()...)
	count, err := q.Clone().Count(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("device: count devices: %w", err)
	}
	if err := page.Check(count); err != nil {
		return nil, 0, err
	}
	ds, err := withOwner(q).Order(order...).Offset(page.Offset()).Limit(page.Size).All(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("device: list devices: %w", err)
	}
	out := make([]Managed, len(ds))
	for i, d := range ds {
		out[i] = managedFromEnt(d)
	}
	return out, count, nil
}

// Manage returns one device with its owner.
func (s *Service) Manage(ctx context.Context, id int) (Managed, error) {
	d, err := withOwner(s.db.Device.Query().Where(device.ID(id))).Only(ctx)
	if ent.IsNotFound(err) {
		return Managed{}, apperr.NotFound("Device not found.")
	}
	if err != nil {
		return Managed{}, fmt.Errorf("device: get %d: %w", id, err)
	}
	return managedFromEnt(d), nil
}

// BindingFilter selects bindings; zero fields do not filter.
type BindingFilter struct {
	DeviceID int
	UserID   int
	Active   *bool
}

// Bindings returns a page of bindings, newest first, and their count.
func (s *Service) Bindings(ctx context.Context, f BindingFilter, page paging.Page) ([]Binding, int, error) {
	q := s.db.UserDevice.Query()
	if f.DeviceID != 0 {
		q = q.Where(userdevice.DeviceID(f.DeviceID))
	}
	if f.UserID != 0 {
		q = q.Where(userdevice.UserID(f.UserID))
	}
	if f.Active != nil {
		if *f.Active {
			q = q.Where(userdevice.UnboundAtIsNil())
		} else {
			q = q.Where(userdevice.UnboundAtNotNil())
		}
	}
	count, err := q.Clone().Count(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("device: count bindings: %w", err)
	}
	if err := page.Check(count); err != nil {
		return nil, 0, err
	}
	bs, err := q.WithUser(func(u *ent.UserQuery) { u.Select(user.FieldID, user.FieldUsername) }).
		WithDevice(func(d *ent.DeviceQuery) { d.Select(device.FieldID, device.FieldMACAddress) }).
		Order(ent.Desc(userdevice.FieldBoundAt), ent.Desc(userdevice.FieldID)).
		Offset(page.Offset()).Limit(page.Size).All(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("device: list bindings: %w", err)
	}
	out := make([]Binding, len(bs))
	for i, b := range bs {
		out[i] = Binding{ID: b.ID, User: UserRef{ID: b.Edges.User.ID, Username: b.Edges.User.Username},
			DeviceID: b.DeviceID, MAC: b.Edges.Device.MACAddress, BoundAt: b.BoundAt, UnboundAt: b.UnboundAt}
	}
	return out, count, nil
}

// ManageUpdate is what staff change on a device; nil keeps a field.
type ManageUpdate struct {
	Name *string
	// TypeID sets the type; ClearType removes it.
	TypeID    *int
	ClearType bool
}

// Update changes a device's name and type and returns it before and after.
func (s *Service) Update(ctx context.Context, id int, in ManageUpdate) (before, after Managed, err error) {
	before, err = s.Manage(ctx, id)
	if err != nil {
		return Managed{}, Managed{}, err
	}
	if in.TypeID != nil {
		exists, err := s.db.DeviceType.Query().Where(devicetype.ID(*in.TypeID)).Exist(ctx)
		if err != nil {
			return Managed{}, Managed{}, fmt.Errorf("device: update %d: %w", id, err)
		}
		if !exists {
			return Managed{}, Managed{}, apperr.Field("device_type_id", fmt.Sprintf(`Invalid pk "%d" - object does not exist.`, *in.TypeID))
		}
	}
	upd := s.db.Device.UpdateOneID(id)
	if in.Name != nil {
		upd.SetName(strings.TrimSpace(*in.Name))
	}
	switch {
	case in.ClearType:
		upd.ClearDeviceTypeID()
	case in.TypeID != nil:
		upd.SetDeviceTypeID(*in.TypeID)
	}
	if err := upd.Exec(ctx); err != nil {
		if ent.IsNotFound(err) {
			return Managed{}, Managed{}, apperr.NotFound("Device not found.")
		}
		return Managed{}, Managed{}, fmt.Errorf("device: update %d: %w", id, err)
	}
	after, err = s.Manage(ctx, id)
	return before, after, err
}

// ForceUnbind ends the device's active binding, whoever holds it, and
// returns the device before and after. Its tokens are revoked and its hub
// sessions closed as on the owner's own unbind.
func (s *Service) ForceUnbind(ctx context.Context, id int) (before, after Managed, err error) {
	before, err = s.Manage(ctx, id)
	if err != nil {
		return Managed{}, Managed{}, err
	}
	if before.Owner == nil {
		return Managed{}, Managed{}, apperr.Conflict("Device is not bound to any user.")
	}
	n, err := s.db.UserDevice.Update().Where(userdevice.DeviceID(id), userdevice.UnboundAtIsNil()).
		SetUnboundAt(time.Now()).Save(ctx)
	if err != nil {
		return Managed{}, Managed{}, fmt.Errorf("device: unbind %d: %w", id, err)
	}
	if n == 0 {
		// Unbound by someone else meanwhile.
		return Managed{}, Managed{}, apperr.Conflict("Device is not bound to any user.")
	}
	mac := before.Device.MACAddress
	s.events.Publish(ctx, events.Event{Type: events.BindingEnded, DeviceID: id, MAC: mac, UserID: before.Owner.ID})
	if err := s.released(ctx, mac, 0); err != nil {
		return Managed{}, Managed{}, err
	}
	after, err = s.Manage(ctx, id)
	return before, after, err
}

// Disconnect closes the device's hub sessions on every instance with 1001
// (going away): the device reconnects with its token.
func (s *Service) Disconnect(ctx context.Context, id int) (Managed, error) {
	m, err := s.Manage(ctx, id)
	if err != nil {
		return Managed{}, err
	}
	err = s.sessions.CloseSessions(ctx, hub.Selector{MAC: m.Device.MACAddress}, ws.CloseGoingAway, "disconnected by an operator; reconnect")
	if err != nil {
		return Managed{}, fmt.Errorf("device: disconnect %d: %w", id, err)
	}
	return m, nil
}

// Delete deletes the device with its binding history and its commands;
// its tokens are revoked and its hub sessions closed. Conversations started from it stay
// (their device is cleared by the foreign key).
func (s *Service) Delete(ctx context.Context, id int) (Managed, error) {
	m, err := s.Manage(ctx, id)
	if err != nil {
		return Managed{}, err
	}
	err = database.WithTx(ctx, s.db, func(tx *ent.Tx) error {
		if _, err := tx.UserDevice.Delete().Where(userdevice.DeviceID(id)).Exec(ctx); err != nil {
			return err
		}
		if _, err := tx.DeviceCommand.Delete().Where(devicecommand.DeviceID(id)).Exec(ctx); err != nil {
			return err
		}
		return tx.Device.DeleteOneID(id).Exec(ctx)
	})
	if ent.IsNotFound(err) {
		return Managed{}, apperr.NotFound("Device not found.")
	}
	if err != nil {
		return Managed{}, fmt.Errorf("device: delete %d: %w", id, err)
	}
	if m.Owner != nil {
		s.events.Publish(ctx, events.Event{Type: events.BindingEnded, DeviceID: id, MAC: m.Device.MACAddress, UserID: m.Owner.ID})
	}
	return m, s.released(ctx, m.Device.MACAddress, 0)
}

// BindingsEnded tells the console that these devices' bindings to the
// user ended (the user was deleted).
func (s *Service) BindingsEnded(ctx context.Context, userID int, devices map[int]string) {
	for id, mac := range devices {
		s.events.Publish(ctx, events.Event{Type: events.BindingEnded, DeviceID: id, MAC: mac, UserID: userID})
	}
}
