package main

import (
	"strings"
	"testing"
	"time"
)

func TestReplaceSection(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{
			name: "empty file",
			doc:  "",
			want: "## Chaos\n\nnew\n",
		},
		{
			name: "appended after the other sections",
			doc:  "# Reliability\n\n## Fuzzer\n\ntext\n",
			want: "# Reliability\n\n## Fuzzer\n\ntext\n\n## Chaos\n\nnew\n",
		},
		{
			name: "replaced at the end",
			doc:  "# Reliability\n\n## Fuzzer\n\ntext\n\n## Chaos\n\nold\nfigures\n",
			want: "# Reliability\n\n## Fuzzer\n\ntext\n\n## Chaos\n\nnew\n",
		},
		{
			name: "replaced in the middle, the next section kept",
			doc:  "# R\n\n## Chaos\n\nold\n\n## Findings\n\n1. x\n",
			want: "# R\n\n## Chaos\n\nnew\n\n## Findings\n\n1. x\n",
		},
		{
			name: "a deeper heading inside stays part of the section",
			doc:  "## Chaos\n\nold\n\n### Details\n\nmore\n## Next\nkept\n",
			want: "## Chaos\n\nnew\n\n## Next\nkept\n",
		},
		{
			name: "a heading-like line in a code fence is not a section",
			doc:  "## Chaos\n\n```\n## not a heading\n```\n\n## Next\nkept\n",
			want: "## Chaos\n\nnew\n\n## Next\nkept\n",
		},
		{
			name: "a similar title is another section",
			doc:  "## Chaos engineering\n\nkept\n",
			want: "## Chaos engineering\n\nkept\n\n## Chaos\n\nnew\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := replaceSection(tt.doc, "Chaos", "new\n"); got != tt.want {
				t.Errorf("replaceSection:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestCountList(t *testing.T) {
	got := countList(map[string]int{"timeout": 2, "connection refused": 40, "HTTP 503": 2})
	if want := "connection refused ×40, HTTP 503 ×2, timeout ×2"; got != want {
		t.Errorf("countList = %q, want %q", got, want)
	}
}

func TestTargets(t *testing.T) {
	ok := phaseResult{phase: &phase{name: "Redis down", kind: "redis", presence: &presenceResult{checked: 50}}}
	ok.relay.addPair(streamStats{resumed: true, recovery: 1500 * ms}, streamStats{resumed: true, recovery: 10 * ms})
	for _, tg := range ok.targets() {
		if !tg.met {
			t.Errorf("%s: not met (%s)", tg.name, tg.note)
		}
	}

	bad := phaseResult{phase: &phase{name: "Postgres down", kind: "postgres", presence: &presenceResult{checked: 50, wrong: 3}}}
	bad.closes.add(codeInvalidToken, true)
	bad.http[httpUnauthorized] = 2
	bad.relay.addPair(streamStats{resumed: true, recovery: 2100 * ms}, streamStats{resumed: true})
	want := map[string]string{
		"no wrong close code":          "1 wrong",
		"no 401 for a valid token":     "2 HTTP 401, 1 WebSocket 4001",
		"presence correct within 30 s": "3 of 50 wrong, 0 unknown",
		"relays resume within 2 s":     "max 2.10 s, 0 pairs not resumed",
	}
	ts := bad.targets()
	if len(ts) != len(want) {
		t.Fatalf("%d targets, want %d", len(ts), len(want))
	}
	for _, tg := range ts {
		if tg.met {
			t.Errorf("%s: met, want not met", tg.name)
		}
		if tg.note != want[tg.name] {
			t.Errorf("%s: note %q, want %q", tg.name, tg.note, want[tg.name])
		}
	}

	unresumed := phaseResult{phase: &phase{kind: "kill"}}
	unresumed.relay.addPair(streamStats{resumed: true}, streamStats{})
	if ts := unresumed.targets(); ts[len(ts)-1].met {
		t.Error("a pair that never resumed must fail the resume target")
	}
}

func TestMarkdown(t *testing.T) {
	base := &phase{name: "baseline"}
	kill := &phase{name: "kill -9 instance A", kind: "kill", killed: "A", start: 5 * time.Second, back: 11 * time.Second,
		startup: 900 * ms, fds: []fdCount{{"B", 40, 42}}, presence: &presenceResult{checked: 2, wrong: 1, examples: []string{"device 1: status connected, session closed"}}}
	r := &result{
		started: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC),
		command: "go run ./tools/chaos -pairs 2",
		o:       options{pairs: 2, rate: 10, pushEvery: 2 * time.Second, down: 5 * time.Second, observe: 30 * time.Second, baseline: 5 * time.Second, backoffMin: 100 * ms, backoffMax: time.Second},
		phases:  []phaseResult{{phase: base, dials: map[string]int{}}, {phase: kill, dials: map[string]int{"connection refused": 7}}},
	}
	r.phases[0].relay.addPair(streamStats{sent: 50, resumed: true}, streamStats{sent: 50, resumed: true})
	k := &r.phases[1]
	k.relay.addPair(streamStats{sent: 300, lostDuring: 20, resumed: true, recovery: 1200 * ms}, streamStats{sent: 300, lostDuring: 25, resumed: true, recovery: 300 * ms})
	k.relay.addPair(streamStats{sent: 300, lostDuring: 22, lostAfter: 1, resumed: true, recovery: 800 * ms}, streamStats{sent: 300, lostDuring: 21, resumed: true, recovery: 700 * ms})
	k.closes.add(codeAbnormal, false)
	k.closes.add(codeAbnormal, false)
	k.closes.add(codeInternalError, true)
	k.wrongCloses = []string{`1011 "boom" (app on B, at +1s)`}
	k.http[httpOK], k.http[http503Envelope], k.http[httpTransport] = 30, 2, 5
	k.pushes = streamStats{sent: 12, lostDuring: 1}

	md := r.markdown()
	for _, want := range []string{
		"Run 2026-01-02 03:04 UTC",
		"`go run ./tools/chaos -pairs 2`",
		"| baseline | — | 100 | 0 | 0 | — | — | none | 0 | 0 | 0 (0 / 0) | 0 / 0 / 0 | — | — |",
		"| kill -9 instance A | 6.00 s | 1200 | 88 | 1 | 1.20 s / 0.80 s | 0 | 1006×2, 1011×1 | 1 | 0 | 2 (2 / 0) | 12 / 1 / 0 | 1 / 2 | B 40 → 42 |",
		"| kill -9 instance A | **not met** (1 wrong) | met (0 HTTP 401, 0 WebSocket 4001) | **not met** (1 of 2 wrong, 0 unknown) | met (max 1.20 s, 0 pairs not resumed) |",
		"- kill -9 instance A: restart to ready 0.90 s; 37 REST calls: 30 2xx, 0 other 4xx, 5 without an answer; failed dials: connection refused ×7; " +
			"wrong closes, e.g. 1011 \"boom\" (app on B, at +1s); presence, e.g. device 1: status connected, session closed.",
		"- baseline: nothing else to note.",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks\n%s\n\nreport:\n%s", want, md)
		}
	}
	if strings.Contains(md, "| baseline | **") {
		t.Error("the baseline has no targets row")
	}
}
