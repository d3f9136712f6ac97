package chat

import (
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"paradise/internal/account"
	"paradise/internal/device"
)

// A device type template failing at chat time is logged once, and every
// message still gets the built-in prompt.
func TestBrokenTemplateLoggedOnce(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	s := &Service{log: zap.New(core)}
	dev := &device.Device{ID: 1, Name: "Desk buddy", Type: &device.Type{ID: 7, Name: "S1",
		Persona: device.Persona{Name: "Mochi", Template: "{{index .User.Interests 2}}"}}}
	for i := 0; i < 3; i++ {
		sys, err := s.systemPrompt(account.User{Nickname: "Mia"}, dev)
		if err != nil || !strings.HasPrefix(sys, `You are Mochi, a warm and attentive AI companion living in the device "Desk buddy" (S1).`) {
			t.Fatalf("prompt %q, %v", sys, err)
		}
	}
	if n := logs.Len(); n != 1 {
		t.Fatalf("%d log lines, want 1: %+v", n, logs.All())
	}
	if f := logs.All()[0].ContextMap(); f["device_type_id"] != int64(7) {
		t.Fatalf("log fields %+v", f)
	}
	// Another broken template is logged too.
	dev.Type.Persona.Template = "{{index .User.Interests 3}}"
	if _, err := s.systemPrompt(account.User{}, dev); err != nil || logs.Len() != 2 {
		t.Fatalf("second template: %v, %d log lines", err, logs.Len())
	}
}
