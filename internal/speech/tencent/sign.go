package tencent

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strconv"
	"strings"
	"time"
)

func sha256hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// Signed is a TC3-HMAC-SHA256 signature with its intermediate values
// (the published vectors give them, so tests check each step).
type Signed struct {
	CanonicalRequest string
	StringToSign     string
	SigningKey       []byte
	Signature        string
	Authorization    string
}

// Sign computes TC3-HMAC-SHA256 (docs/vendors.md §5b) for a POST to / with
// no query string. headers maps lower-case names to values; every header
// given is signed, lower-cased, in name order.
func Sign(secretID, secretKey, service string, headers map[string]string, body []byte, ts time.Time) Signed {
	names := make([]string, 0, len(headers))
	for k := range headers {
		names = append(names, strings.ToLower(k))
	}
	sort.Strings(names)
	lower := make(map[string]string, len(headers))
	for k, v := range headers {
		lower[strings.ToLower(k)] = v
	}
	var canon strings.Builder
	for _, k := range names {
		canon.WriteString(k + ":" + strings.ToLower(strings.TrimSpace(lower[k])) + "\n")
	}
	signedHeaders := strings.Join(names, ";")
	var s Signed
	s.CanonicalRequest = "POST\n/\n\n" + canon.String() + "\n" + signedHeaders + "\n" + sha256hex(body)
	date := ts.UTC().Format("2006-01-02")
	scope := date + "/" + service + "/tc3_request"
	s.StringToSign = "TC3-HMAC-SHA256\n" + strconv.FormatInt(ts.Unix(), 10) + "\n" + scope + "\n" + sha256hex([]byte(s.CanonicalRequest))
	kDate := hmacSHA256([]byte("TC3"+secretKey), date)
	kService := hmacSHA256(kDate, service)
	s.SigningKey = hmacSHA256(kService, "tc3_request")
	s.Signature = hex.EncodeToString(hmacSHA256(s.SigningKey, s.StringToSign))
	s.Authorization = "TC3-HMAC-SHA256 Credential=" + secretID + "/" + scope + ", SignedHeaders=" + signedHeaders + ", Signature=" + s.Signature
	return s
}
