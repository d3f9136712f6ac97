package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/redis/go-redis/v9"

	"paradise/internal/auth"
	"paradise/internal/config"
	"paradise/internal/redisdb"
	"paradise/internal/testenv"
)

func TestFloor(t *testing.T) {
	url, prefix := testenv.NewRedisPrefix(t)
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	tokens := auth.NewTokens(rdb, redisdb.NewKeys(config.Redis{RedisPrefix: prefix}), config.Auth{TokenTTL: time.Hour})
	srv := httptest.NewServer(newFloor(tokens))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	issue := func(userID int, mac string) string {
		tok, err := tokens.Issue(ctx, auth.User, userID, mac)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	dial := func(token string) *websocket.Conn {
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/ws/device/token/"+token+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.CloseNow() })
		return c
	}
	read := func(c *websocket.Conn) map[string]any {
		_, data, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var f map[string]any
		if err := json.Unmarshal(data, &f); err != nil {
			t.Fatalf("frame %s: %v", data, err)
		}
		return f
	}

	dev := dial(issue(1, "AA:BB:CC:00:00:01"))
	app := dial(issue(1, ""))
	other := dial(issue(2, ""))
	for _, c := range []*websocket.Conn{dev, app, other} {
		if f := read(c); f["type"] != "connected" {
			t.Fatalf("first frame %v, want connected", f)
		}
	}

	if err := dev.Write(ctx, websocket.MessageText, []byte(`{"type":"chat","message":{"text":"hi"}}`)); err != nil {
		t.Fatal(err)
	}
	f := read(app)
	from, _ := f["from"].(map[string]any)
	if f["type"] != "chat" || from["role"] != "device" || from["mac_address"] != "AA:BB:CC:00:00:01" {
		t.Fatalf("app got %v, want the device's chat with its from", f)
	}
	// Another user's session gets nothing: its next frame is its own
	// group's.
	if err := app.Write(ctx, websocket.MessageText, []byte(`{"type":"chat","message":{"text":"to dev"}}`)); err != nil {
		t.Fatal(err)
	}
	if f := read(dev); f["type"] != "chat" {
		t.Fatalf("device got %v", f)
	}
	other2 := dial(issue(2, "AA:BB:CC:00:00:02"))
	read(other2)
	if err := other2.Write(ctx, websocket.MessageText, []byte(`{"type":"chat","message":{"text":"mine"}}`)); err != nil {
		t.Fatal(err)
	}
	if f := read(other); f["message"].(map[string]any)["text"] != "mine" {
		t.Fatalf("user 2's app got %v, want its own device's frame", f)
	}

	bad := dial("not-a-token")
	_, _, err = bad.Read(ctx)
	if code := websocket.CloseStatus(err); code != 4001 {
		t.Fatalf("bad token: %v, want close 4001", err)
	}
}
