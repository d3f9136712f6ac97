package rtc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// VoiceChatVersion is the OpenAPI version of the voice chat actions.
const VoiceChatVersion = "2024-12-01"

// The voice chat actions (vendors.md §2a).
const (
	ActionStart  = "StartVoiceChat"
	ActionUpdate = "UpdateVoiceChat"
	ActionStop   = "StopVoiceChat"
)

// VoiceChat drives the cloud voice agent; Client implements it.
type VoiceChat interface {
	Call(ctx context.Context, action string, body any) error
}

// Client calls the Volcengine OpenAPI with signed requests.
type Client struct {
	endpoint *url.URL
	creds    Credentials
	http     *http.Client
	now      func() time.Time
}

// NewClient returns a client of the OpenAPI at endpoint
// (https://rtc.volcengineapi.com) signing with creds.
func NewClient(endpoint string, creds Credentials, hc *http.Client) (*Client, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("rtc: openapi endpoint: %w", err)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	return &Client{endpoint: u, creds: creds, http: hc, now: time.Now}, nil
}

// VendorError is an error answer of the OpenAPI gateway or the service
// (ResponseMetadata.Error), or a transport failure (Status 0).
type VendorError struct {
	Action    string
	Status    int
	Code      string
	CodeN     int
	Message   string
	RequestID string
	Err       error
}

func (e *VendorError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("rtc: %s: %v", e.Action, e.Err)
	}
	return fmt.Sprintf("rtc: %s: HTTP %d %s (%d): %s (request %s)", e.Action, e.Status, e.Code, e.CodeN, e.Message, e.RequestID)
}

func (e *VendorError) Unwrap() error { return e.Err }

// responseMetadata is the envelope of every OpenAPI answer; what Result
// holds on success is not settled (vendors.md §2d), so it is not read.
type responseMetadata struct {
	ResponseMetadata struct {
		RequestID string `json:"RequestId"`
		Action    string
		Error     *struct {
			Code    string
			CodeN   int
			Message string
		}
	}
}

// maxResponse bounds what is read of an answer.
const maxResponse = 1 << 20

// Call posts body as JSON to the action and returns nil on success or a
// *VendorError.
func (c *Client) Call(ctx context.Context, action string, body any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("rtc: %s: encode: %w", action, err)
	}
	u := *c.endpoint
	u.RawQuery = url.Values{"Action": {action}, "Version": {VoiceChatVersion}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("rtc: %s: %w", action, err)
	}
	req.Header.Set("Content-Type", "application/json")
	c.creds.Sign(req, raw, c.now())
	resp, err := c.http.Do(req)
	if err != nil {
		return &VendorError{Action: action, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return &VendorError{Action: action, Status: resp.StatusCode, Err: err}
	}
	var meta responseMetadata
	jsonErr := json.Unmarshal(data, &meta)
	if e := meta.ResponseMetadata.Error; jsonErr == nil && e != nil {
		return &VendorError{Action: action, Status: resp.StatusCode, Code: e.Code, CodeN: e.CodeN,
			Message: e.Message, RequestID: meta.ResponseMetadata.RequestID}
	}
	if resp.StatusCode/100 != 2 {
		return &VendorError{Action: action, Status: resp.StatusCode, Code: http.StatusText(resp.StatusCode),
			Message: "unexpected answer", RequestID: meta.ResponseMetadata.RequestID}
	}
	if jsonErr != nil {
		return &VendorError{Action: action, Status: resp.StatusCode, Err: fmt.Errorf("decode answer: %w", jsonErr)}
	}
	return nil
}

// IsTaskGone reports whether err says the task or room no longer exists,
// which a stop treats as done.
func IsTaskGone(err error) bool {
	var ve *VendorError
	return errors.As(err, &ve) && (ve.Code == "TaskNotExist" || ve.Code == "RoomNotExist")
}
