package schema

import (
	"fmt"
	"unicode/utf8"

	"entgo.io/ent/dialect"
)

// String limits count characters, as openapi.yaml and asyncapi.yaml do
// (maxLength is in characters). ent's MaxLen counts bytes, so a
// 22-character Chinese nickname passed the API's check and failed ent's,
// as a 500. Fields with a limit use maxChars for ent's check and varchar
// for the column: Postgres' varchar(n) counts characters too; SQLite
// enforces no length.

// maxChars is a validator refusing strings of more than n characters.
func maxChars(n int) func(string) error {
	return func(s string) error {
		if c := utf8.RuneCountInString(s); c > n {
			return fmt.Errorf("value has %d characters, more than %d", c, n)
		}
		return nil
	}
}

// varchar is the column type of a string of at most n characters.
func varchar(n int) map[string]string {
	return map[string]string{dialect.Postgres: fmt.Sprintf("varchar(%d)", n)}
}
