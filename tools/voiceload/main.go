// Command voiceload load-tests hub voice turns: devices stream 16 kHz PCM
// over the device hub (voice_start, binary frames, voice_end) and the
// server answers with stt, the chat reply and its synthesized audio. The
// speech vendor is a fake Volcengine openspeech in this process (the
// volctest fake: streaming ASR over the binary WebSocket protocol and V1
// TTS, each answering after -vendor-delay); the reply comes from the
// development LLM provider without pacing. `make bench-voice` runs it with
// its defaults:
//
//	go run ./tools/voiceload [-turns 200] [-seconds 5] [-frame 100ms] [-vendor-delay 50ms]
//	    [-warmup 8s] [-duration 30s]
//
// It builds ./cmd/paradise, creates a scratch Postgres database
// (paradise_voiceload_<random>) and a Redis key prefix
// (voiceload:<random>:), registers -turns users with one device each on a
// set-up instance (stopped afterwards), and starts a fresh `paradise
// serve` on the fake. Each device runs voice turns back to back: -seconds
// of audio in -frame frames at the pace of speech, then voice_end.
//
// It reports Paradise's added latency from end of speech (voice_end sent)
// to the first reply audio frame received, minus the fake's delays on that
// path (the final streaming-ASR answer and one TTS call), p50/p99; the
// server's memory per active turn (RSS and live Go heap over the idle
// server); and lost turns, as Markdown on stdout. Progress goes to stderr.
// It removes the server (by pid), the database and the Redis keys at the
// end. It exits non-zero when set-up fails or a turn was lost.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"paradise/internal/speech/volcengine/volctest"
	"paradise/tools/internal/loadenv"
)

// options are the command-line flags.
type options struct {
	turns        int
	seconds      float64
	frame        time.Duration
	vendorDelay  time.Duration
	warmup       time.Duration
	duration     time.Duration
	sample       time.Duration
	setupWorkers int
	cpuProfile   string

	loadenv.Options // -admin-url, -redis-url, -bin, -keep
}

var envConfig = loadenv.Config{
	Tool:        "voiceload",
	DBPrefix:    "paradise_voiceload_",
	KeyPrefix:   "voiceload:",
	StopTimeout: 30 * time.Second,
}

func main() {
	var o options
	flag.IntVar(&o.turns, "turns", 200, "concurrent voice turns: one device (and user) each, turns back to back")
	flag.Float64Var(&o.seconds, "seconds", 5, "seconds of 16 kHz PCM per turn")
	flag.DurationVar(&o.frame, "frame", 100*time.Millisecond, "audio per binary frame, sent at the pace of speech")
	flag.DurationVar(&o.vendorDelay, "vendor-delay", 50*time.Millisecond, "the fake vendor's delay before the final ASR answer and before each TTS answer")
	flag.DurationVar(&o.warmup, "warmup", 8*time.Second, "unmeasured load before the window (the devices start spread over one turn's length)")
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "measured window: turns whose voice_end is sent in it are measured")
	flag.DurationVar(&o.sample, "sample", time.Second, "how often the server's memory is read during the window")
	flag.IntVar(&o.setupWorkers, "setup-workers", 8, "concurrent registrations during set-up")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write the server's CPU profile over the measured window to this file (go tool pprof reads it)")
	o.AddFlags(flag.CommandLine, "the server under test")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "voiceload: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	if err := o.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "voiceload:", err)
		os.Exit(2)
	}
	loadenv.Run("voiceload", func(ctx context.Context) error { return run(ctx, o) })
}

func (o *options) validate() error {
	if o.turns < 1 || o.setupWorkers < 1 {
		return errors.New("-turns and -setup-workers must be at least 1")
	}
	// The server caps a turn at PARADISE_SPEECH_MAX_AUDIO_SECONDS (30).
	if o.seconds <= 0 || o.seconds > 30 || o.frame < 10*time.Millisecond || o.frame > time.Second {
		return errors.New("-seconds must be in (0, 30] and -frame in [10ms, 1s]")
	}
	if o.vendorDelay < 0 || o.warmup < 0 || o.duration <= 0 || o.sample <= 0 {
		return errors.New("-vendor-delay and -warmup must not be negative, -duration and -sample positive")
	}
	return o.CheckLoopback()
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "voiceload: "+format+"\n", args...)
}

func run(ctx context.Context, o options) error {
	e, err := loadenv.Start(ctx, envConfig, o.Options)
	defer e.Close(o.Keep)
	if err != nil {
		return err
	}
	rep := &report{o: o}
	start := time.Now()
	devices, err := setupDevices(ctx, e, o)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	rep.setupTime = time.Since(start)
	logf("registered %d users with a device each in %s", len(devices), rep.setupTime.Round(time.Millisecond))

	fake := volctest.Start()
	defer fake.Close()
	fake.Delay = o.vendorDelay

	metricsAddr, err := loadenv.FreeLoopbackAddr()
	if err != nil {
		return err
	}
	debugAddr, err := loadenv.FreeLoopbackAddr()
	if err != nil {
		return err
	}
	srv, err := e.StartServer(ctx, "", []string{
		"PARADISE_SPEECH_PROVIDER=volcengine",
		"PARADISE_SPEECH_VOLCENGINE_APPID=" + volctest.AppID,
		"PARADISE_SPEECH_VOLCENGINE_ACCESS_TOKEN=" + volctest.AccessToken,
		"PARADISE_SPEECH_VOLCENGINE_BASE_URL=" + fake.URL,
		"PARADISE_SPEECH_SECONDS_PER_DAY=0",
		"PARADISE_LLM_DEV_DELAY=0",
		"PARADISE_CHAT_MESSAGES_PER_DAY=0",
		"PARADISE_CHAT_TOKENS_PER_DAY=0",
		"PARADISE_METRICS_ADDR=" + metricsAddr,
		"PARADISE_DEBUG_ADDR=" + debugAddr,
	})
	if err != nil {
		return err
	}
	logf("server pid %d on %s, fake Volcengine on %s", srv.PID(), srv.Addr(), fake.URL)
	mem := &memSampler{srv: srv, metricsURL: "http://" + metricsAddr + "/metrics", debugURL: "http://" + debugAddr}

	l := &load{o: o, wsURL: "ws://" + srv.Addr() + "/ws/device/", devices: devices, audio: speechPCM(o.seconds)}
	if err := l.connect(ctx); err != nil {
		return fmt.Errorf("connect the devices: %w", err)
	}
	defer l.close()
	// The idle baseline: every device connected, no turn.
	if !loadenv.Sleep(ctx, time.Second) {
		return ctx.Err()
	}
	if rep.idle, err = mem.readCollected(0); err != nil {
		return err
	}
	begin := time.Now()
	l.windowStart = begin.Add(o.warmup)
	l.windowEnd = l.windowStart.Add(o.duration)
	logf("%d devices, %.1f s of audio per turn in %s frames; fake vendor delay %s; %s warm-up + %s window",
		o.turns, o.seconds, o.frame, o.vendorDelay, o.warmup, o.duration)

	loadCtx, cancelLoad := context.WithCancel(ctx)
	defer cancelLoad()
	var wg sync.WaitGroup
	var sampleErr error
	var profileErr atomic.Value
	wg.Go(func() {
		if !loadenv.Sleep(loadCtx, time.Until(l.windowStart)) {
			return
		}
		// The live heap with the turns in flight, then RSS and heap in
		// use through the window.
		s, err := mem.readCollected(l.active.Load())
		if err != nil {
			sampleErr = err
			return
		}
		rep.live = &s
		before, err := e.SampleUsage(loadCtx, srv)
		if err != nil {
			sampleErr = err
			return
		}
		if o.cpuProfile != "" {
			wg.Go(func() {
				secs := max(1, int(time.Until(l.windowEnd)/time.Second))
				if err := loadenv.SaveProfile(loadCtx, mem.debugURL, fmt.Sprintf("profile?seconds=%d", secs), o.duration+30*time.Second, o.cpuProfile); err != nil {
					profileErr.Store(err)
				}
			})
		}
		defer func() {
			after, err := e.SampleUsage(loadCtx, srv)
			if err != nil {
				sampleErr = err
				return
			}
			rep.cpu = loadenv.CPUBetween(before, after)
		}()
		for time.Until(l.windowEnd) > o.sample/2 {
			if !loadenv.Sleep(loadCtx, o.sample) {
				return
			}
			s, err := mem.read(l.active.Load())
			if err != nil {
				sampleErr = err
				return
			}
			rep.samples = append(rep.samples, s)
		}
	})
	l.run(loadCtx)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	if sampleErr != nil {
		return fmt.Errorf("sampling: %w", sampleErr)
	}
	if err, _ := profileErr.Load().(error); err != nil {
		return err
	}
	if !srv.Alive() {
		return errors.New("the server exited during the run")
	}
	rep.results = l.results
	rep.streams, rep.refused = fake.Streams.Load(), fake.Refused.Load()
	rep.print(os.Stdout)
	if lost := rep.lost(); lost > 0 {
		return fmt.Errorf("%d of %d turns lost", lost, len(rep.results))
	}
	return nil
}
