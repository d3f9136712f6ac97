package chat

import (
	_ "embed"
	"strings"
	"text/template"

	"paradise/internal/account"
	"paradise/internal/device"
)

// personaSource is the system prompt template; a file, so the persona is
// edited as text, not as Go.
//
//go:embed persona.tmpl
var personaSource string

var personaTemplate = template.Must(template.New("persona.tmpl").
	Funcs(template.FuncMap{"join": strings.Join}).
	Parse(personaSource))

// personaUser is what the persona knows of the user.
type personaUser struct {
	Nickname     string
	Gender       string
	Mbti         string
	Interests    []string
	Favorability int
}

// personaDevice is what the persona knows of the device it speaks from.
type personaDevice struct {
	Name            string
	TypeName        string
	TypeDescription string
}

// Persona builds the system prompt for a user chatting through the app
// (dev nil) or a device.
func Persona(u account.User, dev *device.Device) (string, error) {
	data := struct {
		User   personaUser
		Device *personaDevice
	}{User: personaUser{Nickname: u.Nickname, Gender: u.Gender, Mbti: u.Mbti, Interests: u.Interests, Favorability: u.Favorability}}
	if dev != nil {
		pd := &personaDevice{Name: dev.Name}
		if pd.Name == "" {
			pd.Name = dev.MACAddress
		}
		if dev.Type != nil {
			pd.TypeName, pd.TypeDescription = dev.Type.Name, dev.Type.Description
		}
		data.Device = pd
	}
	var b strings.Builder
	if err := personaTemplate.Execute(&b, data); err != nil {
		return "", err
	}
	return strings.TrimSpace(b.String()), nil
}
