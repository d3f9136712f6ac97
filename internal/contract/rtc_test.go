package contract_test

import (
	"testing"

	"go.uber.org/fx"

	"paradise/internal/config"
	"paradise/internal/rtc/rtctest"
	"paradise/internal/testenv"
)

// The contract fixture runs with voice rooms on, the agent talking to a
// fake Volcengine OpenAPI.
const (
	rtcAccessKey = "AKLTcontract"
	rtcSecretKey = "contract-secret"
)

// withRTC turns voice rooms on in the fixture's service.
func withRTC(t *testing.T) (fx.Option, *rtctest.Fake) {
	fake := rtctest.New(t, rtcAccessKey, rtcSecretKey, "cn-north-1")
	return fx.Decorate(func(c config.RTC) config.RTC {
		c.AppID, c.AppKey = "0123456789abcdef01234567", "0123456789abcdef0123456789abcdef"
		c.AccessKey, c.SecretKey, c.OpenAPIURL = rtcAccessKey, rtcSecretKey, fake.URL
		// The agent's callback address; the cases call the endpoint
		// themselves.
		c.PublicBaseURL = "http://paradise.test"
		return c
	}), fake
}

// rtcOwner is a user with a bound device, and the device's MAC.
func rtcOwner(t *testing.T, f *fixture) (testenv.Login, string) {
	u := f.Register(t, "rtc")
	mac := newMAC()
	f.Bind(t, u.Token, mac)
	return u, mac
}

// rtcAgent starts an agent for a new owner and returns its token and the
// task's id and LLM key.
func rtcAgent(t *testing.T, f *fixture) (token, task, key string) {
	u, mac := rtcOwner(t, f)
	res := f.must(t, "POST", "/api/device/rtc-agent/start/", u.Token, map[string]any{"mac_address": mac}, 200)
	var a struct {
		TaskID string `json:"task_id"`
	}
	res.Decode(t, &a)
	llm := f.rtc.LLMConfig(a.TaskID)
	return u.Token, a.TaskID, llm["APIKey"].(string)
}

var rtcCases = map[string][]restCase{
	"getRtcTokenByMac": {
		{name: "device token", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/device/rtc-token/get_by_mac/?mac_address=" + f.mac, token: f.MacLogin(t, f.mac).Token}
		}},
		{name: "another device", status: 403, code: 4034, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/device/rtc-token/get_by_mac/?mac_address=" + newMAC(), token: f.MacLogin(t, f.mac).Token}
		}},
		{name: "no token, legacy mode off", status: 401, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/device/rtc-token/get_by_mac/?mac_address=" + f.mac}
		}},
		{name: "invalid MAC", status: 400, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/device/rtc-token/get_by_mac/?mac_address=zz", token: f.MacLogin(t, f.mac).Token}
		}},
	},
	"getRtcToken": {
		{name: "app", status: 200, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/device/rtc-token/", token: f.user.Token}
		}},
		{name: "no token", status: 401, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/device/rtc-token/"}
		}},
	},
	"getRtcAgent": {
		{name: "running", status: 200, setup: func(t *testing.T, f *fixture) call {
			token, _, _ := rtcAgent(t, f)
			return call{method: "GET", path: "/api/device/rtc-agent/", token: token}
		}},
		{name: "none", status: 404, code: 4032, setup: func(t *testing.T, f *fixture) call {
			return call{method: "GET", path: "/api/device/rtc-agent/", token: f.Register(t, "rtc").Token}
		}},
	},
	"startRtcAgent": {
		{name: "started", status: 200, setup: func(t *testing.T, f *fixture) call {
			u, mac := rtcOwner(t, f)
			return call{method: "POST", path: "/api/device/rtc-agent/start/", token: u.Token, body: map[string]any{"mac_address": mac}}
		}},
		{name: "not the caller's device", status: 403, code: 4034, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/device/rtc-agent/start/", token: f.Register(t, "rtc").Token, body: map[string]any{"mac_address": f.mac}}
		}},
		{name: "vendor refuses our signature", status: 502, code: 5051, setup: func(t *testing.T, f *fixture) call {
			u, mac := rtcOwner(t, f)
			f.rtc.FailNext("StartVoiceChat", "SignatureDoesNotMatch")
			return call{method: "POST", path: "/api/device/rtc-agent/start/", token: u.Token, body: map[string]any{"mac_address": mac}}
		}},
		{name: "vendor rate limit", status: 503, code: 5052, setup: func(t *testing.T, f *fixture) call {
			u, mac := rtcOwner(t, f)
			f.rtc.FailNext("StartVoiceChat", "FlowLimitExceeded")
			return call{method: "POST", path: "/api/device/rtc-agent/start/", token: u.Token, body: map[string]any{"mac_address": mac}}
		}},
	},
	"interruptRtcAgent": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			token, _, _ := rtcAgent(t, f)
			return call{method: "POST", path: "/api/device/rtc-agent/interrupt/", token: token}
		}},
		{name: "no agent", status: 404, code: 4032, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/device/rtc-agent/interrupt/", token: f.Register(t, "rtc").Token}
		}},
	},
	"speakRtcAgent": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			token, _, _ := rtcAgent(t, f)
			return call{method: "POST", path: "/api/device/rtc-agent/speak/", token: token, body: map[string]any{"text": "Hello!", "when": "now"}}
		}},
		{name: "text too long", status: 400, setup: func(t *testing.T, f *fixture) call {
			token, _, _ := rtcAgent(t, f)
			long := make([]byte, 201)
			for i := range long {
				long[i] = 'a'
			}
			return call{method: "POST", path: "/api/device/rtc-agent/speak/", token: token, body: map[string]any{"text": string(long)}}
		}},
	},
	"stopRtcAgent": {
		{name: "ok", status: 200, setup: func(t *testing.T, f *fixture) call {
			token, _, _ := rtcAgent(t, f)
			return call{method: "POST", path: "/api/device/rtc-agent/stop/", token: token}
		}},
		{name: "no agent", status: 404, code: 4032, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/device/rtc-agent/stop/", token: f.Register(t, "rtc").Token}
		}},
	},
	"rtcAgentChatCompletion": {
		{name: "one completion", status: 200, raw: true, setup: func(t *testing.T, f *fixture) call {
			_, task, key := rtcAgent(t, f)
			return call{method: "POST", path: "/api/rtc/agent/" + task + "/chat/completions/", auth: "Bearer " + key,
				body: map[string]any{"model": "paradise", "messages": []map[string]any{{"role": "user", "content": "Hi!"}}}}
		}},
		{name: "wrong key", status: 401, code: 4033, setup: func(t *testing.T, f *fixture) call {
			_, task, _ := rtcAgent(t, f)
			return call{method: "POST", path: "/api/rtc/agent/" + task + "/chat/completions/", auth: "Bearer wrong",
				body: map[string]any{"messages": []map[string]any{{"role": "user", "content": "Hi!"}}}}
		}},
		{name: "not a task", status: 404, setup: func(t *testing.T, f *fixture) call {
			return call{method: "POST", path: "/api/rtc/agent/nope/chat/completions/", auth: "Bearer x",
				body: map[string]any{"messages": []map[string]any{{"role": "user", "content": "Hi!"}}}}
		}},
	},
}

func init() {
	for id, cases := range rtcCases {
		restCases[id] = append(restCases[id], cases...)
	}
}
