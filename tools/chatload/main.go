// Command chatload load-tests Paradise's streamed AI chat
// (POST /api/ai/chat/ with "stream": true) against a fake LLM provider in
// its own process, on Postgres and Redis, with the server and the load
// generator on the same machine. `make bench-chat` runs it with its
// defaults:
//
//	go run ./tools/chatload [-streams 1000] [-users 200] [-tokens 50] [-token-delay 20ms]
//	    [-warmup 5s] [-duration 30s]
//
// It builds ./cmd/paradise, creates a scratch Postgres database
// (paradise_chatload_<random>) and a Redis key prefix
// (chatload:<random>:), runs `paradise migrate`, registers users through
// the REST API on a set-up instance (stopped afterwards), and starts a
// fresh `paradise serve` whose only LLM provider is the fake: an
// OpenAI-compatible server in this process that streams -tokens tokens,
// -token-delay apart, to every request. -streams workers (spread over the
// users) each send a streamed chat, read it to its done event, and send
// the next, in their own conversation, for -warmup + -duration.
//
// It reports Paradise's added time to first token (the client's TTFT
// minus the fake's, on one clock), lost streams, and the server's memory
// per stream in flight (RSS and Go heap against the idle server), as
// Markdown on stdout; progress and server warnings go to stderr. It
// removes the server (by pid), the database and the Redis keys at the end,
// after a failure or on Ctrl-C. It exits non-zero when set-up fails or a
// stream was lost (the report is still printed).
//
// With -relay it measures the floor instead of Paradise: tools/chatload/relay,
// a bare net/http relay over Paradise's provider client, with no users to
// register and no database or Redis work.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"paradise/tools/internal/loadenv"
)

// options are the command-line flags.
type options struct {
	streams      int
	users        int
	tokens       int
	tokenDelay   time.Duration
	warmup       time.Duration
	duration     time.Duration
	sample       time.Duration
	setupWorkers int
	cpuProfile   string
	heapProfile  string
	relay        bool // measure tools/chatload/relay, the floor, instead of paradise serve

	loadenv.Options // -admin-url, -redis-url, -bin, -keep
}

// envConfig is how chatload names what it creates, and how long a server
// gets to stop on SIGTERM.
var envConfig = loadenv.Config{
	Tool:        "chatload",
	DBPrefix:    "paradise_chatload_",
	KeyPrefix:   "chatload:",
	StopTimeout: 30 * time.Second,
}

func main() {
	var o options
	flag.IntVar(&o.streams, "streams", 1000, "concurrent streamed chats (closed loop: each worker sends its next chat when its stream ended)")
	flag.IntVar(&o.users, "users", 200, "users registered through the API; the streams are spread over them")
	flag.IntVar(&o.tokens, "tokens", 50, "tokens per reply from the fake provider")
	flag.DurationVar(&o.tokenDelay, "token-delay", 20*time.Millisecond, "the fake provider's pause before each token (the first included)")
	flag.DurationVar(&o.warmup, "warmup", 5*time.Second, "unmeasured load before the window (the workers start spread over one reply's length within it)")
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "measured window: streams sent in it are measured")
	flag.DurationVar(&o.sample, "sample", time.Second, "how often the server's RSS and Go heap are read during the window")
	flag.IntVar(&o.setupWorkers, "setup-workers", 8, "concurrent registrations during set-up")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write the server's CPU profile over the measured window to this file (go tool pprof reads it)")
	flag.StringVar(&o.heapProfile, "heapprofile", "", "write the server's heap profile, taken in the middle of the measured window, to this file")
	flag.BoolVar(&o.relay, "relay", false, "measure the floor instead of Paradise: tools/chatload/relay, a bare net/http relay over Paradise's provider client (no auth, database, Redis or history)")
	o.AddFlags(flag.CommandLine, "the server under test")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "chatload: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	if err := o.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "chatload:", err)
		os.Exit(2)
	}
	loadenv.Run("chatload", func(ctx context.Context) error { return run(ctx, o) })
}

func (o *options) validate() error {
	if o.streams < 1 || o.users < 1 || o.tokens < 1 || o.setupWorkers < 1 {
		return errors.New("-streams, -users, -tokens and -setup-workers must be at least 1")
	}
	if o.users > o.streams {
		return errors.New("-users must not exceed -streams (every user has at least one stream)")
	}
	if o.tokenDelay < 0 || o.warmup < 0 || o.duration <= 0 || o.sample <= 0 {
		return errors.New("-token-delay and -warmup must not be negative, -duration and -sample positive")
	}
	if o.relay && o.Bin != "" {
		return errors.New("-relay builds its own server: leave out -bin")
	}
	return o.CheckLoopback()
}

// streamsPerUser is the most streams one user has at once.
func (o *options) streamsPerUser() int { return (o.streams + o.users - 1) / o.users }

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "chatload: "+format+"\n", args...)
}

func run(ctx context.Context, o options) error {
	// Each stream is two sockets in this process (client, fake) and two
	// in the server; Go raises the soft RLIMIT_NOFILE to the hard one by
	// itself, and the server inherits it.
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && lim.Max < uint64(2*o.streams+1024) {
		return fmt.Errorf("need %d file descriptors, the hard limit is %d: raise it (ulimit -Hn) or use fewer streams", 2*o.streams+1024, lim.Max)
	}
	if o.relay {
		dir, err := os.MkdirTemp("", "chatload-relay-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o.Bin = filepath.Join(dir, "relay")
		if err := loadenv.Build(ctx, envConfig.Tool, "./tools/chatload/relay", o.Bin); err != nil {
			return err
		}
	}
	e, err := loadenv.Start(ctx, envConfig, o.Options)
	defer e.Close(o.Keep)
	if err != nil {
		return err
	}
	rep := &report{o: o}

	var tokens []string
	if o.relay {
		tokens = []string{"relay-takes-any-token"} // the relay authenticates no one
	} else {
		start := time.Now()
		if tokens, err = setupUsers(ctx, e, o); err != nil {
			return fmt.Errorf("setup: %w", err)
		}
		rep.setupTime = time.Since(start)
		logf("registered %d users in %s", len(tokens), rep.setupTime.Round(time.Millisecond))
	}

	reg := &registry{recs: make(map[int64]*streamRec, 2*o.streams)}
	replyTok := replyTokens(o.tokens)
	f, err := startFake(replyTok, o.tokenDelay, reg)
	if err != nil {
		return fmt.Errorf("fake provider: %w", err)
	}
	defer f.close()

	metricsAddr, err := loadenv.FreeLoopbackAddr()
	if err != nil {
		return err
	}
	debugAddr, err := loadenv.FreeLoopbackAddr()
	if err != nil {
		return err
	}
	srv, err := e.StartServer(ctx, "", []string{
		"PARADISE_LLM_PROVIDERS=fake",
		"PARADISE_LLM_FAKE_BASE_URL=" + f.url,
		"PARADISE_LLM_FAKE_API_KEY=" + fakeKey,
		"PARADISE_LLM_FAKE_MODEL=" + fakeModel,
		"PARADISE_CHAT_MESSAGES_PER_DAY=0",
		"PARADISE_CHAT_TOKENS_PER_DAY=0",
		"PARADISE_CHAT_CONCURRENT_STREAMS=" + strconv.Itoa(o.streamsPerUser()),
		"PARADISE_METRICS_ADDR=" + metricsAddr,
		"PARADISE_DEBUG_ADDR=" + debugAddr,
	})
	if err != nil {
		return err
	}
	logf("server pid %d on %s (metrics on %s), fake provider on %s", srv.PID(), srv.Addr(), metricsAddr, f.url)
	mem := &memSampler{srv: srv, metricsURL: "http://" + metricsAddr + "/metrics", debugURL: "http://" + debugAddr}
	defer mem.client().CloseIdleConnections()

	// Idle baseline: the fresh server, collected and settled.
	if !loadenv.Sleep(ctx, time.Second) {
		return ctx.Err()
	}
	if err := mem.collect(); err != nil {
		return err
	}
	if !loadenv.Sleep(ctx, time.Second) {
		return ctx.Err()
	}
	if rep.idle, err = mem.read(0); err != nil {
		return err
	}

	transport := &http.Transport{Proxy: nil, MaxIdleConns: o.streams, MaxIdleConnsPerHost: o.streams,
		DisableCompression: true, IdleConnTimeout: 90 * time.Second}
	defer transport.CloseIdleConnections()
	l := &load{o: o, baseURL: srv.BaseURL(), tokens: tokens, want: strings.Join(replyTok, ""), reg: reg,
		client: &http.Client{Transport: transport, Timeout: 2 * time.Minute}}
	begin := clock()
	l.windowStart = begin + int64(o.warmup)
	l.windowEnd = l.windowStart + int64(o.duration)
	logf("%d streams (%d users, up to %d streams each), %d tokens %s apart; %s warm-up + %s window",
		o.streams, o.users, o.streamsPerUser(), o.tokens, o.tokenDelay, o.warmup, o.duration)

	// Samples and CPU over the window, while the load runs.
	var wg sync.WaitGroup
	var sampleErr atomic.Value
	loadCtx, cancelLoad := context.WithCancel(ctx)
	defer cancelLoad()
	wg.Go(func() {
		// The live heap with the streams in flight: one forced collection
		// in the last second of the warm-up, so that its pause is not in
		// the window. It needs the ramp done (one reply's length).
		ramp := int64(o.tokens) * int64(o.tokenDelay)
		if at := l.windowStart - int64(time.Second); at-begin > ramp+int64(500*time.Millisecond) {
			if !loadenv.Sleep(loadCtx, time.Duration(at-clock())) {
				return
			}
			s, err := mem.readCollected(l.inflight.Load)
			if err != nil {
				sampleErr.Store(err)
				return
			}
			s.upstream = f.active.Load()
			rep.live = &s
		}
		if !loadenv.Sleep(loadCtx, time.Duration(l.windowStart-clock())) {
			return
		}
		before, err := e.SampleUsage(loadCtx, srv)
		if err != nil {
			sampleErr.Store(err)
			return
		}
		if o.cpuProfile != "" {
			wg.Go(func() {
				secs := max(1, int(o.duration/time.Second))
				if err := loadenv.SaveProfile(loadCtx, mem.debugURL, fmt.Sprintf("profile?seconds=%d", secs), o.duration+30*time.Second, o.cpuProfile); err != nil {
					sampleErr.Store(err)
				}
			})
		}
		if o.heapProfile != "" {
			wg.Go(func() {
				if !loadenv.Sleep(loadCtx, o.duration/2) {
					return
				}
				if err := loadenv.SaveProfile(loadCtx, mem.debugURL, "heap", 30*time.Second, o.heapProfile); err != nil {
					sampleErr.Store(err)
				}
			})
		}
		for clock() < l.windowEnd-int64(o.sample)/2 {
			if !loadenv.Sleep(loadCtx, o.sample) {
				return
			}
			s, err := mem.read(l.inflight.Load())
			if err != nil {
				sampleErr.Store(err)
				return
			}
			s.upstream = f.active.Load()
			rep.samples = append(rep.samples, s)
		}
		after, err := e.SampleUsage(loadCtx, srv)
		if err != nil {
			sampleErr.Store(err)
			return
		}
		rep.cpu = loadenv.CPUBetween(before, after)
	})
	l.run(loadCtx, begin)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	if v := sampleErr.Load(); v != nil {
		return fmt.Errorf("sampling: %w", v.(error))
	}
	rep.results = l.results
	rep.unmatched, rep.rejected, rep.cut = f.unmatched.Load(), f.rejected.Load(), f.cut.Load()

	// Idle again, after every stream ended.
	if loadenv.Sleep(ctx, 2*time.Second) {
		if s, err := mem.readCollected(func() int64 { return 0 }); err == nil {
			rep.after = &s
		}
	}
	if !srv.Alive() {
		return errors.New("the server exited during the run")
	}
	rep.print(os.Stdout)
	if lost := rep.lost(); lost > 0 {
		return fmt.Errorf("%d of %d streams lost", lost, len(rep.results))
	}
	return nil
}
