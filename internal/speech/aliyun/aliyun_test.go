package aliyun_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"paradise/internal/speech"
	"paradise/internal/speech/aliyun"
	"paradise/internal/speech/aliyun/aliyuntest"
	"paradise/internal/testenv"
)

func newRedis(t *testing.T) (*redis.Client, string) {
	url, prefix := testenv.NewRedisPrefix(t)
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	return rdb, prefix + "speech:aliyun:token"
}

func pcm(seconds int) []byte {
	b := make([]byte, 32000*seconds)
	for i := 0; i+1 < len(b); i += 2 {
		b[i+1] = byte(i / 2 % 64) // a ramp well above the noise floor
	}
	return b
}

func TestRecognizeAndSynthesize(t *testing.T) {
	fake := aliyuntest.New(t)
	rdb, key := newRedis(t)
	c := aliyun.New(fake.Config(key), http.DefaultClient, rdb)
	ctx := context.Background()

	tr, err := c.Recognize(ctx, speech.Audio{Format: speech.PCM, SampleRate: 16000, Data: pcm(1)})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Text != "北京的天气。" || tr.Provider != "aliyun" {
		t.Fatalf("transcript %+v", tr)
	}
	syn, err := c.Synthesize(ctx, speech.SynthesisRequest{Text: "你好", Format: speech.MP3})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(syn.Body)
	syn.Body.Close()
	if !bytes.Equal(got, aliyuntest.Audio([]rune("你好"))) || syn.Voice != "xiaoyun" {
		t.Fatalf("audio of %d bytes, voice %q", len(got), syn.Voice)
	}
	if n := fake.TokenCalls.Load(); n != 1 {
		t.Fatalf("CreateToken called %d times, want 1 (the token is cached)", n)
	}
	if fake.Rejected.Load() != 0 {
		t.Fatalf("the fake rejected %d requests", fake.Rejected.Load())
	}
}

// TestTokenSharedAcrossInstances: two clients (two instances) on one
// Redis create one token between them, and both replace it once NLS says
// it expired.
func TestTokenSharedAcrossInstances(t *testing.T) {
	fake := aliyuntest.New(t)
	rdb, key := newRedis(t)
	a := aliyun.New(fake.Config(key), http.DefaultClient, rdb)
	b := aliyun.New(fake.Config(key), http.DefaultClient, rdb)
	ctx := context.Background()
	audio := speech.Audio{Format: speech.PCM, SampleRate: 16000, Data: pcm(1)}
	for _, c := range []*aliyun.Client{a, b, a, b} {
		if _, err := c.Recognize(ctx, audio); err != nil {
			t.Fatal(err)
		}
	}
	if n := fake.TokenCalls.Load(); n != 1 {
		t.Fatalf("CreateToken called %d times by two instances, want 1", n)
	}
	ttl := rdb.TTL(ctx, key).Val()
	if ttl <= 0 || ttl > fake.TokenTTL {
		t.Fatalf("cached token TTL %v, want positive and under the token's lifetime", ttl)
	}

	fake.ExpireTokens()
	var wg sync.WaitGroup
	for _, c := range []*aliyun.Client{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Recognize(ctx, audio); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := fake.TokenCalls.Load(); n < 2 || n > 3 {
		t.Fatalf("CreateToken called %d times after expiry, want a new token (2 or 3 calls in all)", n)
	}
}

func TestSignatureRejected(t *testing.T) {
	fake := aliyuntest.New(t)
	rdb, key := newRedis(t)
	cfg := fake.Config(key)
	cfg.AccessKeySecret = "wrong-secret"
	c := aliyun.New(cfg, http.DefaultClient, rdb)
	_, err := c.Recognize(context.Background(), speech.Audio{Format: speech.PCM, SampleRate: 16000, Data: pcm(1)})
	var se *speech.Error
	if !errors.As(err, &se) || se.Code != "SignatureDoesNotMatch" || se.Kind != speech.KindAuth || !se.Failover() {
		t.Fatalf("err = %v, want SignatureDoesNotMatch as an auth failure", err)
	}
	if bytes.Contains([]byte(err.Error()), []byte("wrong-secret")) {
		t.Fatal("the error carries the secret")
	}
}

func TestVendorErrors(t *testing.T) {
	audio := speech.Audio{Format: speech.PCM, SampleRate: 16000, Data: pcm(1)}
	for _, tc := range []struct {
		name       string
		path       string
		httpStatus int
		status     int
		kind       speech.Kind
	}{
		{"rate limit", "/stream/v1/asr", 429, 40000005, speech.KindRateLimited},
		{"server error", "/stream/v1/asr", 500, 50000000, speech.KindUnavailable},
		{"bad wav", "/stream/v1/asr", 400, 40000009, speech.KindBadAudio},
		{"tts server error", "/stream/v1/tts", 500, 50000000, speech.KindUnavailable},
		{"tts bad text", "/stream/v1/tts", 400, 40000003, speech.KindBadText},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := aliyuntest.New(t)
			rdb, key := newRedis(t)
			c := aliyun.New(fake.Config(key), http.DefaultClient, rdb)
			fake.FailNext(tc.path, tc.httpStatus, tc.status, "failed on purpose")
			var err error
			if tc.path == "/stream/v1/asr" {
				_, err = c.Recognize(context.Background(), audio)
			} else {
				_, err = c.Synthesize(context.Background(), speech.SynthesisRequest{Text: "hi", Format: speech.PCM})
			}
			var se *speech.Error
			if !errors.As(err, &se) || se.Kind != tc.kind {
				t.Fatalf("err = %#v, want kind %d", err, tc.kind)
			}
		})
	}
}

// TestExpiredTokenRetried: NLS refusing the cached token (40000001) makes
// the client fetch a new one and retry once.
func TestExpiredTokenRetried(t *testing.T) {
	fake := aliyuntest.New(t)
	rdb, key := newRedis(t)
	c := aliyun.New(fake.Config(key), http.DefaultClient, rdb)
	ctx := context.Background()
	if err := rdb.Set(ctx, key, "stale-token", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Synthesize(ctx, speech.SynthesisRequest{Text: "hi", Format: speech.PCM}); err != nil {
		t.Fatal(err)
	}
	if got := rdb.Get(ctx, key).Val(); got == "stale-token" || got == "" {
		t.Fatalf("cached token %q, want the new one", got)
	}
}
