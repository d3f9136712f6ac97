package aliyun

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
	"sort"
	"strings"
)

// percentEncode is POP's RFC 3986 encoding: only A-Za-z0-9-_.~ stay as
// they are (vendors.md §3a step 2: url.QueryEscape's "+" becomes "%20",
// "*" is encoded and "~" is not).
func percentEncode(s string) string {
	e := url.QueryEscape(s)
	e = strings.ReplaceAll(e, "+", "%20")
	e = strings.ReplaceAll(e, "*", "%2A")
	return strings.ReplaceAll(e, "%7E", "~")
}

// canonicalQuery joins the parameters but Signature, sorted by name, as
// percent-encoded k=v pairs.
func canonicalQuery(params url.Values) string {
	names := make([]string, 0, len(params))
	for k := range params {
		if k != "Signature" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, k := range names {
		parts = append(parts, percentEncode(k)+"="+percentEncode(params.Get(k)))
	}
	return strings.Join(parts, "&")
}

// stringToSign is METHOD&%2F&percentEncode(canonical query).
func stringToSign(method string, params url.Values) string {
	return method + "&" + percentEncode("/") + "&" + percentEncode(canonicalQuery(params))
}

// Sign is the POP RPC signature (HMAC-SHA1, SignatureVersion 1.0) of the
// parameters for method: base64 of HMAC-SHA1 keyed with secret + "&".
func Sign(method string, params url.Values, secret string) string {
	mac := hmac.New(sha1.New, []byte(secret+"&"))
	mac.Write([]byte(stringToSign(method, params)))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
