package device

import (
	"context"
	"net/http"
	"time"

	"paradise/gen/api"
	"paradise/internal/account"
	"paradise/internal/apperr"
	"paradise/internal/httpapi"
)

// DeviceChallenge implements deviceChallenge (POST /api/device/challenge/).
func (h *Handler) DeviceChallenge(ctx context.Context, req *api.MacRequest) (*api.DeviceChallengeEnvelope, error) {
	mac, err := macField(string(req.MACAddress))
	if err != nil {
		return nil, err
	}
	if err := h.guard.DeviceLogin(ctx, httpapi.ClientIP(ctx), mac); err != nil {
		return nil, err
	}
	nonce, ttl, err := h.creds.Challenge(ctx, mac)
	if err != nil {
		return nil, err
	}
	return &api.DeviceChallengeEnvelope{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage,
		Data: api.DeviceChallenge{Nonce: nonce, ExpiresIn: int(ttl / time.Second), ServerTime: time.Now().Unix()}}, nil
}

// DeviceLogin implements deviceLogin (POST /api/device/login/): the
// challenge-response login, answered as a MAC login is.
func (h *Handler) DeviceLogin(ctx context.Context, req *api.DeviceLoginRequest) (*api.MacLoginEnvelope, error) {
	mac, err := macField(string(req.MACAddress))
	if err != nil {
		return nil, err
	}
	if err := h.guard.DeviceLogin(ctx, httpapi.ClientIP(ctx), mac); err != nil {
		return nil, err
	}
	if _, err := h.creds.Verify(ctx, Proof{MAC: mac, Nonce: req.Nonce, Timestamp: req.Timestamp, Signature: req.Signature}); err != nil {
		return nil, err
	}
	userID, owned, err := h.devices.ResolveOwner(ctx, mac)
	if err != nil {
		return nil, err
	}
	return h.loginAsDevice(ctx, userID, owned)
}

// CreateClaimCode implements createClaimCode (POST /api/device/claim-code/):
// device tokens only.
func (h *Handler) CreateClaimCode(ctx context.Context) (*api.ClaimCodeEnvelope, error) {
	caller := account.PrincipalFrom(ctx)
	if !caller.Session.IsDevice() {
		return nil, apperr.Forbidden("Only a device token can ask for a claim code.")
	}
	code, ttl, err := h.claims.Issue(ctx, caller.Session.MAC)
	if err != nil {
		return nil, err
	}
	return &api.ClaimCodeEnvelope{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage,
		Data: api.ClaimCode{Code: code, ExpiresIn: int(ttl / time.Second)}}, nil
}

// ClaimDevice implements claimDevice (POST /api/device/claim/): a bind by
// claim code, rate-limited per user and per client IP.
func (h *Handler) ClaimDevice(ctx context.Context, req *api.ClaimRequest) (*api.DeviceEnvelope, error) {
	userID := account.PrincipalFrom(ctx).User.ID
	if err := h.guard.Claim(ctx, userID, httpapi.ClientIP(ctx)); err != nil {
		return nil, err
	}
	mac, err := h.claims.Redeem(ctx, req.ClaimCode)
	if err != nil {
		return nil, err
	}
	return h.bind(ctx, userID, mac, req.Name, req.DeviceTypeID)
}

// AdminProvisionDeviceSecret implements adminProvisionDeviceSecret
// (POST /api/v1/admin/device-secrets/).
func (h *Handler) AdminProvisionDeviceSecret(ctx context.Context, req *api.MacRequest) (*api.DeviceSecretEnvelope, error) {
	p, err := h.creds.Provision(ctx, string(req.MACAddress))
	if err != nil {
		return nil, err
	}
	return &api.DeviceSecretEnvelope{Success: true, Code: http.StatusCreated, Message: "Secret provisioned; it is not shown again.",
		Data: api.DeviceSecret{DeviceID: p.DeviceID, MACAddress: api.MacAddress(p.MACAddress), Secret: p.Secret, SecretSetAt: p.SetAt}}, nil
}

// AdminSetDeviceMacLogin implements adminSetDeviceMacLogin
// (PUT /api/v1/admin/devices/{id}/mac-login/).
func (h *Handler) AdminSetDeviceMacLogin(ctx context.Context, req *api.MacLoginPolicyRequest, params api.AdminSetDeviceMacLoginParams) (*api.DeviceCredentialsEnvelope, error) {
	c, err := h.creds.SetMACLogin(ctx, params.ID, string(req.MACLogin))
	if err != nil {
		return nil, err
	}
	return &api.DeviceCredentialsEnvelope{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage,
		Data: api.DeviceCredentials{DeviceID: c.DeviceID, MACAddress: api.MacAddress(c.MACAddress), HasSecret: c.HasSecret,
			SecretSetAt: httpapi.NilTime(c.SecretSetAt), MACLogin: api.MacLoginPolicy(c.MACLogin), MACLoginAllowed: c.MACLoginAllowed}}, nil
}
