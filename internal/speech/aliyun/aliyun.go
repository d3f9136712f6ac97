// Package aliyun is Aliyun Intelligent Speech Interaction (NLS): a token
// from CreateToken (POP RPC, HMAC-SHA1), cached in Redis for every
// instance, then one-sentence recognition and synthesis over REST
// (docs/vendors.md §3).
package aliyun

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"paradise/internal/speech"
)

// Name is the provider's name.
const Name = "aliyun"

// Config is what the client needs. AccessKeySecret never reaches logs or
// errors.
type Config struct {
	AccessKeyID     string
	AccessKeySecret string
	AppKey          string
	// Region is the POP RegionId (default cn-shanghai).
	Region string
	// TokenURL is the CreateToken endpoint (default
	// https://nls-meta.cn-shanghai.aliyuncs.com/).
	TokenURL string
	// GatewayURL is the REST gateway (default
	// https://nls-gateway-cn-shanghai.aliyuncs.com).
	GatewayURL string
	// Voice is the default TTS voice (default xiaoyun).
	Voice string
	// TokenKey is the Redis key the token is cached under, shared by
	// every instance.
	TokenKey string
}

// tokenMargin is how long before its expiry a cached token is replaced:
// a request started with it must still find it valid.
const tokenMargin = 5 * time.Minute

// Client is the NLS provider.
type Client struct {
	cfg  Config
	http *http.Client
	rdb  redis.Cmdable
	now  func() time.Time
}

// New returns the NLS client; rdb holds the shared token.
func New(cfg Config, hc *http.Client, rdb redis.Cmdable) *Client {
	if cfg.Region == "" {
		cfg.Region = "cn-shanghai"
	}
	if cfg.TokenURL == "" {
		cfg.TokenURL = "https://nls-meta." + cfg.Region + ".aliyuncs.com/"
	}
	if cfg.GatewayURL == "" {
		cfg.GatewayURL = "https://nls-gateway-" + cfg.Region + ".aliyuncs.com"
	}
	cfg.GatewayURL = strings.TrimRight(cfg.GatewayURL, "/")
	if cfg.Voice == "" {
		cfg.Voice = "xiaoyun"
	}
	return &Client{cfg: cfg, http: hc, rdb: rdb, now: time.Now}
}

// Name implements speech.Recognizer.
func (c *Client) Name() string { return Name }

// Accepts implements speech.Recognizer: NLS takes pcm, wav, opus and mp3.
func (c *Client) Accepts(f speech.Format) bool { return f.Valid() }

// Produces implements speech.Synthesizer: pcm, wav and mp3.
func (c *Client) Produces(f speech.Format) bool {
	return f == speech.PCM || f == speech.WAV || f == speech.MP3
}

func (c *Client) fail(kind speech.Kind, code, msg string) *speech.Error {
	return &speech.Error{Provider: Name, Kind: kind, Code: code, Message: msg}
}

// tokenResponse is CreateToken's answer, or a POP error.
type tokenResponse struct {
	Token struct {
		ID         string `json:"Id"`
		ExpireTime int64  `json:"ExpireTime"`
	} `json:"Token"`
	ErrMsg  string `json:"ErrMsg"`
	Code    string `json:"Code"`
	Message string `json:"Message"`
}

// token returns a valid token: the shared one from Redis, or a new one
// from CreateToken, which it then shares until tokenMargin before expiry.
// Two instances missing at once both create one; the later write wins and
// both tokens stay valid, so no lock is needed.
func (c *Client) token(ctx context.Context) (string, error) {
	tok, err := c.rdb.Get(ctx, c.cfg.TokenKey).Result()
	if err == nil && tok != "" {
		return tok, nil
	}
	if err != nil && !errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("aliyun: read cached token: %w", err)
	}
	tok, expires, err := c.createToken(ctx)
	if err != nil {
		return "", err
	}
	if ttl := expires.Sub(c.now()) - tokenMargin; ttl > 0 {
		if err := c.rdb.Set(ctx, c.cfg.TokenKey, tok, ttl).Err(); err != nil {
			return "", fmt.Errorf("aliyun: cache token: %w", err)
		}
	}
	return tok, nil
}

// forgetToken drops the shared token after NLS refused it.
func (c *Client) forgetToken(ctx context.Context, tok string) {
	// Only if it is still the one that failed: another instance may have
	// replaced it already.
	if cur, err := c.rdb.Get(ctx, c.cfg.TokenKey).Result(); err == nil && cur == tok {
		c.rdb.Del(ctx, c.cfg.TokenKey)
	}
}

func nonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// createToken calls CreateToken (POST, form body, signed).
func (c *Client) createToken(ctx context.Context) (string, time.Time, error) {
	params := url.Values{
		"AccessKeyId":      {c.cfg.AccessKeyID},
		"Action":           {"CreateToken"},
		"Version":          {"2019-02-28"},
		"Format":           {"JSON"},
		"RegionId":         {c.cfg.Region},
		"Timestamp":        {c.now().UTC().Format("2006-01-02T15:04:05Z")},
		"SignatureMethod":  {"HMAC-SHA1"},
		"SignatureVersion": {"1.0"},
		"SignatureNonce":   {nonce()},
	}
	params.Set("Signature", Sign(http.MethodPost, params, c.cfg.AccessKeySecret))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.TokenURL, strings.NewReader(params.Encode()))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("aliyun: token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := c.http.Do(req)
	if err != nil {
		return "", time.Time{}, speech.TransportError(ctx, Name, err)
	}
	defer res.Body.Close()
	var body tokenResponse
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if json.Unmarshal(raw, &body) != nil || res.StatusCode != http.StatusOK || body.Token.ID == "" {
		if body.Code != "" {
			kind := speech.KindAuth
			if res.StatusCode >= 500 || strings.Contains(body.Code, "Throttling") || strings.Contains(body.Code, "ServiceUnavailable") {
				kind = speech.KindUnavailable
			}
			return "", time.Time{}, c.fail(kind, body.Code, "CreateToken: "+body.Message)
		}
		e := speech.HTTPError(Name, res.StatusCode)
		e.Message = "CreateToken: " + e.Message
		return "", time.Time{}, e
	}
	return body.Token.ID, time.Unix(body.Token.ExpireTime, 0), nil
}

// result is the gateway's JSON answer (ASR result, or any error).
type result struct {
	TaskID  string `json:"task_id"`
	Result  string `json:"result"`
	Status  int    `json:"status"`
	Message string `json:"message"`
}

// statusError classifies an NLS status (vendors.md §3b).
func statusError(status int, msg string) *speech.Error {
	kind := speech.KindUnavailable
	switch status {
	case 40000001, 40020105, 40000010:
		kind = speech.KindAuth
	case 40000005:
		kind = speech.KindRateLimited
	case 40000009:
		kind = speech.KindBadAudio
	case 40000003:
		kind = speech.KindBadAudio
	case 40000004:
		kind = speech.KindTimeout
	}
	return &speech.Error{Provider: Name, Kind: kind, Code: strconv.Itoa(status), Message: msg}
}

// tokenExpired reports whether NLS refused the token itself (status
// 40000001): a fresh token may succeed.
func tokenExpired(err error) bool {
	var se *speech.Error
	return errors.As(err, &se) && se.Code == "40000001"
}

// withToken runs call with the shared token and, if NLS says the token
// expired or is invalid, once more with a new one.
func withToken[T any](ctx context.Context, c *Client, call func(tok string) (T, error)) (T, error) {
	tok, err := c.token(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	out, err := call(tok)
	if tokenExpired(err) {
		c.forgetToken(ctx, tok)
		if tok, err = c.token(ctx); err != nil {
			var zero T
			return zero, err
		}
		return call(tok)
	}
	return out, err
}

func nlsFormat(f speech.Format) string {
	if f == speech.OggOpus {
		return "opus"
	}
	return string(f)
}

// Recognize implements speech.Recognizer (one-sentence REST ASR).
func (c *Client) Recognize(ctx context.Context, a speech.Audio) (speech.Transcript, error) {
	return withToken(ctx, c, func(tok string) (speech.Transcript, error) { return c.recognize(ctx, tok, a) })
}

func (c *Client) recognize(ctx context.Context, tok string, a speech.Audio) (speech.Transcript, error) {
	q := url.Values{
		"appkey":                            {c.cfg.AppKey},
		"format":                            {nlsFormat(a.Format)},
		"sample_rate":                       {strconv.Itoa(a.SampleRate)},
		"enable_punctuation_prediction":     {"true"},
		"enable_inverse_text_normalization": {"true"},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.GatewayURL+"/stream/v1/asr?"+q.Encode(), bytes.NewReader(a.Data))
	if err != nil {
		return speech.Transcript{}, fmt.Errorf("aliyun: asr request: %w", err)
	}
	req.Header.Set("X-NLS-Token", tok)
	req.Header.Set("Content-Type", "application/octet-stream")
	res, err := c.http.Do(req)
	if err != nil {
		return speech.Transcript{}, speech.TransportError(ctx, Name, err)
	}
	defer res.Body.Close()
	var body result
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if json.Unmarshal(raw, &body) != nil || body.Status == 0 {
		return speech.Transcript{}, speech.HTTPError(Name, res.StatusCode)
	}
	if body.Status != 20000000 {
		return speech.Transcript{}, statusError(body.Status, body.Message)
	}
	text := strings.TrimSpace(body.Result)
	if text == "" {
		return speech.Transcript{}, c.fail(speech.KindEmpty, "empty_result", "nothing recognized")
	}
	return speech.Transcript{Text: text, Language: a.Language, Provider: Name}, nil
}

// ttsRequest is the POST body of /stream/v1/tts.
type ttsRequest struct {
	AppKey     string `json:"appkey"`
	Text       string `json:"text"`
	Token      string `json:"token"`
	Format     string `json:"format"`
	SampleRate int    `json:"sample_rate"`
	Voice      string `json:"voice"`
}

// Synthesize implements speech.Synthesizer: the audio body is handed on
// as it arrives.
func (c *Client) Synthesize(ctx context.Context, r speech.SynthesisRequest) (speech.Synthesis, error) {
	return withToken(ctx, c, func(tok string) (speech.Synthesis, error) { return c.synthesize(ctx, tok, r) })
}

func (c *Client) synthesize(ctx context.Context, tok string, r speech.SynthesisRequest) (speech.Synthesis, error) {
	voice := r.Voice
	if voice == "" {
		voice = c.cfg.Voice
	}
	rate := r.SampleRate
	if rate == 0 {
		rate = 16000
	}
	b, _ := json.Marshal(ttsRequest{AppKey: c.cfg.AppKey, Text: r.Text, Token: tok, Format: string(r.Format), SampleRate: rate, Voice: voice})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.GatewayURL+"/stream/v1/tts", bytes.NewReader(b))
	if err != nil {
		return speech.Synthesis{}, fmt.Errorf("aliyun: tts request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-NLS-Token", tok)
	res, err := c.http.Do(req)
	if err != nil {
		return speech.Synthesis{}, speech.TransportError(ctx, Name, err)
	}
	// Success is audio; failure is JSON (vendors.md §3c).
	mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if res.StatusCode == http.StatusOK && strings.HasPrefix(mt, "audio/") {
		return speech.Synthesis{Format: r.Format, SampleRate: rate, Provider: Name, Voice: voice, Body: res.Body}, nil
	}
	defer res.Body.Close()
	var body result
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if json.Unmarshal(raw, &body) != nil || body.Status == 0 {
		return speech.Synthesis{}, speech.HTTPError(Name, res.StatusCode)
	}
	e := statusError(body.Status, body.Message)
	if body.Status == 40000003 || body.Status == 40000002 {
		e.Kind = speech.KindBadText
	}
	return speech.Synthesis{}, e
}
