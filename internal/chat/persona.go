package chat

import (
	"context"
	"crypto/sha256"
	"sync"
	"text/template"

	"go.uber.org/zap"

	"paradise/internal/account"
	"paradise/internal/device"
	"paradise/internal/persona"
)

// promptDevice is the device a conversation speaks from, its type's
// persona loaded: the calling device, else the conversation's device
// (the owner's app continuing a device's conversation); nil for the app's
// own conversations. A device that is gone leaves the built-in prompt.
func (s *Service) promptDevice(ctx context.Context, caller *device.Device, convDevice *int) (*device.Device, error) {
	id := 0
	switch {
	case caller != nil:
		id = caller.ID
	case convDevice != nil:
		id = *convDevice
	default:
		return nil, nil
	}
	d, err := s.devices.Get(ctx, id)
	if isClientError(err) {
		return caller, nil
	}
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// systemPrompt builds the system prompt for u chatting through the app
// (dev nil) or a device. A device whose type has a persona speaks as it,
// with the type's template when it has one; a template failing to render
// falls back to the built-in one (logged once per template).
func (s *Service) systemPrompt(u account.User, dev *device.Device) (string, error) {
	data := persona.Data{
		Persona: persona.Companion{Name: persona.DefaultName},
		User: persona.User{Nickname: u.Nickname, Gender: u.Gender, Mbti: u.Mbti,
			Interests: u.Interests, Favorability: u.Favorability},
	}
	var custom string
	if dev != nil {
		pd := &persona.Device{Name: dev.Name}
		if pd.Name == "" {
			pd.Name = dev.MACAddress
		}
		if t := dev.Type; t != nil {
			pd.TypeName, pd.TypeDescription = t.Name, t.Description
			if p := t.Persona; p.IsSet() {
				if p.Name != "" {
					data.Persona.Name = p.Name
				}
				data.Persona.Description, data.Persona.Voice = p.Description, p.Voice
				custom = p.Template
			}
		}
		data.Device = pd
	}
	if custom != "" {
		out, err := s.templates.render(custom, data)
		if err == nil {
			return out, nil
		}
		if s.templates.firstFailure(custom) {
			s.log.Warn("Device type prompt template failed; using the built-in prompt",
				zap.Int("device_type_id", dev.Type.ID), zap.Error(err))
		}
	}
	return persona.Builtin(data)
}

// maxCachedTemplates bounds the parsed templates kept; past it the cache
// starts over (admins edit a handful of templates).
const maxCachedTemplates = 256

// templateCache holds parsed device type templates by source, and which
// ones already failed (so a broken template is logged once, not on every
// message).
type templateCache struct {
	mu     sync.Mutex
	parsed map[[sha256.Size]byte]*template.Template
	failed map[[sha256.Size]byte]bool
}

func (c *templateCache) render(src string, d persona.Data) (string, error) {
	key := sha256.Sum256([]byte(src))
	c.mu.Lock()
	t := c.parsed[key]
	c.mu.Unlock()
	if t == nil {
		var err error
		if t, err = persona.Parse(src); err != nil {
			return "", err
		}
		c.mu.Lock()
		if c.parsed == nil || len(c.parsed) >= maxCachedTemplates {
			c.parsed = make(map[[sha256.Size]byte]*template.Template)
		}
		c.parsed[key] = t
		c.mu.Unlock()
	}
	// A parsed template is safe for concurrent Execute.
	return persona.Render(t, d)
}

// firstFailure records that src failed and reports whether it is the
// first time.
func (c *templateCache) firstFailure(src string) bool {
	key := sha256.Sum256([]byte(src))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failed[key] {
		return false
	}
	if c.failed == nil || len(c.failed) >= maxCachedTemplates {
		c.failed = make(map[[sha256.Size]byte]bool)
	}
	c.failed[key] = true
	return true
}
