package tencent

import (
	"encoding/hex"
	"testing"
	"time"
)

// The published TC3 vectors (docs/vendors.md §5b): shared inputs.
var (
	vectorBody = []byte(`{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}`)
	vectorTime = time.Unix(1551113065, 0)
)

const (
	exampleID  = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
	exampleKey = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
)

func TestSignVectors(t *testing.T) {
	if got := sha256hex(vectorBody); got != "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064" {
		t.Fatalf("payload hash %s", got)
	}
	for _, tc := range []struct {
		name      string
		headers   map[string]string
		key       string
		canonHash string
		signature string
	}{
		{"A: content-type;host", map[string]string{"Content-Type": "application/json; charset=utf-8", "Host": "cvm.tencentcloudapi.com"},
			exampleKey, "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031", "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"},
		{"A with the masked key", map[string]string{"Content-Type": "application/json; charset=utf-8", "Host": "cvm.tencentcloudapi.com"},
			"Gu5t9xGARNpq86cd98joQYCN3*******", "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031", "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"},
		{"B: content-type;host;x-tc-action", map[string]string{"Content-Type": "application/json; charset=utf-8", "Host": "cvm.tencentcloudapi.com", "X-TC-Action": "DescribeInstances"},
			exampleKey, "7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84", "644be983de9a8a3f00db8eadaba61467c3b429e2215758ba897b738ca469fd26"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := Sign(exampleID, tc.key, "cvm", tc.headers, vectorBody, vectorTime)
			if got := sha256hex([]byte(s.CanonicalRequest)); got != tc.canonHash {
				t.Fatalf("canonical request hash %s\n%s", got, s.CanonicalRequest)
			}
			if s.Signature != tc.signature {
				t.Fatalf("signature %s", s.Signature)
			}
			want := "TC3-HMAC-SHA256 Credential=" + exampleID + "/2019-02-25/cvm/tc3_request, SignedHeaders="
			if len(s.Authorization) < len(want) || s.Authorization[:len(want)] != want {
				t.Fatalf("authorization %s", s.Authorization)
			}
		})
	}
}

// TestDerivationVectorB checks the last two key derivation steps and the
// signature from the published SecretDate of vector B (its key is
// redacted in the doc, so the first step cannot be checked).
func TestDerivationVectorB(t *testing.T) {
	date, _ := hex.DecodeString("da98fb70dcf6b112dc21038d1eeeb3a95c74b4dcb12c1131f864f6066bd02be0")
	service := hmacSHA256(date, "cvm")
	if got := hex.EncodeToString(service); got != "8d70cbefb03939f929db64d32dc2ba89b1095620119fe3e050e2b18c5bd2752f" {
		t.Fatalf("SecretService %s", got)
	}
	signing := hmacSHA256(service, "tc3_request")
	if got := hex.EncodeToString(signing); got != "b596b923aad85185e2d1f6659d2a062e0a86731226e021e61bfe06f7ed05f5af" {
		t.Fatalf("SecretSigning %s", got)
	}
	s := Sign(exampleID, exampleKey, "cvm", map[string]string{"Content-Type": "application/json; charset=utf-8", "Host": "cvm.tencentcloudapi.com", "X-TC-Action": "DescribeInstances"}, vectorBody, vectorTime)
	if got := hex.EncodeToString(hmacSHA256(signing, s.StringToSign)); got != "10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f" {
		t.Fatalf("signature from the published key %s", got)
	}
}
