package main

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// Report is what changed between two versions of one contract.
type Report struct {
	BaseVersion, HeadVersion string
	// Breaking changes break a client built from the base; Warnings may.
	Breaking, Warnings []string
	// Accepted are breaking changes the accept file lets through, each
	// with its reason.
	Accepted []string
}

// Acceptance is one entry of the accept file: a breaking change, as a
// substring of the line contractdiff prints for it, and why it does not
// break clients.
type Acceptance struct {
	Match, Reason string
}

// ParseAccept reads an accept file: "match | reason" per line; blank
// lines and lines starting with # are skipped. A reason is required.
func ParseAccept(data []byte) ([]Acceptance, error) {
	var out []Acceptance
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		match, reason, ok := strings.Cut(line, " | ")
		match, reason = strings.TrimSpace(match), strings.TrimSpace(reason)
		if !ok || match == "" || reason == "" {
			return nil, fmt.Errorf("line %d: want \"<change> | <reason>\"", i+1)
		}
		out = append(out, Acceptance{Match: match, Reason: reason})
	}
	return out, nil
}

// Accept moves the breaking changes an entry matches to Accepted.
func (r *Report) Accept(entries []Acceptance) {
	var still []string
	for _, b := range r.Breaking {
		accepted := false
		for _, a := range entries {
			if strings.Contains(b, a.Match) {
				r.Accepted = append(r.Accepted, b+" (accepted: "+a.Reason+")")
				accepted = true
				break
			}
		}
		if !accepted {
			still = append(still, b)
		}
	}
	r.Breaking = still
}

// Verdict is whether a report may land, and why.
type Verdict struct {
	OK     bool
	Reason string
}

// Judge applies the versioning rule: breaking changes need the major
// version bumped and a "### Breaking" subsection in the changelog for it.
func Judge(r Report, changelog []byte) Verdict {
	if len(r.Breaking) == 0 {
		return Verdict{OK: true, Reason: "no breaking change"}
	}
	oldMajor, err1 := major(r.BaseVersion)
	newMajor, err2 := major(r.HeadVersion)
	if err1 != nil || err2 != nil {
		return Verdict{Reason: fmt.Sprintf("breaking changes, and the versions %q -> %q are not semantic versions", r.BaseVersion, r.HeadVersion)}
	}
	if newMajor <= oldMajor {
		return Verdict{Reason: fmt.Sprintf("breaking changes need info.version's major bumped (%s -> %d.0.0) and a \"### Breaking\" entry in CHANGELOG.md", r.HeadVersion, oldMajor+1)}
	}
	if !explainsBreaking(string(changelog), r.HeadVersion) {
		return Verdict{Reason: fmt.Sprintf("the major version was bumped to %s, but CHANGELOG.md has no \"### Breaking\" entry under [Unreleased] or [%s] saying why", r.HeadVersion, r.HeadVersion)}
	}
	return Verdict{OK: true, Reason: fmt.Sprintf("breaking changes with the major version bumped (%s -> %s) and explained in CHANGELOG.md", r.BaseVersion, r.HeadVersion)}
}

// Print writes the report and its verdict.
func (r Report) Print(w io.Writer, name string, v Verdict) {
	fmt.Fprintf(w, "\n%s (%s -> %s): %d breaking, %d accepted, %d warnings\n", name, r.BaseVersion, r.HeadVersion, len(r.Breaking), len(r.Accepted), len(r.Warnings))
	for _, b := range r.Breaking {
		fmt.Fprintf(w, "  breaking: %s\n", b)
	}
	for _, b := range r.Accepted {
		fmt.Fprintf(w, "  accepted: %s\n", b)
	}
	for _, b := range r.Warnings {
		fmt.Fprintf(w, "  warning:  %s\n", b)
	}
	status := "ok"
	if !v.OK {
		status = "FAIL"
	}
	fmt.Fprintf(w, "  %s: %s\n", status, v.Reason)
}

var semver = regexp.MustCompile(`^v?(\d+)\.\d+\.\d+([-+].*)?$`)

func major(version string) (int, error) {
	m := semver.FindStringSubmatch(strings.TrimSpace(version))
	if m == nil {
		return 0, fmt.Errorf("not a semantic version: %q", version)
	}
	return strconv.Atoi(m[1])
}

// explainsBreaking reports whether the changelog's [Unreleased] section or
// the section of version has a "### Breaking" subsection with content.
func explainsBreaking(changelog, version string) bool {
	var section string // the "## [...]" heading we are under
	inBreaking, found := false, false
	for _, line := range strings.Split(changelog, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, "## "):
			section = strings.TrimSpace(strings.TrimPrefix(t, "## "))
			inBreaking = false
		case strings.HasPrefix(t, "### "):
			inBreaking = strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(t, "### ")), "Breaking") &&
				(strings.HasPrefix(section, "[Unreleased]") || strings.HasPrefix(section, "["+version+"]"))
		case inBreaking && t != "":
			found = true
		}
	}
	return found
}
