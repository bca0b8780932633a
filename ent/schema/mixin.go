// Package schema holds Cairn's data model as ent schemas. Everything else under ent/ is generated
// from it by `go generate ./...`.
package schema

import (
	"time"

	"entgo.io/contrib/entgql"
	"entgo.io/ent"
	"entgo.io/ent/schema/field"
	"entgo.io/ent/schema/mixin"
	"github.com/google/uuid"
)

// NewID returns a UUIDv7: time-ordered, so primary-key indexes stay append-mostly and ids sort by
// creation time.
func NewID() uuid.UUID { return uuid.Must(uuid.NewV7()) }

// IDMixin gives an entity a UUIDv7 primary key.
type IDMixin struct{ mixin.Schema }

// Fields of the IDMixin.
func (IDMixin) Fields() []ent.Field {
	return []ent.Field{
		field.UUID("id", uuid.UUID{}).Default(NewID).Immutable(),
	}
}

// TimeMixin adds created_at and updated_at.
type TimeMixin struct{ mixin.Schema }

// Fields of the TimeMixin.
func (TimeMixin) Fields() []ent.Field {
	return []ent.Field{
		field.Time("created_at").Default(time.Now).Immutable().
			Annotations(entgql.OrderField("CREATED_AT")),
		field.Time("updated_at").Default(time.Now).UpdateDefault(time.Now).
			Annotations(entgql.OrderField("UPDATED_AT")),
	}
}
