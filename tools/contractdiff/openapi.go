package main

import (
	"fmt"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/oasdiff/oasdiff/checker"
	"github.com/oasdiff/oasdiff/diff"
	"github.com/oasdiff/oasdiff/load"
)

// CheckOpenAPI runs oasdiff's backward-compatibility checks: its errors
// are breaking changes, its warnings are reported as warnings.
func CheckOpenAPI(base, head []byte) (Report, error) {
	s1, err := load.NewSpecInfoFromData(openapi3.NewLoader(), base, "base")
	if err != nil {
		return Report{}, fmt.Errorf("base: %w", err)
	}
	s2, err := load.NewSpecInfoFromData(openapi3.NewLoader(), head, "head")
	if err != nil {
		return Report{}, fmt.Errorf("head: %w", err)
	}
	d, sources, err := diff.GetPathsDiff(diff.NewConfig(), []*load.SpecInfo{s1}, []*load.SpecInfo{s2})
	if err != nil {
		return Report{}, fmt.Errorf("diff: %w", err)
	}
	rep := Report{BaseVersion: version(s1.Spec), HeadVersion: version(s2.Spec)}
	l := checker.NewDefaultLocalizer()
	for _, c := range checker.CheckBackwardCompatibilityUntilLevel(checker.NewConfig(checker.GetAllChecks()), d, sources, checker.WARN) {
		line := fmt.Sprintf("%s %s: %s [%s]", c.GetOperation(), c.GetPath(), c.GetUncolorizedText(l), c.GetId())
		if c.GetLevel() == checker.ERR {
			rep.Breaking = append(rep.Breaking, line)
		} else {
			rep.Warnings = append(rep.Warnings, line)
		}
	}
	return rep, nil
}

func version(s *openapi3.T) string {
	if s == nil || s.Info == nil {
		return ""
	}
	return s.Info.Version
}
