package persona

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name, src, err string
	}{
		{"empty", "", ""},
		{"plain text", "You are a cat.", ""},
		{"every field", "{{.Persona.Name}} {{.Persona.Description}} {{.Persona.Voice}} {{.User.Nickname}} {{.User.Gender}} {{.User.Mbti}} " +
			"{{join .User.Interests \", \"}} {{.User.Favorability}} {{.Device.Name}} {{.Device.TypeName}} {{.Device.TypeDescription}}", ""},
		{"range over interests", "{{range $i, $x := .User.Interests}}{{$i}}{{$x}}{{range $.User.Interests}}.{{end}}{{end}}", ""},
		{"does not parse", "Hello {{.User.Nickname", "unclosed action"},
		{"unknown function", "{{shout .User.Nickname}}", `function "shout" not defined`},
		{"missing field", "{{.User.Age}}", "can't evaluate field Age"},
		{"define", `{{define "x"}}x{{end}}{{template "x"}}`, "not supported"},
		{"template", `{{template "x"}}`, "not supported"},
		{"range over a number", "{{range 1000000000}}{{end}}", "must range over a field"},
		{"range over a function", "{{range len .User.Interests}}{{end}}", "must range over a field"},
		{"ranges too deep", "{{range .User.Interests}}{{range .User.Interests}}{{range .User.Interests}}{{end}}{{end}}{{end}}", "nested more than 2"},
		{"output too long", "{{range .User.Interests}}{{range $.User.Interests}}{{printf \"%999999d\" 1}}{{end}}{{end}}", "longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.src)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("error %v, want %q", err, tc.err)
			case err != nil && strings.HasPrefix(err.Error(), "template:"):
				t.Fatalf("message keeps text/template's prefix: %v", err)
			}
		})
	}
}

func TestBuiltin(t *testing.T) {
	out, err := Builtin(sample)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"You are Mochi,", "A playful cat who loves puns.", "Mia", "INFP", "jazz, hiking, cooking", `device "Living room companion"`} {
		if !strings.Contains(out, want) {
			t.Errorf("built-in prompt lacks %q:\n%s", want, out)
		}
	}
	// The app: no device, the default name.
	app := sample
	app.Device, app.Persona = nil, Companion{Name: DefaultName}
	out, err = Builtin(app)
	if err != nil || !strings.HasPrefix(out, "You are Paradise, a warm and attentive AI companion.") {
		t.Fatalf("app prompt %q, %v", out, err)
	}
}
