// Package persona is the system prompt's template language: the built-in
// template (a file, builtin.tmpl), the data every template is rendered
// with, the check an admin's template passes before it is stored, and
// rendering with bounded output.
//
// It imports no bounded context: chat fills Data from the user's profile
// and the device, device checks the templates admins store on device
// types.
package persona

import (
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"text/template"
	"text/template/parse"
)

// DefaultName is the companion's name when its device type names none.
const DefaultName = "Paradise"

// MaxPromptBytes bounds a rendered system prompt; a template producing
// more fails to render.
const MaxPromptBytes = 32 << 10

// maxRangeDepth bounds nested {{range}} actions, so that no template
// loops for long over the data it gets.
const maxRangeDepth = 2

// builtinSource is the built-in system prompt; a file, so the persona is
// edited as text, not as Go.
//
//go:embed builtin.tmpl
var builtinSource string

var builtin = template.Must(Parse(builtinSource))

// funcs are the functions templates may call besides text/template's
// built-ins.
var funcs = template.FuncMap{"join": strings.Join}

// Data is what a template is rendered with. Field names are the template
// language's: {{.Persona.Name}}, {{.User.Nickname}}, {{.Device.TypeName}}.
type Data struct {
	Persona Companion
	User    User
	// Device is nil when the user chats through the app; a device type's
	// own template is only used on devices, so there it is never nil.
	Device *Device
}

// Companion is the persona itself.
type Companion struct {
	Name        string // DefaultName unless the device type names one
	Description string
	Voice       string // a TTS voice id, may be empty
}

// User is what the persona knows of the user.
type User struct {
	Nickname     string
	Gender       string // male, female, unknown
	Mbti         string
	Interests    []string
	Favorability int // 0-100
}

// Device is what the persona knows of the device it speaks from.
type Device struct {
	Name            string // the device's name, or its MAC address
	TypeName        string
	TypeDescription string
}

// sample is the data a template is tried on before it is stored: every
// field set, so a template naming a field that does not exist fails.
var sample = Data{
	Persona: Companion{Name: "Mochi", Description: "A playful cat who loves puns.", Voice: "zh_female_cute"},
	User: User{Nickname: "Mia", Gender: "female", Mbti: "INFP",
		Interests: []string{"jazz", "hiking", "cooking"}, Favorability: 50},
	Device: &Device{Name: "Living room companion", TypeName: "Companion S1", TypeDescription: "Desk companion"},
}

// Parse parses a template source with the template functions.
func Parse(src string) (*template.Template, error) {
	t, err := template.New("prompt_template").Funcs(funcs).Parse(src)
	if err != nil {
		return nil, err
	}
	if err := checkTree(t); err != nil {
		return nil, err
	}
	return t, nil
}

// Check reports why a template source cannot be used: it does not parse,
// or rendering it with sample data fails (a field that does not exist, a
// wrong argument, an output over MaxPromptBytes). The message is for the
// admin who wrote it.
func Check(src string) error {
	t, err := Parse(src)
	if err != nil {
		return errors.New(clean(err.Error()))
	}
	if _, err := Render(t, sample); err != nil {
		return errors.New(clean(err.Error()))
	}
	return nil
}

// clean drops text/template's "template: prompt_template:" prefix.
func clean(msg string) string {
	msg = strings.TrimPrefix(msg, "template: ")
	return strings.TrimPrefix(msg, "prompt_template:")
}

// Render renders t with d, trimmed of surrounding space.
func Render(t *template.Template, d Data) (string, error) {
	w := &limitWriter{max: MaxPromptBytes}
	if err := t.Execute(w, d); err != nil {
		return "", err
	}
	return strings.TrimSpace(w.b.String()), nil
}

// Builtin renders the built-in template.
func Builtin(d Data) (string, error) { return Render(builtin, d) }

// errTooLong fails a render whose output exceeds MaxPromptBytes.
var errTooLong = fmt.Errorf("the prompt is longer than %d bytes", MaxPromptBytes)

type limitWriter struct {
	b   strings.Builder
	max int
}

func (w *limitWriter) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > w.max {
		return 0, errTooLong
	}
	return w.b.Write(p)
}

// checkTree refuses what could make a render run long: {{define}},
// {{template}} and {{block}} (recursion), {{range}} over anything but a
// field of the data (a number or a function result can loop a billion
// times writing nothing), and ranges nested deeper than maxRangeDepth.
func checkTree(t *template.Template) error {
	if len(t.Templates()) > 1 {
		return errors.New("{{define}} and {{block}} are not supported")
	}
	if t.Tree == nil {
		return nil
	}
	return walk(t.Tree.Root, 0)
}

func walk(n parse.Node, depth int) error {
	switch n := n.(type) {
	case nil:
		return nil
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := walk(c, depth); err != nil {
				return err
			}
		}
	case *parse.TemplateNode:
		return errors.New("{{template}} is not supported")
	case *parse.IfNode:
		return walkBranch(&n.BranchNode, depth)
	case *parse.WithNode:
		return walkBranch(&n.BranchNode, depth)
	case *parse.RangeNode:
		if depth+1 > maxRangeDepth {
			return fmt.Errorf("{{range}} is nested more than %d deep", maxRangeDepth)
		}
		if !rangesOverField(n.Pipe) {
			return errors.New("{{range}} must range over a field of the data, such as .User.Interests")
		}
		if err := walk(n.List, depth+1); err != nil {
			return err
		}
		return walk(n.ElseList, depth)
	}
	return nil
}

func walkBranch(b *parse.BranchNode, depth int) error {
	if err := walk(b.List, depth); err != nil {
		return err
	}
	return walk(b.ElseList, depth)
}

// rangesOverField reports whether a range pipeline is a bare field
// chain: .User.Interests, $.User.Interests.
func rangesOverField(p *parse.PipeNode) bool {
	if p == nil || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return false
	}
	switch a := p.Cmds[0].Args[0].(type) {
	case *parse.FieldNode:
		return true
	case *parse.VariableNode:
		return len(a.Ident) > 1 && a.Ident[0] == "$"
	}
	return false
}
