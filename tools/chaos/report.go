package main

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"paradise/tools/internal/loadenv"
)

// inflight is how long before a fault a frame may have been sent and
// still be caught by it: such frames count for the fault, not for the
// phase before.
const inflight = 500 * time.Millisecond

// resumeTarget is the target for relays to resume after a dependency's
// return.
const resumeTarget = 2 * time.Second

// result is the run's figures, per phase.
type result struct {
	started time.Time
	command string
	o       options
	phases  []phaseResult
	// relogins counts clients that logged in again (after 4001/4003/4004);
	// dups frames received twice.
	relogins, dups int
}

// phaseResult is what happened in one phase.
type phaseResult struct {
	*phase
	relay        relayStats
	pushes       streamStats // REST pushes accepted for an online device
	closes       closeCounts
	wrongCloses  []string // the first few wrong closes
	http         httpCounts
	httpExamples []string // the first few 401s and 5xx
	dials        map[string]int
}

// account turns what the load recorded into per-phase figures.
func account(o options, l *load, phases []*phase) *result {
	r := &result{o: o}
	starts := make([]time.Duration, len(phases))
	for k, p := range phases {
		if k > 0 {
			starts[k] = p.start - inflight
		}
	}
	windows := make([]window, len(phases))
	for k, p := range phases {
		end := l.sendEnd
		if k+1 < len(phases) {
			end = starts[k+1]
		}
		back := p.back
		if k == 0 {
			back = 0
		}
		windows[k] = window{start: starts[k], back: back, end: end}
		r.phases = append(r.phases, phaseResult{phase: p, dials: map[string]int{}})
	}

	toApp := snapshots(l.toApp)
	toDev := snapshots(l.toDev)
	pushes := snapshots(l.pushes)
	for k, w := range windows {
		pr := &r.phases[k]
		for i := range toApp {
			pr.relay.addPair(accountStream(toApp[i], w), accountStream(toDev[i], w))
			ps := accountStream(pushes[i], w)
			pr.pushes.sent += ps.sent
			pr.pushes.lostDuring += ps.lostDuring
			pr.pushes.lostAfter += ps.lostAfter
		}
	}
	for _, s := range slices.Concat(l.toApp, l.toDev, l.pushes) {
		s.mu.Lock()
		r.dups += s.dups
		s.mu.Unlock()
	}
	for _, ep := range slices.Concat(l.devices, l.apps, l.churn) {
		ep.mu.Lock()
		r.relogins += ep.relogs
		ep.mu.Unlock()
	}

	l.rec.mu.Lock()
	defer l.rec.mu.Unlock()
	for _, c := range l.rec.closes {
		pr := &r.phases[phaseIndex(starts, c.at)]
		onKilled := (pr.kind == "kill" || pr.kind == "crash") && c.server == pr.killed
		wrong := closeWrong(c.code, onKilled)
		pr.closes.add(c.code, wrong)
		if wrong && len(pr.wrongCloses) < 3 {
			pr.wrongCloses = append(pr.wrongCloses, fmt.Sprintf("%d %q (%s on %s, at +%s)", c.code, c.reason, c.role, c.server, (c.at-pr.start).Round(time.Millisecond)))
		}
	}
	for _, d := range l.rec.dials {
		r.phases[phaseIndex(starts, d.at)].dials[d.reason]++
	}
	for _, h := range l.rec.https {
		pr := &r.phases[phaseIndex(starts, h.at)]
		pr.http[h.class]++
		if h.detail != "" && len(pr.httpExamples) < 3 && !slices.Contains(pr.httpExamples, h.detail) {
			pr.httpExamples = append(pr.httpExamples, h.detail)
		}
	}
	return r
}

func snapshots(ss []*stream) [][]frame {
	out := make([][]frame, len(ss))
	for i, s := range ss {
		out[i] = s.snapshot()
	}
	return out
}

// target is one of the targets for one fault.
type target struct {
	name string
	met  bool
	note string // the figure behind it
}

// targets evaluates the targets for a fault phase.
func (p *phaseResult) targets() []target {
	ts := []target{
		{"no wrong close code", p.closes.wrong == 0, fmt.Sprintf("%d wrong", p.closes.wrong)},
		{"no 401 for a valid token", p.http[httpUnauthorized] == 0 && p.closes.byCode[codeInvalidToken] == 0,
			fmt.Sprintf("%d HTTP 401, %d WebSocket 4001", p.http[httpUnauthorized], p.closes.byCode[codeInvalidToken])},
	}
	if pr := p.presence; pr != nil {
		ts = append(ts, target{"presence correct within 30 s", pr.wrong == 0 && pr.unknown == 0 && pr.checked > 0,
			fmt.Sprintf("%d of %d wrong, %d unknown", pr.wrong, pr.checked, pr.unknown)})
	}
	ts = append(ts, target{"relays resume within 2 s", p.relay.notResumed == 0 && p.relay.recoveryMax() <= resumeTarget,
		fmt.Sprintf("max %s, %d pairs not resumed", secs(p.relay.recoveryMax()), p.relay.notResumed)})
	return ts
}

// markdown is the report: the Chaos section of docs/reliability.md
// without its heading.
func (r *result) markdown() string {
	var b strings.Builder
	o := r.o
	fmt.Fprintf(&b, "`make chaos` (tools/chaos) runs two instances, A and B, on a scratch Postgres database and Redis key prefix, "+
		"each reaching Postgres and Redis through an in-process TCP proxy (toxiproxy). "+
		"%d users each have a device and an app session, on different instances (every relay crosses Redis); "+
		"each pair relays %s sequence-numbered `chat` frames/s (half each way), and the server pushes a `command` to every device "+
		"through `POST /api/device/devices/{id}/messages/` every %s. Clients reconnect with exponential backoff (%s doubling to %s, randomised down to half), "+
		"keeping their token unless the close code is 4001, 4003 or 4004. "+
		"%d more users' device and app sessions close themselves after about %s and reconnect at once (they relay nothing and are left out of the presence check), so that sessions open while each fault lasts. After %s of steady load the faults run in turn, each for %s, "+
		"followed by %s of load and a presence check:\n\n",
		o.pairs, trimFloat(o.rate), o.pushEvery, o.backoffMin, o.backoffMax, o.churners, o.churnHold, o.baseline, o.down, o.observe)
	b.WriteString("- **kill -9 instance A**: SIGKILL, restart on the same port; \"back\" is when it answers `/readyz`.\n")
	b.WriteString("- **Redis down** / **Postgres down**: the proxy is disabled (open connections reset, new ones refused), then enabled; \"back\" is that moment. The real servers are never touched.\n\n")
	b.WriteString("Frames sent from 0.5 s before a fault until 0.5 s before the next count for it. *Lost during*: sent but never received, before relaying resumed on that stream; " +
		"*lost after*: sent after a frame that got through once the dependency was back (REST pushes likewise, counting those accepted with `online: true`). *Resumed*: from \"back\" to the first frame (sent after it) received, the later direction of each pair. " +
		"Right close codes: 1001, 1013, 4002, and 1006 (no close frame) for sessions on the killed instance. " +
		"Presence: every device's `status` from `GET /api/device/devices/{id}/` against whether its session is open, " + o.observe.String() + " after \"back\".\n\n")

	b.WriteString(loadenv.RunLine(r.started) + "\n")
	fmt.Fprintf(&b, "`%s`\n\n", r.command)
	b.WriteString("The servers, the proxies and the clients share the machine (with whatever else runs on it: see the load average), " +
		"so recovery times include scheduling delays and the clients' reconnect backoff; losses, close codes, status codes and presence do not depend on the machine.\n\n")

	b.WriteString("| Phase | Down | Frames sent | Lost during | Lost after | Resumed max / p50 | Pairs not resumed | Close codes seen | Wrong closes | HTTP 401 | 5xx (503 envelope / other) | Pushes accepted / lost during / after | Presence wrong | Open FDs before → after |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|--:|---|\n")
	for i := range r.phases {
		p := &r.phases[i]
		down, resumed, notResumed, presence, fds := "—", "—", "—", "—", "—"
		if p.kind != "" {
			down = secs(p.back - p.start)
			resumed = secs(p.relay.recoveryMax()) + " / " + secs(p.relay.recoveryP50())
			notResumed = fmt.Sprint(p.relay.notResumed)
		}
		if pr := p.presence; pr != nil {
			presence = fmt.Sprintf("%d / %d", pr.wrong, pr.checked)
			if pr.unknown > 0 {
				presence += fmt.Sprintf(" (%d unknown)", pr.unknown)
			}
		}
		if len(p.fds) > 0 {
			var parts []string
			for _, f := range p.fds {
				parts = append(parts, fmt.Sprintf("%s %d → %d", f.inst, f.before, f.after))
			}
			fds = strings.Join(parts, ", ")
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %d | %s | %s | %s | %d | %d | %d (%d / %d) | %d / %d / %d | %s | %s |\n",
			p.name, down, p.relay.sent, p.relay.lostDuring, p.relay.lostAfter, resumed, notResumed,
			p.closes, p.closes.wrong, p.http[httpUnauthorized], p.http.fiveXX(), p.http[http503Envelope], p.http[httpOther5xx],
			p.pushes.sent, p.pushes.lostDuring, p.pushes.lostAfter, presence, fds)
	}
	b.WriteString("\n")

	b.WriteString("Targets per fault:\n\n")
	b.WriteString("| Fault | No wrong close code | No 401 for a valid token | Presence correct within 30 s | Relays resume within 2 s |\n")
	b.WriteString("|---|---|---|---|---|\n")
	for i := range r.phases {
		p := &r.phases[i]
		if p.kind == "" {
			continue
		}
		cells := []string{p.name}
		for _, t := range p.targets() {
			cells = append(cells, metCell(t))
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	b.WriteString("\n")

	b.WriteString("Details:\n\n")
	for i := range r.phases {
		p := &r.phases[i]
		var notes []string
		if p.startup > 0 {
			notes = append(notes, fmt.Sprintf("restart to ready %s", secs(p.startup)))
		}
		if n := p.http.total(); n > 0 {
			notes = append(notes, fmt.Sprintf("%d REST calls: %d 2xx, %d other 4xx, %d without an answer", n, p.http[httpOK], p.http[httpOther4xx], p.http[httpTransport]))
		}
		if len(p.dials) > 0 {
			notes = append(notes, "failed dials: "+countList(p.dials))
		}
		if len(p.wrongCloses) > 0 {
			notes = append(notes, "wrong closes, e.g. "+strings.Join(p.wrongCloses, "; "))
		}
		if len(p.httpExamples) > 0 {
			notes = append(notes, "e.g. "+strings.Join(quoteAll(p.httpExamples), "; "))
		}
		if pr := p.presence; pr != nil && len(pr.examples) > 0 {
			notes = append(notes, "presence, e.g. "+strings.Join(pr.examples, "; "))
		}
		if len(notes) == 0 {
			notes = append(notes, "nothing else to note")
		}
		fmt.Fprintf(&b, "- %s: %s.\n", p.name, strings.Join(notes, "; "))
	}
	fmt.Fprintf(&b, "- Whole run: %d clients logged in again (after 4001/4003/4004), %d frames received twice.\n", r.relogins, r.dups)
	return b.String()
}

func metCell(t target) string {
	if t.met {
		return "met (" + t.note + ")"
	}
	return "**not met** (" + t.note + ")"
}

// countList formats counts by key, largest first: "connection refused ×40, HTTP 503 ×2".
func countList(m map[string]int) string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s ×%d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = "`" + strings.ReplaceAll(s, "`", "'") + "`"
	}
	return out
}

// secs formats d in seconds with two decimals: "1.25 s".
func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func trimFloat(f float64) string { return strings.TrimSuffix(fmt.Sprintf("%.1f", f), ".0") }

// writeSection replaces the section "## title" of the Markdown file at
// path with body (or appends it), keeping the other sections.
func writeSection(path, title, body string) error {
	doc, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	return os.WriteFile(path, []byte(replaceSection(string(doc), title, body)), 0o644)
}

// replaceSection returns doc with the level-2 section titled title (its
// heading line up to the next level-2 heading or the end) replaced by
// body under the same heading, or with the section appended if doc has
// none.
func replaceSection(doc, title, body string) string {
	heading := "## " + title
	section := heading + "\n\n" + strings.TrimRight(body, "\n") + "\n"
	lines := strings.SplitAfter(doc, "\n")
	start := -1
	for i, l := range lines {
		if strings.TrimRight(l, "\n") == heading {
			start = i
			break
		}
	}
	if start < 0 {
		doc = strings.TrimRight(doc, "\n")
		if doc == "" {
			return section
		}
		return doc + "\n\n" + section
	}
	end := len(lines)
	inFence := false
	for i := start + 1; i < len(lines); i++ {
		if strings.HasPrefix(lines[i], "```") {
			inFence = !inFence
		}
		if !inFence && strings.HasPrefix(lines[i], "## ") {
			end = i
			break
		}
	}
	before := strings.Join(lines[:start], "")
	after := strings.Join(lines[end:], "")
	if after != "" {
		section += "\n"
	}
	return before + section + after
}
