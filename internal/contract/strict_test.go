package contract_test

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/go-faster/yaml"

	"paradise"
	"paradise/internal/device"
)

// The tests in this file hold openapi.yaml to what strict OpenAPI 3.0.3
// validators (Prism, Dredd) and generated SDKs read in it, where
// kin-openapi, which the exchange tests use, is lenient.

// TestNullableHasOwnType: in OpenAPI 3.0.3 `nullable: true` only adds null
// to a `type` declared in the same schema. Beside an allOf/oneOf/anyOf or a
// $ref, or without a type, strict validators still reject null, although
// kin-openapi accepts it.
func TestNullableHasOwnType(t *testing.T) {
	var raw map[string]any
	if err := yaml.Unmarshal(paradise.OpenAPI, &raw); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if v["nullable"] == true {
				_, hasType := v["type"]
				switch {
				case !hasType:
					t.Errorf("%s: nullable without a type of its own", path)
				case v["allOf"] != nil || v["oneOf"] != nil || v["anyOf"] != nil || v["$ref"] != nil:
					t.Errorf("%s: nullable beside allOf/oneOf/anyOf/$ref: strict validators still reject null", path)
				}
			}
			for _, k := range sortedKeys(v) {
				walk(path+"/"+k, v[k])
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s/%d", path, i), e)
			}
		}
	}
	walk("#", raw)
}

// TestNullableDeviceTypeIsDeviceType: NullableDeviceType repeats
// DeviceType's fields (so that it can be nullable in 3.0.3, see its
// description); the Go handler converts one generated struct into the
// other, and clients expect the same object.
func TestNullableDeviceTypeIsDeviceType(t *testing.T) {
	doc := loadOpenAPI(t)
	a := doc.Components.Schemas["DeviceType"].Value
	b := doc.Components.Schemas["NullableDeviceType"].Value
	if a == nil || b == nil {
		t.Fatal("openapi.yaml: DeviceType or NullableDeviceType missing")
	}
	if !b.Nullable || a.Nullable {
		t.Errorf("nullable: DeviceType %v, NullableDeviceType %v; want false, true", a.Nullable, b.Nullable)
	}
	ra, rb := append([]string(nil), a.Required...), append([]string(nil), b.Required...)
	sort.Strings(ra)
	sort.Strings(rb)
	if !reflect.DeepEqual(ra, rb) {
		t.Errorf("required: DeviceType %v, NullableDeviceType %v", ra, rb)
	}
	if ka, kb := sortedKeys(a.Properties), sortedKeys(b.Properties); !reflect.DeepEqual(ka, kb) {
		t.Fatalf("properties: DeviceType %v, NullableDeviceType %v", ka, kb)
	}
	for name, pa := range a.Properties {
		pb := b.Properties[name]
		if !reflect.DeepEqual(pa.Value.Type.Slice(), pb.Value.Type.Slice()) || pa.Value.Format != pb.Value.Format || pa.Value.Nullable != pb.Value.Nullable {
			t.Errorf("property %s: DeviceType %v %q, NullableDeviceType %v %q",
				name, pa.Value.Type, pa.Value.Format, pb.Value.Type, pb.Value.Format)
		}
	}
}

// TestBodyErrorStatuses: every operation with a request body lists 413 and
// 415, which internal/httpapi answers before any handler runs. Operations
// added later are held to it too (so is the Spectral rule
// paradise-body-413-415).
func TestBodyErrorStatuses(t *testing.T) {
	doc := loadOpenAPI(t)
	ops := operations(t, doc)
	for _, id := range sortedKeys(ops) {
		op := ops[id]
		if op.op.RequestBody == nil {
			continue
		}
		for _, status := range []int{413, 415} {
			if op.op.Responses.Status(status) == nil {
				t.Errorf("%s (%s %s) has a request body but no %d response", id, op.method, op.path, status)
			}
		}
	}
}

// TestMacAddressPattern: the pattern clients validate with accepts exactly
// what the server's NormalizeMAC accepts (within MacAddress's lengths).
func TestMacAddressPattern(t *testing.T) {
	doc := loadOpenAPI(t)
	s := doc.Components.Schemas["MacAddress"].Value
	if s == nil || s.Pattern == "" {
		t.Fatal("openapi.yaml: MacAddress has no pattern")
	}
	re := regexp.MustCompile(s.Pattern)
	for _, in := range []string{
		"AA:BB:CC:00:00:01", "aa:bb:cc:00:00:01", "AA-BB-CC-00-00-01", "aabbcc000001", "AABBCC000001",
		" AA:BB:CC:00:00:01 ", "\taabbcc000001\n",
		"AA:BB-CC:00:00:01", "AA:BB:CC:00:00", "AA:BB:CC:00:00:01:02", "GG:BB:CC:00:00:01", "aabbcc00000",
		"aabbcc0000011", "AA.BB.CC.00.00.01", "AABB:CC00:0001", "AA:BB:CC:00:00:1", "", "  ", "AA BB CC 00 00 01",
		"AA:BB:CC:00:00:01x", "xAA:BB:CC:00:00:01", strings.Repeat("a", 12) + "\n",
	} {
		_, err := device.NormalizeMAC(in)
		server := err == nil
		if got := re.MatchString(in); got != server {
			t.Errorf("%q: pattern matches %v, server accepts %v", in, got, server)
		}
	}
}
