package rtc

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// The Volcengine OpenAPI signature, "HMAC-SHA256" (vendors.md §2e): a
// SigV4-like scheme whose scope ends in "request" and whose key chain
// starts from the raw secret key.

// SignAlgorithm is the algorithm name in the Authorization header.
const SignAlgorithm = "HMAC-SHA256"

// XDateLayout formats X-Date.
const XDateLayout = "20060102T150405Z"

// Credentials sign OpenAPI requests.
type Credentials struct {
	AccessKey string
	// SecretKey is used as is (no base64 decoding, no prefix).
	SecretKey string
	Region    string
	Service   string
}

// signedHeaders are the headers this client signs, in the order the
// official SDK signs them (ASCII).
var signedHeaders = []string{"content-type", "host", "x-content-sha256", "x-date"}

// Sign sets X-Date, X-Content-Sha256 and Authorization on req for body
// (the bytes req sends) at now.
func (c Credentials) Sign(req *http.Request, body []byte, now time.Time) {
	xdate := now.UTC().Format(XDateLayout)
	sum := sha256.Sum256(body)
	bodyHash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Date", xdate)
	req.Header.Set("X-Content-Sha256", bodyHash)
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	values := map[string]string{
		"content-type":     req.Header.Get("Content-Type"),
		"host":             host,
		"x-content-sha256": bodyHash,
		"x-date":           xdate,
	}
	canonical := CanonicalRequest(req.Method, req.URL.EscapedPath(), req.URL.Query(), signedHeaders, values, bodyHash)
	sig := c.Signature(xdate, canonical)
	req.Header.Set("Authorization", SignAlgorithm+" Credential="+c.AccessKey+"/"+c.scope(xdate)+
		", SignedHeaders="+strings.Join(signedHeaders, ";")+", Signature="+sig)
}

func (c Credentials) scope(xdate string) string {
	return xdate[:8] + "/" + c.Region + "/" + c.Service + "/request"
}

// SigningKey derives the day's signing key.
func (c Credentials) SigningKey(day string) []byte {
	k := hmacSHA256([]byte(c.SecretKey), day)
	k = hmacSHA256(k, c.Region)
	k = hmacSHA256(k, c.Service)
	return hmacSHA256(k, "request")
}

// Signature signs a canonical request made at xdate (X-Date's value).
func (c Credentials) Signature(xdate, canonicalRequest string) string {
	return hex.EncodeToString(hmacSHA256(c.SigningKey(xdate[:8]), StringToSign(xdate, c.scope(xdate), canonicalRequest)))
}

// StringToSign is the string the signing key signs.
func StringToSign(xdate, scope, canonicalRequest string) string {
	sum := sha256.Sum256([]byte(canonicalRequest))
	return SignAlgorithm + "\n" + xdate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
}

// CanonicalRequest builds the canonical request of the signature from the
// signed header names (lowercase, in the order signed) and their values.
func CanonicalRequest(method, escapedPath string, query url.Values, headers []string, values map[string]string, bodyHash string) string {
	if escapedPath == "" {
		escapedPath = "/"
	}
	var h strings.Builder
	for _, name := range headers {
		h.WriteString(name)
		h.WriteByte(':')
		v := strings.TrimSpace(values[name])
		if name == "host" {
			v = strings.TrimSuffix(strings.TrimSuffix(v, ":80"), ":443")
		}
		h.WriteString(v)
		h.WriteByte('\n')
	}
	return strings.Join([]string{method, escapedPath, canonicalQuery(query), h.String(), strings.Join(headers, ";"), bodyHash}, "\n")
}

// canonicalQuery sorts and encodes the query with %20 for spaces.
func canonicalQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vs := append([]string(nil), q[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			parts = append(parts, escape(k)+"="+escape(v))
		}
	}
	return strings.Join(parts, "&")
}

func escape(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}
