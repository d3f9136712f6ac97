package contract_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestChatStream checks the streamed form of chatCompletion against
// openapi.yaml: a text/event-stream response whose events are start,
// deltas and done, each event's data matching ChatStreamEvent with its
// type equal to the event's name. Both ways of asking are covered.
func TestChatStream(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for name, c := range map[string]struct {
		body   string
		accept string
	}{
		"stream in body": {body: `{"message":"Stream, please","stream":true}`},
		"accept header":  {body: `{"message":"Stream, please"}`, accept: "text/event-stream"},
	} {
		t.Run(name, func(t *testing.T) {
			req, err := http.NewRequest("POST", f.URL+"/api/ai/chat/", strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Token "+f.user.Token)
			if c.accept != "" {
				req.Header.Set("Accept", c.accept)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
				t.Fatalf("status %d, content type %q", res.StatusCode, res.Header.Get("Content-Type"))
			}
			var names []string
			event := ""
			sc := bufio.NewScanner(res.Body)
			for sc.Scan() {
				line := sc.Text()
				switch {
				case strings.HasPrefix(line, "event: "):
					event = strings.TrimPrefix(line, "event: ")
					names = append(names, event)
				case strings.HasPrefix(line, "data: "):
					data := []byte(strings.TrimPrefix(line, "data: "))
					f.contract.validateSchema(t, "ChatStreamEvent", data)
					var d struct {
						Type string `json:"type"`
					}
					if json.Unmarshal(data, &d) != nil || d.Type != event {
						t.Errorf("event %q carries data of type %q", event, d.Type)
					}
				}
			}
			if len(names) < 3 || names[0] != "start" || names[len(names)-1] != "done" {
				t.Fatalf("events %v", names)
			}
			for _, n := range names[1 : len(names)-1] {
				if n != "delta" {
					t.Fatalf("events %v", names)
				}
			}
		})
	}
}

// TestAdminEvents checks adminStreamEvents against openapi.yaml: a
// text/event-stream whose events carry AdminEvent data with their type as
// the event's name (streamedSuccess).
func TestAdminEvents(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	req, err := http.NewRequestWithContext(t.Context(), "GET", f.URL+"/api/v1/admin/events/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Token "+f.admin)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, content type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(res.Body)
	if !sc.Scan() || sc.Text() != ": connected" {
		t.Fatalf("stream starts with %q", sc.Text())
	}
	// A bind and an unbind give two events.
	u := f.Register(t, "evt")
	mac := newMAC()
	f.Bind(t, u.Token, mac)
	f.must(t, "POST", "/api/device/unbind/", u.Token, map[string]any{"mac_address": mac}, 200)
	var names []string
	event := ""
	for len(names) < 2 && sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data := []byte(strings.TrimPrefix(line, "data: "))
			f.contract.validateSchema(t, "AdminEvent", data)
			var d struct {
				Type string `json:"type"`
			}
			if json.Unmarshal(data, &d) != nil || d.Type != event {
				t.Errorf("event %q carries data of type %q", event, d.Type)
			}
			names = append(names, event)
		}
	}
	if strings.Join(names, ",") != "binding_created,binding_ended" {
		t.Fatalf("events %v", names)
	}
}
