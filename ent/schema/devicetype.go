package schema

import (
	"time"

	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/edge"
	"entgo.io/ent/schema/field"
)

// DeviceType is a hardware model of companion device.
type DeviceType struct {
	ent.Schema
}

// Annotations keeps the table name short and stable.
func (DeviceType) Annotations() []schema.Annotation {
	return []schema.Annotation{entsql.Table("device_types")}
}

// Fields of the DeviceType.
func (DeviceType) Fields() []ent.Field {
	return []ent.Field{
		field.String("name").Validate(maxChars(100)).SchemaType(varchar(100)).NotEmpty().Unique(),
		field.String("description").Validate(maxChars(1000)).SchemaType(varchar(1000)).Default(""),
		// The companion's persona on devices of this type (all optional):
		// its name and description, a text/template source replacing the
		// built-in system prompt (internal/persona), and a TTS voice id.
		field.String("persona_name").Validate(maxChars(64)).SchemaType(varchar(64)).Default(""),
		field.String("persona_description").Validate(maxChars(1000)).SchemaType(varchar(1000)).Default(""),
		field.String("prompt_template").Validate(maxChars(8000)).SchemaType(varchar(8000)).Default(""),
		field.String("voice").Validate(maxChars(100)).SchemaType(varchar(100)).Default(""),
		field.Time("created_at").Default(time.Now).Immutable(),
	}
}

// Edges of the DeviceType.
func (DeviceType) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("devices", Device.Type),
	}
}
