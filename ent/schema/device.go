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

// Device is a physical companion device, known by its MAC address. Who owns
// it is not a field: it is the user of its active UserDevice binding.
type Device struct {
	ent.Schema
}

// Annotations keeps the table name short and stable.
func (Device) Annotations() []schema.Annotation {
	return []schema.Annotation{entsql.Table("devices")}
}

// Fields of the Device.
func (Device) Fields() []ent.Field {
	return []ent.Field{
		// MacAddress is normalised (AA:BB:CC:00:00:01) before it is stored.
		field.String("mac_address").Validate(maxChars(17)).SchemaType(varchar(17)).NotEmpty().Unique().Immutable(),
		field.String("name").Validate(maxChars(100)).SchemaType(varchar(100)).Default(""),
		field.Int("device_type_id").Optional().Nillable(),
		field.Enum("status").Values("connected", "disconnected").Default("disconnected"),
		field.Int("battery_level").Optional().Nillable().Range(0, 100),
		field.String("firmware_version").Validate(maxChars(64)).SchemaType(varchar(64)).Default(""),
		field.String("wifi_name").Validate(maxChars(64)).SchemaType(varchar(64)).Default(""),
		field.Time("last_seen").Optional().Nillable(),
		field.Time("created_at").Default(time.Now).Immutable(),
		// Secret is the device's login secret, encrypted at rest
		// (AES-256-GCM under PARADISE_DEVICE_SECRET_KEY; nonce first);
		// nil for devices without one (old firmware).
		field.Bytes("secret").Optional().Nillable().Sensitive(),
		field.Time("secret_set_at").Optional().Nillable(),
		// MACLogin is the admin's override of bare MAC login: "default"
		// (allowed while the device has no secret), "allow" or "refuse".
		field.Enum("mac_login").Values("default", "allow", "refuse").Default("default"),
	}
}

// Edges of the Device.
func (Device) Edges() []ent.Edge {
	return []ent.Edge{
		edge.From("device_type", DeviceType.Type).Ref("devices").Field("device_type_id").Unique(),
		edge.To("bindings", UserDevice.Type),
		edge.To("conversations", Conversation.Type),
		edge.To("commands", DeviceCommand.Type),
	}
}

// Indexes of the Device.
func (Device) Indexes() []ent.Index {
	return []ent.Index{
		// Deleting a type checks whether devices still use it.
		index.Fields("device_type_id"),
	}
}
