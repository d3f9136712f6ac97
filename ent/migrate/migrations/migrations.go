// Package migrations embeds the versioned Postgres migrations (Atlas
// format, checked by atlas.sum). Create a new one with
// `make migration NAME=...` after changing ent/schema; never edit an
// applied file.
package migrations

import "embed"

// FS holds the migration files and atlas.sum.
//
//go:embed *.sql atlas.sum
var FS embed.FS
