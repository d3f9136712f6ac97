package device_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"paradise/internal/device"
)

func TestNormalizeMAC(t *testing.T) {
	const want = "AA:BB:CC:00:00:01"
	accepted := []struct {
		name string
		in   string
	}{
		{"canonical", "AA:BB:CC:00:00:01"},
		{"dashes", "AA-BB-CC-00-00-01"},
		{"bare lower", "aabbcc000001"},
		{"bare upper", "AABBCC000001"},
		{"colons lower", "aa:bb:cc:00:00:01"},
		{"dashes lower", "aa-bb-cc-00-00-01"},
		{"mixed case colons", "aA:Bb:cC:00:00:01"},
		{"mixed case bare", "AaBbCc000001"},
		{"surrounding spaces", "  aa:bb:cc:00:00:01  "},
		{"surrounding tabs and newline", "\taabbcc000001\n"},
	}
	for _, tc := range accepted {
		t.Run("accept/"+tc.name, func(t *testing.T) {
			got, err := device.NormalizeMAC(tc.in)
			if err != nil {
				t.Fatalf("NormalizeMAC(%q) error: %v", tc.in, err)
			}
			if got != want {
				t.Fatalf("NormalizeMAC(%q) = %q, want %q", tc.in, got, want)
			}
		})
	}

	rejected := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"only spaces", "   "},
		{"mixed separators colon then dash", "AA:BB-CC:00:00:01"},
		{"mixed separators dash then colon", "AA-BB-CC-00-00:01"},
		{"dots", "AA.BB.CC.00.00.01"},
		{"cisco dots", "aabb.cc00.0001"},
		{"spaces as separators", "AA BB CC 00 00 01"},
		{"underscores", "AA_BB_CC_00_00_01"},
		{"too short bare", "AABBCC00000"},
		{"too short separated", "AA:BB:CC:00:00"},
		{"too long separated", "AA:BB:CC:00:00:01:02"},
		{"13 hex digits", "AABBCC0000012"},
		{"11 hex digits", "AABBCC00000"},
		{"14 hex digits", "AABBCC00000102"},
		{"non-hex letter bare", "AABBCC00000G"},
		{"non-hex letter separated", "AA:BB:CC:00:00:0Z"},
		{"non-hex symbol", "AA:BB:CC:00:00:+1"},
		{"separator in wrong place", "AAB:BC:C00:00:0:01"},
		{"single-digit groups padded with separators", "A:B:C:0:0:1:2:3:4:5"},
		{"trailing separator", "AABBCC000001:"},
		{"leading separator", ":AA:BB:CC:00:00:01"},
		{"separator at index 2 only", "AA:BBCC00000100"},
		{"inner space", "AA:BB:CC: 0:00:01"},
		{"unicode hex lookalike", "ＡＡ:BB:CC:00:00:01"},
	}
	for _, tc := range rejected {
		t.Run("reject/"+tc.name, func(t *testing.T) {
			got, err := device.NormalizeMAC(tc.in)
			if err == nil {
				t.Fatalf("NormalizeMAC(%q) = %q, want an error", tc.in, got)
			}
			if !errors.Is(err, device.ErrBadMAC) {
				t.Fatalf("NormalizeMAC(%q) error = %v, want ErrBadMAC", tc.in, err)
			}
			if got != "" {
				t.Fatalf("NormalizeMAC(%q) returned %q with an error", tc.in, got)
			}
		})
	}
}

var canonicalMAC = regexp.MustCompile(`^[0-9A-F]{2}(:[0-9A-F]{2}){5}$`)

func FuzzNormalizeMAC(f *testing.F) {
	for _, s := range []string{
		"AA:BB:CC:00:00:01", "AA-BB-CC-00-00-01", "aabbcc000001", " aa:bb:cc:00:00:01 ",
		"AA:BB-CC:00:00:01", "AA.BB.CC.00.00.01", "", "AABBCC0000012", "zz:zz:zz:zz:zz:zz",
		"0123456789ab", "ff-ff-ff-ff-ff-ff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := device.NormalizeMAC(in)
		if err != nil {
			if !errors.Is(err, device.ErrBadMAC) {
				t.Fatalf("NormalizeMAC(%q) error %v is not ErrBadMAC", in, err)
			}
			return
		}
		if len(out) != 17 || !canonicalMAC.MatchString(out) {
			t.Fatalf("NormalizeMAC(%q) = %q, not upper-case colon-separated hex", in, out)
		}
		// The output carries exactly the input's hex digits, upper-cased.
		var digits strings.Builder
		for _, r := range strings.TrimSpace(in) {
			if strings.ContainsRune("0123456789abcdefABCDEF", r) {
				digits.WriteRune(r)
			}
		}
		if got, want := strings.ReplaceAll(out, ":", ""), strings.ToUpper(digits.String()); got != want {
			t.Fatalf("NormalizeMAC(%q) = %q: digits %q, want %q", in, out, got, want)
		}
		again, err := device.NormalizeMAC(out)
		if err != nil {
			t.Fatalf("NormalizeMAC(%q) (output of %q) error: %v", out, in, err)
		}
		if again != out {
			t.Fatalf("not idempotent: NormalizeMAC(%q) = %q, then %q", in, out, again)
		}
	})
}
