package aliyun

import (
	"net/url"
	"testing"
)

// TestSignVector checks the POP signature against the published
// CreateToken example (docs/vendors.md §3a).
func TestSignVector(t *testing.T) {
	params := url.Values{
		"AccessKeyId":      {"my_access_key_id"},
		"Action":           {"CreateToken"},
		"Version":          {"2019-02-28"},
		"Format":           {"JSON"},
		"RegionId":         {"cn-shanghai"},
		"Timestamp":        {"2019-04-18T08:32:31Z"},
		"SignatureMethod":  {"HMAC-SHA1"},
		"SignatureVersion": {"1.0"},
		"SignatureNonce":   {"b924c8c3-6d03-4c5d-ad36-d984d3116788"},
	}
	eq(t, "AccessKeyId=my_access_key_id&Action=CreateToken&Format=JSON&RegionId=cn-shanghai&SignatureMethod=HMAC-SHA1&SignatureNonce=b924c8c3-6d03-4c5d-ad36-d984d3116788&SignatureVersion=1.0&Timestamp=2019-04-18T08%3A32%3A31Z&Version=2019-02-28",
		canonicalQuery(params))
	eq(t, "GET&%2F&AccessKeyId%3Dmy_access_key_id%26Action%3DCreateToken%26Format%3DJSON%26RegionId%3Dcn-shanghai%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3Db924c8c3-6d03-4c5d-ad36-d984d3116788%26SignatureVersion%3D1.0%26Timestamp%3D2019-04-18T08%253A32%253A31Z%26Version%3D2019-02-28",
		stringToSign("GET", params))
	sig := Sign("GET", params, "my_access_key_secret")
	eq(t, "hHq4yNsPitlfDJ2L0nQPdugdEzM=", sig)
	eq(t, "hHq4yNsPitlfDJ2L0nQPdugdEzM%3D", percentEncode(sig))
	// A POST signs a different string, so the signature differs.
	if sig == Sign("POST", params, "my_access_key_secret") {
		t.Fatal("POST and GET signatures are equal")
	}
}

func TestPercentEncode(t *testing.T) {
	for in, want := range map[string]string{
		"a b": "a%20b", "a*b": "a%2Ab", "a~b": "a~b", "a+b": "a%2Bb", "中": "%E4%B8%AD", "-_.": "-_.",
	} {
		eq(t, want, percentEncode(in))
	}
}

func eq[T comparable](t *testing.T, want, got T) {
	t.Helper()
	if want != got {
		t.Fatalf("want %v\n got %v", want, got)
	}
}
