package rtc

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"go.uber.org/zap"

	"paradise/gen/api"
	"paradise/internal/account"
	"paradise/internal/apperr"
	"paradise/internal/config"
	"paradise/internal/device"
	"paradise/internal/httpapi"
	"paradise/internal/ratelimit"
)

// Handler serves the rtc operations of openapi.yaml.
type Handler struct {
	cfg     config.RTC
	tokens  *Tokens
	agents  *Agents
	devices Devices
	limiter *ratelimit.Limiter
	log     *zap.Logger
}

// NewHandler returns the rtc handler. It warns when the unauthenticated
// get_by_mac of the Django system is on.
func NewHandler(cfg config.RTC, tokens *Tokens, agents *Agents, devices Devices, limiter *ratelimit.Limiter, log *zap.Logger) *Handler {
	log = log.Named("rtc")
	if cfg.LegacyGetByMAC {
		log.Warn("PARADISE_RTC_LEGACY_GET_BY_MAC is on: GET /api/device/rtc-token/get_by_mac/ hands room tokens to anyone who knows a MAC address (rate limited per IP and per MAC); turn it off once devices send their token",
			zap.Int("per_ip_per_minute", cfg.LegacyPerIP), zap.Int("per_mac_per_minute", cfg.LegacyPerMAC))
	}
	return &Handler{cfg: cfg, tokens: tokens, agents: agents, devices: devices, limiter: limiter, log: log}
}

// GetRtcTokenByMac implements getRtcTokenByMac (GET /api/device/rtc-token/get_by_mac/).
func (h *Handler) GetRtcTokenByMac(ctx context.Context, params api.GetRtcTokenByMacParams) (*api.RtcTokenEnvelope, error) {
	if !h.cfg.TokensEnabled() {
		return nil, errNotConfigured()
	}
	mac, err := device.NormalizeMAC(string(params.MACAddress))
	if err != nil {
		return nil, apperr.Field("mac_address", err.Error())
	}
	p := account.PrincipalFrom(ctx)
	switch {
	case p == nil && !h.cfg.LegacyGetByMAC:
		return nil, apperr.Unauthorized("Authentication credentials were not provided.")
	case p == nil:
		if err := h.limitLegacy(ctx, mac); err != nil {
			return nil, err
		}
	case !p.Session.IsDevice():
		return nil, errNotYourDevice("Use the device's token (MAC login), or getRtcToken for the app.")
	case p.Session.MAC != mac:
		return nil, errNotYourDevice("A device token may only ask for its own device.")
	}
	owner, _, err := h.devices.ResolveOwner(ctx, mac)
	if err != nil {
		return nil, err
	}
	tok, err := h.tokens.For(ctx, owner, DeviceUserID(mac))
	if err != nil {
		return nil, err
	}
	return &api.RtcTokenEnvelope{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage, Data: tokenToAPI(tok)}, nil
}

// limitLegacy applies the per-IP and per-MAC limits of unauthenticated
// calls, failing closed when Redis is down.
func (h *Handler) limitLegacy(ctx context.Context, mac string) error {
	checks := []struct {
		key string
		n   int
	}{{"rtc:get_by_mac:mac:" + mac, h.cfg.LegacyPerMAC}}
	if ip := clientIP(ctx); ip != "" {
		checks = append([]struct {
			key string
			n   int
		}{{"rtc:get_by_mac:ip:" + ip, h.cfg.LegacyPerIP}}, checks...)
	}
	for _, c := range checks {
		d, err := h.limiter.Allow(ctx, c.key, ratelimit.PerMinute(int64(c.n)), int64(c.n))
		if err != nil {
			return err
		}
		if err := d.Err("Too many requests; try again later."); err != nil {
			return err
		}
	}
	return nil
}

// GetRtcToken implements getRtcToken (GET /api/device/rtc-token/).
func (h *Handler) GetRtcToken(ctx context.Context) (*api.RtcTokenEnvelope, error) {
	p := account.PrincipalFrom(ctx)
	rtcUser := AppUserID(p.User.ID)
	if p.Session.IsDevice() {
		rtcUser = DeviceUserID(p.Session.MAC)
	}
	tok, err := h.tokens.For(ctx, p.User.ID, rtcUser)
	if err != nil {
		return nil, err
	}
	return &api.RtcTokenEnvelope{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage, Data: tokenToAPI(tok)}, nil
}

// GetRtcAgent implements getRtcAgent (GET /api/device/rtc-agent/).
func (h *Handler) GetRtcAgent(ctx context.Context) (*api.RtcAgentEnvelope, error) {
	a, err := h.agents.Get(ctx, account.PrincipalFrom(ctx).User.ID)
	if err != nil {
		return nil, err
	}
	return agentEnvelope(a), nil
}

// StartRtcAgent implements startRtcAgent (POST /api/device/rtc-agent/start/).
func (h *Handler) StartRtcAgent(ctx context.Context, req *api.MacRequest) (*api.RtcAgentEnvelope, error) {
	p := account.PrincipalFrom(ctx)
	a, _, err := StartFor(ctx, h.agents, h.devices, p.User.ID, p.Session.MAC, string(req.MACAddress))
	if err != nil {
		return nil, err
	}
	return agentEnvelope(a), nil
}

// StartFor starts the agent for a caller: user, and sessionMAC for a
// device session; rawMAC names the device (a device may leave it empty).
func StartFor(ctx context.Context, agents *Agents, devices Devices, user int, sessionMAC, rawMAC string) (Agent, bool, error) {
	mac, deviceID, err := CheckDevice(ctx, devices, user, sessionMAC, rawMAC)
	if err != nil {
		return Agent{}, false, err
	}
	return agents.Start(ctx, user, mac, deviceID)
}

// CheckDevice resolves the device an agent is asked for and checks that
// it is the user's (and, for a device session, the session's own); it
// returns the normalised MAC and the device id.
func CheckDevice(ctx context.Context, devices Devices, user int, sessionMAC, rawMAC string) (string, int, error) {
	mac := sessionMAC
	if rawMAC != "" {
		m, err := device.NormalizeMAC(rawMAC)
		if err != nil {
			return "", 0, apperr.Field("mac_address", err.Error())
		}
		if sessionMAC != "" && m != sessionMAC {
			return "", 0, errNotYourDevice("A device token may only ask for its own device.")
		}
		mac = m
	}
	if mac == "" {
		return "", 0, apperr.Field("mac_address", "This field is required.")
	}
	owner, owned, err := devices.ResolveOwner(ctx, mac)
	var ae *apperr.Error
	if errors.As(err, &ae) && ae.Code == apperr.CodeDeviceNotBound || err == nil && owner != user {
		return "", 0, errNotYourDevice("The device is not bound to you.")
	}
	if err != nil {
		return "", 0, err
	}
	return mac, owned.Device.ID, nil
}

// InterruptRtcAgent implements interruptRtcAgent (POST /api/device/rtc-agent/interrupt/).
func (h *Handler) InterruptRtcAgent(ctx context.Context) (*api.EmptyEnvelope, error) {
	if err := h.agents.Update(ctx, account.PrincipalFrom(ctx).User.ID, "Interrupt", "", 0); err != nil {
		return nil, err
	}
	return ok(), nil
}

// speakModes are ExternalTextToSpeech's InterruptMode values.
var speakModes = map[api.RtcSpeakRequestWhen]int{
	api.RtcSpeakRequestWhenNow: 1, api.RtcSpeakRequestWhenAfter: 2, api.RtcSpeakRequestWhenIfIdle: 3,
}

// SpeakRtcAgent implements speakRtcAgent (POST /api/device/rtc-agent/speak/).
func (h *Handler) SpeakRtcAgent(ctx context.Context, req *api.RtcSpeakRequest) (*api.EmptyEnvelope, error) {
	if strings.TrimSpace(req.Text) == "" {
		return nil, apperr.Field("text", "This field may not be blank.")
	}
	mode := speakModes[req.When.Or(api.RtcSpeakRequestWhenNow)]
	if err := h.agents.Update(ctx, account.PrincipalFrom(ctx).User.ID, "ExternalTextToSpeech", req.Text, mode); err != nil {
		return nil, err
	}
	return ok(), nil
}

// StopRtcAgent implements stopRtcAgent (POST /api/device/rtc-agent/stop/).
func (h *Handler) StopRtcAgent(ctx context.Context) (*api.EmptyEnvelope, error) {
	if err := h.agents.Stop(ctx, account.PrincipalFrom(ctx).User.ID, "", StopRequested); err != nil {
		return nil, err
	}
	return ok(), nil
}

// RtcAgentChatCompletion implements rtcAgentChatCompletion (POST
// /api/rtc/agent/{task_id}/chat/completions/). The LLM route in front of
// the ogen server serves every request of this path (it needs the Bearer
// key, which the operation has no parameter for), so this only answers if
// that route is not mounted.
func (h *Handler) RtcAgentChatCompletion(context.Context, *api.AgentChatRequest, api.RtcAgentChatCompletionParams) (*api.AgentChatCompletion, error) {
	return nil, errTaskKey()
}

func ok() *api.EmptyEnvelope {
	return &api.EmptyEnvelope{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage}
}

func tokenToAPI(t Token) api.RtcToken {
	return api.RtcToken{AppID: t.AppID, RoomID: t.RoomID, UserID: t.UserID, Token: t.Token, ExpiresAt: t.ExpiresAt}
}

func agentEnvelope(a Agent) *api.RtcAgentEnvelope {
	conv := api.NilInt{Null: true}
	if a.ConversationID > 0 {
		conv = api.NewNilInt(a.ConversationID)
	}
	return &api.RtcAgentEnvelope{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage, Data: api.RtcAgent{
		RoomID: a.RoomID, TaskID: a.TaskID, State: api.RtcAgentState(a.State), Mode: api.RtcAgentMode(a.Mode),
		MACAddress: a.MAC, ConversationID: conv, StartedAt: a.StartedAt}}
}

type clientIPKey struct{}

// clientIP is the caller's address the get_by_mac route put on the
// context.
func clientIP(ctx context.Context) string {
	s, _ := ctx.Value(clientIPKey{}).(string)
	return s
}

// LegacyRoute sits in front of the ogen server on get_by_mac to put the
// client's IP on the request for the legacy mode's per-IP limit: the
// direct peer, or behind a trusted proxy the last X-Forwarded-For hop.
type LegacyRoute struct{ trusted []netip.Prefix }

// NewLegacyRoute returns the get_by_mac route.
func NewLegacyRoute(cfg config.HTTP) *LegacyRoute { return &LegacyRoute{trusted: cfg.TrustedProxies} }

// Route is the httpapi route.
func (l *LegacyRoute) Route() httpapi.Route {
	return httpapi.Route{Pattern: "GET /api/device/rtc-token/get_by_mac/{$}", Intercept: func(server http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ip := l.clientIP(r)
			server.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientIPKey{}, ip)))
		})
	}}
}

func (l *LegacyRoute) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	peer = peer.Unmap()
	for _, p := range l.trusted {
		if p.Contains(peer) {
			hops := strings.Split(r.Header.Get("X-Forwarded-For"), ",")
			if last, err := netip.ParseAddr(strings.TrimSpace(hops[len(hops)-1])); err == nil {
				return last.Unmap().String()
			}
		}
	}
	return peer.String()
}
