package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/index"
)

// UserDevice is one binding of a device to a user. Bindings are history: a
// bind by another user ends the previous binding (last bind wins) and an
// unbind ends the caller's, by setting unbound_at. A device has at most one
// active binding (unbound_at IS NULL), and that binding's user owns it.
type UserDevice struct {
	ent.Schema
}

// Annotations keeps the table name short and stable.
func (UserDevice) Annotations() []schema.Annotation {
	return []schema.Annotation{entsql.Table("user_devices")}
}

// Fields of the UserDevice.
func (UserDevice) Fields() []ent.Field {
	return []ent.Field{
		field.Int("user_id"),
		field.Int("device_id"),
		field.Time("bound_at").Default(time.Now).Immutable(),
		field.Time("unbound_at").Optional().Nillable(),
	}
}

// Edges of the UserDevice.
func (UserDevice) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("user", User.Type).Ref("bindings").Field("user_id").Unique().Required(),
		edge.From("device", Device.Type).Ref("bindings").Field("device_id").Unique().Required(),
	}
}

// Indexes of the UserDevice.
func (UserDevice) Indexes() []ent.Index {
	return []ent.Index{
		// MAC login takes a device's latest binding.
		index.Fields("device_id", "bound_at").Annotations(entsql.DescColumns("bound_at")),
		// At most one active binding per device: two concurrent binds of the
		// same device cannot both win.
		index.Fields("device_id").Unique().
			Annotations(entsql.IndexWhere("unbound_at IS NULL")).
			StorageKey("userdevice_active_device"),
		// A user's device list reads their active bindings, newest first.
		index.Fields("user_id", "bound_at"),
	}
}
