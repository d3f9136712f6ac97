// Package aliyuntest is a fake Aliyun NLS for tests: CreateToken checks
// the POP signature the way the vendor does, and the REST ASR and TTS
// gateway accept only the tokens it issued (docs/vendors.md §3).
package aliyuntest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"paradise/internal/config"
	"paradise/internal/speech/aliyun"
)

// Credentials the fake accepts.
const (
	AccessKeyID     = "LTAI-test-key-id"
	AccessKeySecret = "test-secret-never-logged"
	AppKey          = "test-appkey"
)

// Server is the fake NLS: one httptest server for both the token endpoint
// (/) and the gateway (/stream/v1/...).
type Server struct {
	*httptest.Server
	// Transcript is what ASR answers (default 北京的天气。).
	Transcript string
	// TokenTTL is the lifetime of issued tokens (default 24h).
	TokenTTL time.Duration
	// delay is waited before every gateway answer (SetDelay); atomic, as
	// a test changes it while answers of an interrupted turn are in flight.
	delay atomic.Int64
	// TokenCalls counts successful CreateToken calls.
	TokenCalls atomic.Int64
	// Rejected counts requests refused for a bad signature or token.
	Rejected atomic.Int64

	mu     sync.Mutex
	tokens map[string]time.Time
	nonces map[string]bool
	fail   []failure
	next   int
}

type failure struct {
	path       string
	httpStatus int
	status     int
	message    string
}

// SetDelay makes every gateway answer wait d (0: none).
func (s *Server) SetDelay(d time.Duration) { s.delay.Store(int64(d)) }

// New starts the fake; it stops with the test.
func New(t testing.TB) *Server {
	s := &Server{Transcript: "北京的天气。", TokenTTL: 24 * time.Hour, tokens: map[string]time.Time{}, nonces: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/", s.createToken)
	mux.HandleFunc("/stream/v1/asr", s.asr)
	mux.HandleFunc("/stream/v1/tts", s.tts)
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// Config is a client configuration pointing at the fake.
func (s *Server) Config(tokenKey string) aliyun.Config {
	return aliyun.Config{AccessKeyID: AccessKeyID, AccessKeySecret: AccessKeySecret, AppKey: AppKey,
		TokenURL: s.URL + "/", GatewayURL: s.URL, TokenKey: tokenKey}
}

// FailNext makes the next request to path (/stream/v1/asr,
// /stream/v1/tts) answer with an NLS status; httpStatus 0 means 200.
func (s *Server) FailNext(path string, httpStatus, status int, message string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = append(s.fail, failure{path: path, httpStatus: httpStatus, status: status, message: message})
}

// ExpireTokens makes every issued token expired, as if a day passed.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.tokens {
		s.tokens[k] = time.Now().Add(-time.Second)
	}
}

func (s *Server) takeFailure(path string) *failure {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.fail {
		if f.path == path {
			s.fail = append(s.fail[:i], s.fail[i+1:]...)
			return &f
		}
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func popError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"RequestId": "fake", "HostId": "nls-meta", "Code": code, "Message": msg})
}

// createToken verifies a CreateToken call like POP: parameters, clock
// skew, nonce reuse and the HMAC-SHA1 signature over the method used.
func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	var params url.Values
	switch r.Method {
	case http.MethodGet:
		params = r.URL.Query()
	case http.MethodPost:
		if err := r.ParseForm(); err != nil {
			popError(w, 400, "InvalidParameter", err.Error())
			return
		}
		params = r.PostForm
	default:
		popError(w, 405, "UnsupportedHTTPMethod", r.Method)
		return
	}
	for _, p := range []string{"AccessKeyId", "Action", "Version", "Format", "RegionId", "Timestamp", "SignatureMethod", "SignatureVersion", "SignatureNonce", "Signature"} {
		if params.Get(p) == "" {
			s.Rejected.Add(1)
			popError(w, 400, "MissingParameter", "missing "+p)
			return
		}
	}
	if params.Get("Action") != "CreateToken" || params.Get("Version") != "2019-02-28" || params.Get("SignatureMethod") != "HMAC-SHA1" || params.Get("SignatureVersion") != "1.0" {
		popError(w, 400, "InvalidParameter", "unexpected Action, Version or signature method")
		return
	}
	if params.Get("AccessKeyId") != AccessKeyID {
		s.Rejected.Add(1)
		popError(w, 404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
		return
	}
	ts, err := time.Parse("2006-01-02T15:04:05Z", params.Get("Timestamp"))
	if err != nil || time.Since(ts).Abs() > 15*time.Minute {
		s.Rejected.Add(1)
		popError(w, 400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
		return
	}
	want := aliyun.Sign(r.Method, params, AccessKeySecret)
	if params.Get("Signature") != want {
		s.Rejected.Add(1)
		popError(w, 400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation.")
		return
	}
	s.mu.Lock()
	if s.nonces[params.Get("SignatureNonce")] {
		s.mu.Unlock()
		s.Rejected.Add(1)
		popError(w, 400, "SignatureNonceUsed", "Specified signature nonce was used already.")
		return
	}
	s.nonces[params.Get("SignatureNonce")] = true
	n := s.TokenCalls.Add(1)
	tok := fmt.Sprintf("fake-nls-token-%d", n)
	exp := time.Now().Add(s.TokenTTL)
	s.tokens[tok] = exp
	s.mu.Unlock()
	writeJSON(w, 200, map[string]any{"NlsRequestId": "fake", "RequestId": "fake", "ErrMsg": "",
		"Token": map[string]any{"Id": tok, "ExpireTime": exp.Unix(), "UserId": "1"}})
}

func (s *Server) tokenValid(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[tok]
	return ok && time.Now().Before(exp)
}

func nlsError(w http.ResponseWriter, httpStatus, status int, msg string) {
	if httpStatus == 0 {
		httpStatus = 200
	}
	w.Header().Set("task_id", "fake-task")
	writeJSON(w, httpStatus, map[string]any{"task_id": "fake-task", "result": "", "status": status, "message": msg})
}

// asr is one-sentence recognition.
func (s *Server) asr(w http.ResponseWriter, r *http.Request) {
	time.Sleep(time.Duration(s.delay.Load()))
	if f := s.takeFailure(r.URL.Path); f != nil {
		nlsError(w, f.httpStatus, f.status, f.message)
		return
	}
	tok := r.Header.Get("X-NLS-Token")
	if !s.tokenValid(tok) {
		s.Rejected.Add(1)
		nlsError(w, 403, 40000001, fmt.Sprintf("The token '%s' has expired!", tok))
		return
	}
	q := r.URL.Query()
	if q.Get("appkey") != AppKey {
		nlsError(w, 400, 40020105, "Meta:APPKEY_NOT_EXIST:Appkey not exist!")
		return
	}
	switch q.Get("format") {
	case "pcm", "wav", "opus", "mp3", "speex", "amr", "aac":
	default:
		nlsError(w, 400, 40000003, "PARAMETER_INVALID: format")
		return
	}
	if sr := q.Get("sample_rate"); sr != "" && sr != "16000" && sr != "8000" {
		nlsError(w, 400, 40000003, "PARAMETER_INVALID: sample_rate")
		return
	}
	body, _ := io.ReadAll(r.Body)
	if len(body) == 0 {
		nlsError(w, 400, 40000003, "PARAMETER_INVALID: empty body")
		return
	}
	if q.Get("format") == "wav" && (len(body) < 12 || string(body[:4]) != "RIFF") {
		nlsError(w, 400, 40000009, "invalid wav header")
		return
	}
	w.Header().Set("task_id", "fake-task")
	writeJSON(w, 200, map[string]any{"task_id": "fake-task", "result": s.Transcript, "status": 20000000, "message": "SUCCESS"})
}

// BytesPerChar is how much audio the fake TTS makes per character of text.
const BytesPerChar = 640

// tts answers binary audio, written in pieces so a client can stream it.
func (s *Server) tts(w http.ResponseWriter, r *http.Request) {
	time.Sleep(time.Duration(s.delay.Load()))
	if f := s.takeFailure(r.URL.Path); f != nil {
		nlsError(w, f.httpStatus, f.status, f.message)
		return
	}
	var req struct {
		AppKey     string `json:"appkey"`
		Text       string `json:"text"`
		Token      string `json:"token"`
		Format     string `json:"format"`
		SampleRate int    `json:"sample_rate"`
		Voice      string `json:"voice"`
	}
	if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&req) != nil {
		nlsError(w, 400, 40000002, "Gateway:MESSAGE_INVALID")
		return
	}
	tok := req.Token
	if tok == "" {
		tok = r.Header.Get("X-NLS-Token")
	}
	if !s.tokenValid(tok) {
		s.Rejected.Add(1)
		nlsError(w, 403, 40000001, fmt.Sprintf("The token '%s' is invalid!", tok))
		return
	}
	if req.AppKey != AppKey {
		nlsError(w, 400, 40020105, "Meta:APPKEY_NOT_EXIST:Appkey not exist!")
		return
	}
	if req.Text == "" {
		nlsError(w, 400, 40000003, "PARAMETER_INVALID: text")
		return
	}
	ct := map[string]string{"pcm": "audio/basic", "wav": "audio/wav", "mp3": "audio/mpeg"}[req.Format]
	if ct == "" {
		nlsError(w, 400, 40000003, "PARAMETER_INVALID: format")
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("task_id", "fake-task")
	audio := Audio([]rune(req.Text))
	w.Header().Set("Content-Length", strconv.Itoa(len(audio)))
	fl, _ := w.(http.Flusher)
	for len(audio) > 0 {
		n := min(len(audio), 4096)
		_, _ = w.Write(audio[:n])
		audio = audio[n:]
		if fl != nil {
			fl.Flush()
		}
	}
}

// Audio is the fake's deterministic "speech" for text.
func Audio(text []rune) []byte {
	out := make([]byte, BytesPerChar*len(text))
	for i := range out {
		out[i] = byte(int(text[i/BytesPerChar]) + i)
	}
	return out
}

// Speech returns cfg with this fake as the only speech provider: an
// fx.Decorate for services under test that need speech without local
// engines.
func (s *Server) Speech(cfg config.Speech) config.Speech {
	a := s.Config("")
	cfg.Providers = []string{aliyun.Name}
	cfg.Aliyun = config.SpeechAliyun{AccessKeyID: a.AccessKeyID, AccessKeySecret: a.AccessKeySecret, AppKey: a.AppKey,
		Region: "cn-shanghai", TokenURL: a.TokenURL, GatewayURL: a.GatewayURL, Voice: "xiaoyun"}
	return cfg
}
