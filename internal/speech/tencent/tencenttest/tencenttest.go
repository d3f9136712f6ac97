// Package tencenttest is a fake Tencent Cloud asr/tts API 3.0 endpoint for
// tests: it verifies the TC3-HMAC-SHA256 signature of every request like
// the gateway and answers SentenceRecognition and TextToVoice
// (docs/vendors.md §5).
package tencenttest

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"paradise/internal/speech/tencent"
)

// Credentials the fake accepts.
const (
	SecretID  = "AKIDfaketestsecretid"
	SecretKey = "fake-tencent-secret-key"
)

// Server is the fake; the same server plays asr and tts (by X-TC-Action).
type Server struct {
	*httptest.Server
	// Transcript is what SentenceRecognition answers.
	Transcript string
	// Delay, when set, is waited before every answer.
	Delay time.Duration
	// Calls counts requests with a valid signature; Rejected the others.
	Calls    atomic.Int64
	Rejected atomic.Int64

	mu   sync.Mutex
	fail map[string][]string // action -> error codes to answer next
}

// New starts the fake; it stops with the test.
func New(t testing.TB) *Server {
	s := &Server{Transcript: "今天天气怎么样", fail: map[string][]string{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Config is a client configuration pointing at the fake.
func (s *Server) Config() tencent.Config {
	return tencent.Config{SecretID: SecretID, SecretKey: SecretKey, ASRURL: s.URL + "/", TTSURL: s.URL + "/"}
}

// FailNext makes the next call of action answer with the error code.
func (s *Server) FailNext(action, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[action] = append(s.fail[action], code)
}

func respond(w http.ResponseWriter, v map[string]any) {
	v["RequestId"] = "fake-request"
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"Response": v})
}

// apiError answers an error with HTTP 200, as API 3.0 does.
func apiError(w http.ResponseWriter, code, msg string) {
	respond(w, map[string]any{"Error": map[string]any{"Code": code, "Message": msg}})
}

// verify checks the Authorization header against the request.
func (s *Server) verify(r *http.Request, body []byte) (code, msg string) {
	auth := r.Header.Get("Authorization")
	rest, ok := strings.CutPrefix(auth, "TC3-HMAC-SHA256 ")
	if !ok {
		return "AuthFailure.InvalidAuthorization", "Authorization header is malformed"
	}
	parts := map[string]string{}
	for _, p := range strings.Split(rest, ", ") {
		k, v, _ := strings.Cut(p, "=")
		parts[k] = v
	}
	cred := strings.Split(parts["Credential"], "/")
	if len(cred) != 4 || cred[3] != "tc3_request" {
		return "AuthFailure.InvalidAuthorization", "Credential is malformed"
	}
	if cred[0] != SecretID {
		return "AuthFailure.SecretIdNotFound", "The SecretId is not found"
	}
	ts, err := strconv.ParseInt(r.Header.Get("X-TC-Timestamp"), 10, 64)
	if err != nil {
		return "MissingParameter", "X-TC-Timestamp"
	}
	at := time.Unix(ts, 0)
	if time.Since(at).Abs() > 5*time.Minute {
		return "AuthFailure.SignatureExpire", "Signature expired"
	}
	if cred[1] != at.UTC().Format("2006-01-02") {
		return "AuthFailure.SignatureFailure", "credential date does not match the timestamp"
	}
	signed := strings.Split(parts["SignedHeaders"], ";")
	headers := map[string]string{}
	hasCT, hasHost := false, false
	for _, h := range signed {
		v := r.Header.Get(h)
		if h == "host" {
			v, hasHost = r.Host, true
		}
		hasCT = hasCT || h == "content-type"
		headers[h] = v
	}
	if !hasCT || !hasHost {
		return "AuthFailure.SignatureFailure", "content-type and host must be signed"
	}
	want := tencent.Sign(SecretID, SecretKey, cred[2], headers, body, at)
	if parts["Signature"] != want.Signature {
		return "AuthFailure.SignatureFailure", "The provided credentials could not be validated."
	}
	return "", ""
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	time.Sleep(s.Delay)
	body, _ := io.ReadAll(r.Body)
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if code, msg := s.verify(r, body); code != "" {
		s.Rejected.Add(1)
		apiError(w, code, msg)
		return
	}
	s.Calls.Add(1)
	action := r.Header.Get("X-TC-Action")
	s.mu.Lock()
	if q := s.fail[action]; len(q) > 0 {
		s.fail[action] = q[1:]
		s.mu.Unlock()
		apiError(w, q[0], "failed on purpose")
		return
	}
	s.mu.Unlock()
	switch action {
	case "SentenceRecognition":
		s.sentence(w, r, body)
	case "TextToVoice":
		s.textToVoice(w, r, body)
	default:
		apiError(w, "InvalidAction", "unknown action "+action)
	}
}

func (s *Server) sentence(w http.ResponseWriter, r *http.Request, body []byte) {
	var req struct {
		EngSerViceType string
		SourceType     *int
		VoiceFormat    string
		Data           string
		DataLen        int
	}
	if r.Header.Get("X-TC-Version") != "2019-06-14" || json.Unmarshal(body, &req) != nil || req.SourceType == nil || *req.SourceType != 1 {
		apiError(w, "InvalidParameter", "bad SentenceRecognition request")
		return
	}
	if !strings.HasPrefix(req.EngSerViceType, "16k_") && !strings.HasPrefix(req.EngSerViceType, "8k_") {
		apiError(w, "InvalidParameterValue.ErrorInvalidEngservice", "EngSerViceType")
		return
	}
	switch req.VoiceFormat {
	case "wav", "pcm", "ogg-opus", "mp3", "speex", "silk", "m4a", "aac", "amr":
	default:
		apiError(w, "InvalidParameterValue.ErrorInvalidVoiceFormat", "VoiceFormat")
		return
	}
	audio, err := base64.StdEncoding.DecodeString(req.Data)
	if err != nil || len(audio) != req.DataLen || len(audio) == 0 {
		apiError(w, "InvalidParameter.ErrorInvalidVoicedata", "Data and DataLen disagree")
		return
	}
	if len(req.Data) > 3<<20 {
		apiError(w, "InvalidParameterValue.ErrorVoicedataTooLong", "over 3 MB")
		return
	}
	respond(w, map[string]any{"Result": s.Transcript, "AudioDuration": len(audio) / 32, "WordSize": 0, "WordList": nil})
}

func (s *Server) textToVoice(w http.ResponseWriter, r *http.Request, body []byte) {
	var req struct {
		Text       string
		SessionID  string `json:"SessionId"`
		VoiceType  int64
		Codec      string
		SampleRate int
	}
	if r.Header.Get("X-TC-Version") != "2019-08-23" || json.Unmarshal(body, &req) != nil || req.SessionID == "" {
		apiError(w, "InvalidParameter", "bad TextToVoice request")
		return
	}
	if strings.TrimSpace(req.Text) == "" {
		apiError(w, "InvalidParameterValue.InvalidText", "Text is empty")
		return
	}
	switch req.Codec {
	case "", "wav", "mp3", "pcm":
	default:
		apiError(w, "InvalidParameterValue.Codec", "Codec")
		return
	}
	respond(w, map[string]any{"Audio": base64.StdEncoding.EncodeToString(Audio(req.Text)), "SessionId": req.SessionID, "Subtitles": nil})
}

// Audio is the fake's deterministic "speech" for text (320 bytes a rune).
func Audio(text string) []byte {
	rs := []rune(text)
	out := make([]byte, 320*len(rs))
	for i := range out {
		out[i] = byte(int(rs[i/320]) ^ i)
	}
	return out
}
