package rtc_test

import (
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"paradise/internal/rtc"
)

const (
	vectorAppID  = "0123456789abcdef01234567"
	vectorAppKey = "0123456789abcdef0123456789abcdef"
)

// TestTokenVectors checks both token vectors of vendors.md §1 byte for
// byte, and that each parses back and verifies.
func TestTokenVectors(t *testing.T) {
	first := &rtc.AccessToken{AppID: vectorAppID, RoomID: "room1", UserID: "user1",
		Nonce: 12345678, IssuedAt: 1700000000, ExpireAt: 1700086400}
	first.AddPrivilege(rtc.PrivPublishStream, 1700086400)
	first.AddPrivilege(rtc.PrivSubscribeStream, 1700086400)
	second := &rtc.AccessToken{AppID: vectorAppID, RoomID: "r", UserID: "u", Nonce: 1, IssuedAt: 1700000000}
	second.AddPrivilege(rtc.PrivSubscribeStream, 0)
	tests := []struct {
		name    string
		tok     *rtc.AccessToken
		msgHex  string // empty: not published
		sigHex  string
		want    string
		checkAt time.Time
	}{
		{"publish and subscribe", first,
			"4e61bc0000f15365804255650500726f6f6d31050075736572310500000080425565010080425565020080425565030080425565040080425565",
			"b9b6542d9675d02d8cdbd460b0c5c1608b4991ac8b6fe6721f1bb38a0b3b3fe5",
			"0010123456789abcdef01234567OgBOYbwAAPFTZYBCVWUFAHJvb20xBQB1c2VyMQUAAACAQlVlAQCAQlVlAgCAQlVlAwCAQlVlBACAQlVlIAC5tlQtlnXQLYzb1GCwxcFgi0mRrItv5nIfG7OKCzs/5Q==",
			time.Unix(1700000000, 0)},
		{"subscribe only, no expiry", second, "", "",
			"0010123456789abcdef01234567GgABAAAAAPFTZQAAAAABAHIBAHUBAAQAAAAAACAA++2Y0e1rP8PSNbT0YWoZ/iQa/R0avq/RxUP6CAwnN3w=",
			time.Unix(4000000000, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg, err := tc.tok.Message()
			if err != nil {
				t.Fatal(err)
			}
			if tc.msgHex != "" && hex.EncodeToString(msg) != tc.msgHex {
				t.Fatalf("msg = %x\nwant %s", msg, tc.msgHex)
			}
			if tc.sigHex != "" && hex.EncodeToString(rtc.Sign(vectorAppKey, msg)) != tc.sigHex {
				t.Fatalf("sig = %x, want %s", rtc.Sign(vectorAppKey, msg), tc.sigHex)
			}
			got, err := tc.tok.Serialize(vectorAppKey)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("token = %s\nwant    %s", got, tc.want)
			}
			p, err := rtc.ParseToken(tc.want)
			if err != nil {
				t.Fatalf("ParseToken: %v", err)
			}
			if p.RoomID != tc.tok.RoomID || p.UserID != tc.tok.UserID || p.Nonce != tc.tok.Nonce ||
				p.IssuedAt != tc.tok.IssuedAt || p.ExpireAt != tc.tok.ExpireAt || len(p.Privileges) != len(tc.tok.Privileges) {
				t.Fatalf("parsed %+v, want %+v", p.AccessToken, *tc.tok)
			}
			if err := p.Verify(vectorAppID, vectorAppKey, tc.checkAt); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !p.Allows(rtc.PrivSubscribeStream, tc.checkAt) {
				t.Fatal("subscribe not allowed")
			}
		})
	}
}

// TestVerifyRefuses checks that expired, forged, foreign and malformed
// tokens are told apart.
func TestVerifyRefuses(t *testing.T) {
	const tok = "0010123456789abcdef01234567OgBOYbwAAPFTZYBCVWUFAHJvb20xBQB1c2VyMQUAAACAQlVlAQCAQlVlAgCAQlVlAwCAQlVlBACAQlVlIAC5tlQtlnXQLYzb1GCwxcFgi0mRrItv5nIfG7OKCzs/5Q=="
	p, err := rtc.ParseToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		appID  string
		appKey string
		now    time.Time
		want   error
	}{
		{"expired", vectorAppID, vectorAppKey, time.Unix(1700086401, 0), rtc.ErrTokenExpired},
		{"last valid second", vectorAppID, vectorAppKey, time.Unix(1700086400, 0), nil},
		{"wrong key", vectorAppID, "another-key-another-key-another!", time.Unix(1700000000, 0), rtc.ErrTokenSignature},
		{"another app", "abcdefabcdefabcdefabcdef", vectorAppKey, time.Unix(1700000000, 0), rtc.ErrTokenWrongAppID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := p.Verify(tc.appID, tc.appKey, tc.now); !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
	for _, bad := range []string{"", "002" + tok[3:], tok[:27], tok[:len(tok)-8], tok[:27] + "!!!!"} {
		if _, err := rtc.ParseToken(bad); !errors.Is(err, rtc.ErrMalformedToken) {
			t.Errorf("ParseToken(%q) = %v, want ErrMalformedToken", bad, err)
		}
	}
}

// TestSignatureVector checks the OpenAPI signature against the published
// vector of vendors.md §2e (volcengine.com/docs/6369/67270).
func TestSignatureVector(t *testing.T) {
	c := rtc.Credentials{AccessKey: "AKLTMjI2ODVlYzI3ZGY1NGU4ZjhjYWRjMTlmNTM5OTZkYzE",
		SecretKey: "TnpCak5XWXpZV1U0WkRaaE5ERmxaR0ZpTmpjeVkyUXlZek0wTWpJMU1qWQ==", Region: "cn-north-1", Service: "iam"}
	u, _ := url.Parse("https://iam.volcengineapi.com/?Action=ListUsers&Limit=10&Offset=0&Version=2018-01-01")
	req := &http.Request{Method: http.MethodGet, URL: u, Host: u.Host, Header: http.Header{}}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	now := time.Date(2020, 12, 30, 8, 18, 5, 0, time.UTC)
	c.Sign(req, nil, now)

	if got, want := hex.EncodeToString(c.SigningKey("20201230")), "e7d2eb478084eaaaf8f85c161de16f13d97e52e77bd0415f33e7feb561cccffd"; got != want {
		t.Errorf("signing key = %s, want %s", got, want)
	}
	bodyHash := req.Header.Get("X-Content-Sha256")
	canonical := rtc.CanonicalRequest("GET", "/", u.Query(), []string{"content-type", "host", "x-content-sha256", "x-date"},
		map[string]string{"content-type": req.Header.Get("Content-Type"), "host": u.Host, "x-content-sha256": bodyHash, "x-date": "20201230T081805Z"}, bodyHash)
	toSign := rtc.StringToSign("20201230T081805Z", "20201230/cn-north-1/iam/request", canonical)
	if want := "3a4d4dee07c3308a52da01bc12d7a83c3705bfa543f51648f46de880bb2a7447"; toSign[len(toSign)-64:] != want {
		t.Errorf("hash of the canonical request = %s, want %s", toSign[len(toSign)-64:], want)
	}
	want := "HMAC-SHA256 Credential=AKLTMjI2ODVlYzI3ZGY1NGU4ZjhjYWRjMTlmNTM5OTZkYzE/20201230/cn-north-1/iam/request, " +
		"SignedHeaders=content-type;host;x-content-sha256;x-date, Signature=28eeabbbd726b87002e0fe58ad8c1c768e619b06e2646f35b6ad7ed029a6d8a7"
	if got := req.Header.Get("Authorization"); got != want {
		t.Fatalf("Authorization = %s\nwant            %s", got, want)
	}
}
