package chat_test

import (
	"fmt"
	"strings"
	"testing"

	"go.uber.org/fx"

	"paradise/internal/chat"
	"paradise/internal/device"
	"paradise/internal/testenv"
)

func ptr(s string) *string { return &s }

// TestDevicePersona: a device whose type has a persona speaks as it, with
// the type's template; the app's own conversations keep the built-in
// prompt; a template failing at chat time falls back to it.
func TestDevicePersona(t *testing.T) {
	testenv.ForEachBackend(t, func(t *testing.T, b testenv.Backend) {
		fake := newFake()
		var devices *device.Service
		s := testenv.Start(t, b, fx.Decorate(func() chat.Model { return fake }), fx.Populate(&devices))
		owner := s.Register(t, "persona")
		s.Do(t, "PATCH", "/api/user/profile/", owner.Token, map[string]any{"nickname": "Mia", "interests": []string{"jazz"}})

		newType := func(in device.TypeInput) int {
			in.Name = ptr(testenv.Name("type"))
			typ, err := devices.CreateType(t.Context(), in)
			if err != nil {
				t.Fatal(err)
			}
			return typ.ID
		}
		// device binds a new device of the type and logs it in.
		deviceOf := func(typeID int) testenv.Login {
			mac := testenv.RandomID()[:12]
			res := s.Do(t, "POST", "/api/device/bind/", owner.Token, map[string]any{"mac_address": mac, "name": "Desk buddy", "device_type_id": typeID})
			if res.Status != 200 {
				t.Fatalf("bind: %d %s", res.Status, res.Body)
			}
			return s.MacLogin(t, mac)
		}
		chatAs := func(token string, body map[string]any) (reply, string) {
			t.Helper()
			res := s.Do(t, "POST", "/api/ai/chat/", token, body)
			if res.Status != 200 {
				t.Fatalf("chat: %d %s", res.Status, res.Body)
			}
			var r reply
			res.Decode(t, &r)
			return r, fake.last(t).Messages[0].Content
		}

		t.Run("custom template", func(t *testing.T) {
			typ := newType(device.TypeInput{
				PersonaName: ptr("Mochi"), PersonaDescription: ptr("a playful cat"), Voice: ptr("zh_female_cute"),
				PromptTemplate: ptr("I am {{.Persona.Name}}, {{.Persona.Description}}, in {{.Device.Name}} ({{.Device.TypeName}}), " +
					"voice {{.Persona.Voice}}, with {{.User.Nickname}} who likes {{join .User.Interests \"+\"}}."),
			})
			dev := deviceOf(typ)
			want := "I am Mochi, a playful cat, in Desk buddy (" // the type name is random
			r, sys := chatAs(dev.Token, map[string]any{"message": "Hi"})
			if !strings.HasPrefix(sys, want) || !strings.HasSuffix(sys, "voice zh_female_cute, with Mia who likes jazz.") {
				t.Fatalf("system prompt %q", sys)
			}
			// The owner's app continuing the device's conversation hears the
			// same persona.
			_, sys2 := chatAs(owner.Token, map[string]any{"message": "Me too", "conversation_id": r.ConversationID})
			if sys2 != sys {
				t.Fatalf("app continuing the device's conversation: %q, want %q", sys2, sys)
			}
			// The app's own conversations keep the built-in prompt.
			_, app := chatAs(owner.Token, map[string]any{"message": "Hi"})
			if !strings.HasPrefix(app, "You are Paradise, a warm and attentive AI companion.") || strings.Contains(app, "Mochi") {
				t.Fatalf("app prompt %q", app)
			}
		})

		t.Run("persona without a template uses the built-in one", func(t *testing.T) {
			dev := deviceOf(newType(device.TypeInput{PersonaName: ptr("Mochi"), PersonaDescription: ptr("You love puns.")}))
			_, sys := chatAs(dev.Token, map[string]any{"message": "Hi"})
			if !strings.HasPrefix(sys, `You are Mochi, a warm and attentive AI companion living in the device "Desk buddy"`) ||
				!strings.Contains(sys, ". You love puns.\n") || !strings.Contains(sys, "Mia") {
				t.Fatalf("system prompt %q", sys)
			}
		})

		t.Run("type without a persona", func(t *testing.T) {
			dev := deviceOf(newType(device.TypeInput{}))
			_, sys := chatAs(dev.Token, map[string]any{"message": "Hi"})
			if !strings.HasPrefix(sys, `You are Paradise, a warm and attentive AI companion living in the device "Desk buddy"`) {
				t.Fatalf("system prompt %q", sys)
			}
		})

		t.Run("template failing at chat time falls back", func(t *testing.T) {
			// It renders with the sample data (three interests) but not for
			// a user with one.
			dev := deviceOf(newType(device.TypeInput{PersonaName: ptr("Mochi"), PromptTemplate: ptr("Third: {{index .User.Interests 2}}")}))
			for i := 0; i < 2; i++ {
				_, sys := chatAs(dev.Token, map[string]any{"message": fmt.Sprintf("Hi %d", i)})
				if !strings.HasPrefix(sys, "You are Mochi, a warm and attentive AI companion") {
					t.Fatalf("system prompt %q", sys)
				}
			}
		})
	})
}
