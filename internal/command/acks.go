package command

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"entgo.io/ent/dialect"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"paradise/internal/database"
	dev "paradise/internal/device"
)

// Acknowledgements are applied in batches: a session's reader only queues
// a device's answer, and one goroutine per instance collects the answers
// of all sessions for up to ackWindow (or ackBatch answers) and applies
// them with one UPDATE and one pipelined publish of the status frames.
// Per answer that saves an UPDATE, a SELECT and a Redis round trip, which
// is what bounded the acknowledgement rate (docs/benchmarks.md).
const (
	ackWindow = 5 * time.Millisecond
	ackBatch  = 500
	// ackQueue bounds answers waiting for a batch; a full queue holds the
	// sessions' readers back (back-pressure) rather than dropping answers.
	ackQueue = 4 * ackBatch
	// ackTimeout bounds one batch's database and Redis work.
	ackTimeout = 10 * time.Second
)

// answer is a device's command_result for a stored command.
type answer struct {
	id     int
	mac    string // the answering device's, which must be the command's
	owner  int    // the session's user: whose apps get the status frame
	status Status // Acknowledged or Failed
	result map[string]any
	// flush, when set, marks a request to apply everything queued before
	// it and to close flush once applied (no answer in it).
	flush chan struct{}
}

// acker applies answers in batches.
type acker struct {
	s       *Service
	sqlDB   *database.DB
	in      chan answer
	stop    chan struct{}
	done    sync.WaitGroup
	mu      sync.Mutex
	pending map[string]int // MAC -> answers queued and not yet applied
}

func newAcker(s *Service, sqlDB *database.DB) *acker {
	return &acker{s: s, sqlDB: sqlDB, in: make(chan answer, ackQueue), stop: make(chan struct{}), pending: map[string]int{}}
}

// run starts the batching goroutine with the app and, when the app
// stops, applies what is queued before returning.
func (a *acker) run(lc fx.Lifecycle) {
	lc.Append(fx.StartStopHook(func() {
		a.done.Add(1)
		go a.loop()
	}, func() {
		close(a.stop)
		a.done.Wait()
	}))
}

// queue hands an answer to the batcher; it waits while the queue is full,
// until ctx (the session) ends.
func (a *acker) queue(ctx context.Context, ans answer) error {
	a.mu.Lock()
	a.pending[ans.mac]++
	a.mu.Unlock()
	select {
	case a.in <- ans:
		return nil
	case <-ctx.Done():
		a.settle([]answer{ans})
		return ctx.Err()
	case <-a.stop:
		a.settle([]answer{ans})
		return context.Canceled
	}
}

// settle forgets answers as pending once applied (or given up).
func (a *acker) settle(batch []answer) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, ans := range batch {
		if ans.flush != nil {
			continue
		}
		if a.pending[ans.mac]--; a.pending[ans.mac] <= 0 {
			delete(a.pending, ans.mac)
		}
	}
}

// sync waits until the answers this instance queued for the device are
// applied, so that a device reconnecting right after answering is not
// sent those commands again. It returns at once when there are none.
func (a *acker) sync(ctx context.Context, mac string) {
	a.mu.Lock()
	n := a.pending[mac]
	a.mu.Unlock()
	if n == 0 {
		return
	}
	done := make(chan struct{})
	select {
	case a.in <- answer{flush: done}:
	case <-ctx.Done():
		return
	case <-a.stop:
		return
	}
	select {
	case <-done:
	case <-ctx.Done():
	case <-a.stop:
	}
}

func (a *acker) loop() {
	defer a.done.Done()
	for {
		var first answer
		select {
		case first = <-a.in:
		case <-a.stop:
			a.drain()
			return
		}
		batch := []answer{first}
		timer := time.NewTimer(ackWindow)
	collect:
		for len(batch) < ackBatch && first.flush == nil {
			select {
			case ans := <-a.in:
				batch = append(batch, ans)
				if ans.flush != nil {
					break collect
				}
			case <-timer.C:
				break collect
			case <-a.stop:
				break collect
			}
		}
		timer.Stop()
		a.apply(batch)
	}
}

// drain applies what is left in the queue when the app stops.
func (a *acker) drain() {
	for {
		var batch []answer
	take:
		for len(batch) < ackBatch {
			select {
			case ans := <-a.in:
				batch = append(batch, ans)
			default:
				break take
			}
		}
		if len(batch) == 0 {
			return
		}
		a.apply(batch)
	}
}

// apply records a batch and tells the owners' apps, then releases the
// flush requests in it.
func (a *acker) apply(batch []answer) {
	ctx, cancel := context.WithTimeout(context.Background(), ackTimeout)
	defer cancel()
	if err := a.record(ctx, batch); err != nil {
		// The commands stay pending: re-sent on the device's next
		// connect, answered again then.
		a.s.log.Warn("Command answers not recorded", zap.Int("answers", len(batch)), zap.Error(err))
	}
	a.settle(batch)
	for _, ans := range batch {
		if ans.flush != nil {
			close(ans.flush)
		}
	}
}

// record applies the answers with one conditional UPDATE (each command
// only if it is still pending and belongs to the answering device: a
// repeated answer, at-least-once delivery, or another device's answer
// changes nothing) and sends the status frames of the commands it
// changed in one pipeline.
func (a *acker) record(ctx context.Context, batch []answer) error {
	for _, round := range rounds(batch) {
		if err := a.recordRound(ctx, round); err != nil {
			return err
		}
	}
	return nil
}

// rounds splits a batch's answers so that no command is in a round
// twice: the first answer of each device for a command counts (as it
// would one at a time), and answers of other devices for the same
// command (which change nothing unless one of them is the command's
// device) go into later rounds, applied after the first.
func rounds(batch []answer) [][]answer {
	type key struct {
		id  int
		mac string
	}
	seen := map[key]bool{}
	var out [][]answer
	var inRound []map[int]bool
	for _, ans := range batch {
		if ans.flush != nil || seen[key{ans.id, ans.mac}] {
			continue
		}
		seen[key{ans.id, ans.mac}] = true
		r := 0
		for r < len(out) && inRound[r][ans.id] {
			r++
		}
		if r == len(out) {
			out = append(out, nil)
			inRound = append(inRound, map[int]bool{})
		}
		out[r] = append(out[r], ans)
		inRound[r][ans.id] = true
	}
	return out
}

// recordRound applies answers for distinct commands.
func (a *acker) recordRound(ctx context.Context, round []answer) error {
	byID := make(map[int]answer, len(round))
	order := make([]int, 0, len(round))
	for _, ans := range round {
		byID[ans.id] = ans
		order = append(order, ans.id)
	}
	now := a.s.now()
	query, args, err := a.updateQuery(order, byID, now)
	if err != nil {
		return err
	}
	rows, err := a.sqlDB.SQL.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("command: record %d answers: %w", len(order), err)
	}
	defer rows.Close()
	var changed []Command
	for rows.Next() {
		var c Command
		if err := rows.Scan(&c.ID, &c.DeviceID, &c.Name, &c.Attempts); err != nil {
			return fmt.Errorf("command: record answers: %w", err)
		}
		ans := byID[c.ID]
		c.Status, c.Result, c.CompletedAt = ans.status, ans.result, &now
		changed = append(changed, c)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("command: record answers: %w", err)
	}
	frames := make([]statusFrame, 0, len(changed))
	for _, c := range changed {
		a.s.m.Commands.WithLabelValues(string(c.Status)).Inc()
		ans := byID[c.ID]
		frames = append(frames, statusFrame{owner: ans.owner, device: dev.Device{ID: c.DeviceID, MACAddress: ans.mac}, c: c})
	}
	a.s.statuses(ctx, frames)
	return nil
}

// updateQuery builds the batch's UPDATE: the answers as a VALUES table
// (command id, answering MAC, new status, result) joined to the commands
// by primary key and to devices by MAC, so that a command changes only if
// it is pending and the answering device's. Postgres and SQLite (3.33+:
// UPDATE ... FROM, RETURNING) both run it. A join, not a CASE and an OR
// per answer: those made the database test every pending command against
// every answer in the batch, which slowed as the table grew.
func (a *acker) updateQuery(ids []int, byID map[int]answer, now time.Time) (string, []any, error) {
	pg := a.sqlDB.Dialect == dialect.Postgres
	var args []any
	param := func(v any, pgType string) string {
		args = append(args, v)
		if pg {
			p := "$" + strconv.Itoa(len(args))
			if pgType != "" {
				p = "CAST(" + p + " AS " + pgType + ")"
			}
			return p
		}
		return "?" + strconv.Itoa(len(args))
	}
	var values strings.Builder
	for i, id := range ids {
		ans := byID[id]
		res, err := json.Marshal(ans.result)
		if err != nil {
			return "", nil, fmt.Errorf("command: encode result of %d: %w", id, err)
		}
		if i > 0 {
			values.WriteString(", ")
		}
		fmt.Fprintf(&values, "(%s, %s, %s, %s)", param(id, "bigint"), param(ans.mac, "text"),
			param(string(ans.status), "text"), param(string(res), "jsonb"))
	}
	// VALUES names its columns column1..column4 in both databases.
	q := "UPDATE device_commands AS c SET status = v.status, result = v.result, completed_at = " + param(now, "") +
		" FROM (SELECT column1 AS id, column2 AS mac, column3 AS status, column4 AS result FROM (VALUES " + values.String() + ") AS t) AS v," +
		" devices AS d WHERE c.id = v.id AND d.id = c.device_id AND d.mac_address = v.mac AND c.status IN ('queued', 'sent')" +
		" RETURNING "
	// SQLite's RETURNING names the updated table's columns bare (the
	// alias is not in scope); Postgres needs them qualified (devices has
	// an id too).
	if pg {
		q += "c.id, c.device_id, c.name, c.attempts"
	} else {
		q += "id, device_id, name, attempts"
	}
	return q, args, nil
}
