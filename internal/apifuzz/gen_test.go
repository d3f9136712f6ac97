package apifuzz_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"paradise"
	"paradise/internal/apifuzz"
)

func TestEncode(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"object keeps member order", apifuzz.Object{{Key: "b", Value: int64(1)}, {Key: "a", Value: true}}, `{"b":1,"a":true}`},
		{"NUL is escaped", "a\x00b", `"a\u0000b"`},
		{"invalid UTF-8 stays as is", "a\xffb", "\"a\xffb\""},
		{"quote and backslash escaped", `"\`, `"\"\\"`},
		{"number literal as is", apifuzz.Number("99999999999999999999"), `99999999999999999999`},
		{"raw text as is", apifuzz.Raw(`"\ud800"`), `"\ud800"`},
		{"array and null", []any{nil, "x"}, `[null,"x"]`},
		{"map keys sorted", map[string]any{"b": "2", "a": "1"}, `{"a":"1","b":"2"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(apifuzz.Encode(tc.v)); got != tc.want {
				t.Fatalf("Encode = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestSweepDeterministic: a seed must always produce the same requests,
// or a printed seed would not reproduce a failure.
func TestSweepDeterministic(t *testing.T) {
	ops, err := apifuzz.LoadOperations(paradise.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	a, b := apifuzz.New(7, nil).Sweep(ops), apifuzz.New(7, nil).Sweep(ops)
	if len(a) != len(b) {
		t.Fatalf("sweeps of %d and %d requests", len(a), len(b))
	}
	for i := range a {
		if a[i].Case != b[i].Case || a[i].Target != b[i].Target || !bytes.Equal(a[i].Body, b[i].Body) {
			t.Fatalf("request %d differs: %s %s %q vs %s %s %q", i, a[i].Case, a[i].Target, a[i].Body, b[i].Case, b[i].Target, b[i].Body)
		}
	}
	other := apifuzz.New(8, nil).Sweep(ops)
	same := true
	for i := range a {
		same = same && bytes.Equal(a[i].Body, other[i].Body)
	}
	if same {
		t.Fatal("seeds 7 and 8 produced the same bodies")
	}
}

// TestSweepInSpec checks the generator against the spec itself: every
// in-spec body validates against its schema (kin-openapi counts lengths in
// characters), and every operation gets in-spec requests and mutations.
func TestSweepInSpec(t *testing.T) {
	ops, err := apifuzz.LoadOperations(paradise.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	perOp := map[string][2]int{}
	var multibyte bool
	for _, req := range apifuzz.New(1, nil).Sweep(ops) {
		n := perOp[req.Op.ID]
		if req.InSpec {
			n[0]++
		} else {
			n[1]++
		}
		perOp[req.Op.ID] = n
		if !req.InSpec || !req.HasBody {
			continue
		}
		if req.ContentType != "" && !strings.Contains(req.ContentType, "json") {
			continue // raw audio, checked by the server's own tests
		}
		var v any
		if err := json.Unmarshal(req.Body, &v); err != nil {
			t.Fatalf("%s %s: body is not JSON: %v: %s", req.Op.ID, req.Case, err, req.Body)
		}
		if err := req.Op.Body.VisitJSON(v); err != nil {
			t.Errorf("%s %s: in-spec body breaks the schema: %v", req.Op.ID, req.Case, err)
		}
		multibyte = multibyte || strings.ContainsAny(string(req.Body), "中😀")
	}
	for _, op := range ops {
		if n := perOp[op.ID]; n[0] == 0 || n[1] == 0 {
			t.Errorf("%s: %d in-spec and %d out-of-spec requests in the sweep; want some of each", op.ID, n[0], n[1])
		}
	}
	if !multibyte {
		t.Error("no in-spec body holds 3- or 4-byte characters")
	}
}
