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

// User is an account: a person using the mobile app, or staff using the
// admin. It keeps the fields of the Django system's ParadiseUser.
type User struct {
	ent.Schema
}

// Annotations keeps the table name short and stable.
func (User) Annotations() []schema.Annotation {
	return []schema.Annotation{entsql.Table("users")}
}

// Fields of the User.
func (User) Fields() []ent.Field {
	return []ent.Field{
		field.String("username").Validate(maxChars(150)).SchemaType(varchar(150)).NotEmpty().Unique(),
		field.String("password_hash").Sensitive(),
		field.String("nickname").Validate(maxChars(64)).SchemaType(varchar(64)).Default(""),
		field.Enum("gender").Values("unknown", "male", "female", "other").Default("unknown"),
		field.String("mbti").Validate(maxChars(4)).SchemaType(varchar(4)).Default(""),
		field.Strings("interests").Default([]string{}),
		// Favorability is how fond the companion is of the user, 0-100.
		field.Int("favorability").Default(0).Range(0, 100),
		field.Bool("is_staff").Default(false),
		field.Bool("is_active").Default(true),
		field.Time("date_joined").Default(time.Now).Immutable(),
		field.Time("last_login").Optional().Nillable(),
	}
}

// Edges of the User.
func (User) Edges() []ent.Edge {
	return []ent.Edge{
		edge.To("bindings", UserDevice.Type),
		edge.To("conversations", Conversation.Type),
	}
}

// Indexes of the User.
func (User) Indexes() []ent.Index {
	return []ent.Index{
		// Admin lists filter on activity and page by id.
		index.Fields("is_active"),
	}
}
