// Package rtctest is a fake Volcengine OpenAPI for the voice chat actions
// (docs: ../shared/docs/vendors.md §2). It checks every request the way
// the gateway does, the signature rebuilt from the SignedHeaders list the
// client sent (in its order), records the Start/Update/Stop bodies, can
// fail with the documented gateway errors, and can play the agent: call a
// task's CustomLLM URL as the real agent does.
package rtctest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Gateway errors and their HTTP status (vendors.md §2d).
var gatewayStatus = map[string]struct {
	Status int
	CodeN  int
}{
	"MissingParameter": {400, 100002}, "MissingAuthenticationToken": {401, 100003}, "MissingRequestInfo": {400, 100004},
	"MissingSignature": {401, 100005}, "InvalidTimestamp": {403, 100006}, "ServiceNotFound": {404, 100007},
	"InvalidActionOrVersion": {404, 100008}, "InvalidAccessKey": {401, 100009}, "SignatureDoesNotMatch": {401, 100010},
	"AccessDenied": {403, 0}, "FlowLimitExceeded": {429, 0}, "InternalError": {500, 0}, "ServiceUnavailableTemp": {503, 0},
}

// Call is one accepted request.
type Call struct {
	Action string
	Body   map[string]any
}

// Fake is the fake OpenAPI server.
type Fake struct {
	URL string

	ak, sk, region string
	srv            *httptest.Server

	mu       sync.Mutex
	calls    []Call
	failNext map[string]string
	rejected []string
}

// New starts a fake accepting the credentials until the test ends.
func New(t testing.TB, accessKey, secretKey, region string) *Fake {
	f := &Fake{ak: accessKey, sk: secretKey, region: region, failNext: map[string]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL
	t.Cleanup(f.srv.Close)
	return f
}

// FailNext makes the next call of action fail with the gateway code.
func (f *Fake) FailNext(action, code string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failNext[action] = code
}

// Calls returns the accepted calls of action ("" for all), oldest first.
func (f *Fake) Calls(action string) []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Call
	for _, c := range f.calls {
		if action == "" || c.Action == action {
			out = append(out, c)
		}
	}
	return out
}

// Rejected returns the gateway codes of the requests refused for their
// signature or credentials.
func (f *Fake) Rejected() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.rejected...)
}

func (f *Fake) fail(w http.ResponseWriter, action, code string) {
	st := gatewayStatus[code]
	status := st.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"ResponseMetadata": map[string]any{
		"RequestId": "fake-req", "Action": action, "Version": "2024-12-01", "Service": "rtc", "Region": f.region,
		"Error": map[string]any{"Code": code, "CodeN": st.CodeN, "Message": "fake: " + code}}})
}

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	action, version := r.URL.Query().Get("Action"), r.URL.Query().Get("Version")
	body, _ := io.ReadAll(r.Body)
	if code := f.verify(r, body); code != "" {
		f.mu.Lock()
		f.rejected = append(f.rejected, code)
		f.mu.Unlock()
		f.fail(w, action, code)
		return
	}
	if r.Method != http.MethodPost || version != "2024-12-01" ||
		(action != "StartVoiceChat" && action != "UpdateVoiceChat" && action != "StopVoiceChat") {
		f.fail(w, action, "InvalidActionOrVersion")
		return
	}
	var parsed map[string]any
	if json.Unmarshal(body, &parsed) != nil || parsed["AppId"] == nil || parsed["RoomId"] == nil || parsed["TaskId"] == nil {
		f.fail(w, action, "MissingParameter")
		return
	}
	f.mu.Lock()
	code := f.failNext[action]
	delete(f.failNext, action)
	if code == "" {
		f.calls = append(f.calls, Call{Action: action, Body: parsed})
	}
	f.mu.Unlock()
	if code != "" {
		f.fail(w, action, code)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"ResponseMetadata": map[string]any{
		"RequestId": "fake-req", "Action": action, "Version": version, "Service": "rtc", "Region": f.region}, "Result": "ok"})
}

// verify checks the request's signature and returns the gateway code of
// what is wrong, or "".
func (f *Fake) verify(r *http.Request, body []byte) string {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return "MissingAuthenticationToken"
	}
	rest, ok := strings.CutPrefix(auth, "HMAC-SHA256 ")
	if !ok {
		return "MissingAuthenticationToken"
	}
	fields := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = v
	}
	cred := strings.Split(fields["Credential"], "/")
	if fields["Signature"] == "" || fields["SignedHeaders"] == "" {
		return "MissingSignature"
	}
	if len(cred) != 5 || cred[4] != "request" {
		return "MissingRequestInfo"
	}
	if cred[0] != f.ak {
		return "InvalidAccessKey"
	}
	xdate := r.Header.Get("X-Date")
	at, err := time.Parse("20060102T150405Z", xdate)
	if err != nil || time.Since(at).Abs() > 15*time.Minute || cred[1] != xdate[:8] {
		return "InvalidTimestamp"
	}
	if cred[2] != f.region || cred[3] != "rtc" {
		return "SignatureDoesNotMatch"
	}
	sum := sha256.Sum256(body)
	bodyHash := hex.EncodeToString(sum[:])
	if h := r.Header.Get("X-Content-Sha256"); h != "" && h != bodyHash {
		return "SignatureDoesNotMatch"
	}
	signed := strings.Split(fields["SignedHeaders"], ";")
	var canon strings.Builder
	for _, name := range signed {
		v := r.Header.Get(name)
		if name == "host" {
			v = r.Host
		}
		canon.WriteString(name + ":" + strings.TrimSpace(v) + "\n")
	}
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	creq := strings.Join([]string{r.Method, path, query(r.URL.Query()), canon.String(), fields["SignedHeaders"], bodyHash}, "\n")
	creqSum := sha256.Sum256([]byte(creq))
	scope := strings.Join(cred[1:], "/")
	toSign := "HMAC-SHA256\n" + xdate + "\n" + scope + "\n" + hex.EncodeToString(creqSum[:])
	key := []byte(f.sk)
	for _, s := range []string{cred[1], cred[2], cred[3], "request"} {
		key = mac(key, s)
	}
	if !hmac.Equal([]byte(hex.EncodeToString(mac(key, toSign))), []byte(fields["Signature"])) {
		return "SignatureDoesNotMatch"
	}
	return ""
}

func query(q url.Values) string {
	var pairs []string
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, enc(k)+"="+enc(v))
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

func enc(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

func mac(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// Task returns the last StartVoiceChat body of the task.
func (f *Fake) Task(taskID string) (map[string]any, bool) {
	calls := f.Calls("StartVoiceChat")
	for i := len(calls) - 1; i >= 0; i-- {
		if calls[i].Body["TaskId"] == taskID {
			return calls[i].Body, true
		}
	}
	return nil, false
}

// LLMConfig returns a started task's LLMConfig.
func (f *Fake) LLMConfig(taskID string) map[string]any {
	body, _ := f.Task(taskID)
	cfg, _ := body["Config"].(map[string]any)
	llm, _ := cfg["LLMConfig"].(map[string]any)
	return llm
}

// AgentTurn plays the agent hearing the user say text: it calls the
// task's CustomLLM Url with its APIKey as the real agent does (an OpenAI
// streaming request), and returns the HTTP status and, for a 200, the
// streamed reply. keyOverride, when set, replaces the key.
func (f *Fake) AgentTurn(ctx context.Context, taskID, text, keyOverride string) (int, string, error) {
	llm := f.LLMConfig(taskID)
	u, _ := llm["Url"].(string)
	key, _ := llm["APIKey"].(string)
	if keyOverride != "" {
		key = keyOverride
	}
	if u == "" {
		return 0, "", fmt.Errorf("rtctest: task %s has no CustomLLM Url", taskID)
	}
	body, _ := json.Marshal(map[string]any{"model": llm["ModelName"], "stream": true, "temperature": 0.7, "max_tokens": 512,
		"messages": []map[string]string{{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": text}}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, "", nil
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		return resp.StatusCode, "", fmt.Errorf("rtctest: Content-Type %q, want text/event-stream", ct)
	}
	var out strings.Builder
	done := false
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if data == "[DONE]" {
			done = true
			break
		}
		var chunk struct {
			Object  string
			Choices []struct {
				Delta struct{ Content string }
			}
			Error *struct{ Message string }
		}
		if err := json.Unmarshal([]byte(data), &chunk); err != nil {
			return resp.StatusCode, "", fmt.Errorf("rtctest: chunk %q: %w", data, err)
		}
		if chunk.Error != nil {
			return resp.StatusCode, out.String(), fmt.Errorf("rtctest: stream error: %s", chunk.Error.Message)
		}
		if chunk.Object != "chat.completion.chunk" {
			return resp.StatusCode, "", fmt.Errorf("rtctest: chunk object %q", chunk.Object)
		}
		for _, c := range chunk.Choices {
			out.WriteString(c.Delta.Content)
		}
	}
	if !done {
		return resp.StatusCode, out.String(), fmt.Errorf("rtctest: stream ended without [DONE]")
	}
	return resp.StatusCode, out.String(), sc.Err()
}
