// Command cmdload measures persistent device commands: it queues commands
// for offline devices, then connects the devices, which acknowledge every
// command they receive, and reports how fast commands are delivered and
// acknowledged. It is part of `make bench`:
//
//	go run ./tools/cmdload [-devices 10000] [-commands 100000] [-users 100] [-dial-workers 200]
//	                       [-cpuprofile cmd.prof [-profile-for 20s]]
//
// It builds ./cmd/paradise, creates a scratch Postgres database and Redis
// key prefix, runs `paradise serve` on a free loopback port (with the
// request rate limits off and sessions per user raised, since one user
// owns many devices here), registers users, binds devices to them
// (round robin) and logs each device in (MAC login). Then:
//
//  1. queue: every command is created with POST .../commands/ while the
//     devices are offline (64 workers);
//  2. deliver: every device connects (dial-workers dials in flight), reads
//     its commands and answers each with command_result at once; the run
//     ends when the database holds every command as acknowledged.
//
// It prints a Markdown table for docs/benchmarks.md: queue rate, commands
// acknowledged per second (from the first dial to the last command
// acknowledged in the database), and per device the time from starting
// its dial to receiving its last command (p50, p99, max), and the CPU the
// server, the tool, Postgres and Redis used over the deliver phase.
// -cpuprofile saves the server's CPU profile of the deliver phase's first
// -profile-for (pprof on the server's PARADISE_DEBUG_ADDR).
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	_ "github.com/jackc/pgx/v5/stdlib"

	"paradise/tools/internal/loadenv"
)

type options struct {
	devices, commands, users, dialWorkers int
	cpuProfile                            string
	profileFor                            time.Duration
	loadenv.Options
}

var config = loadenv.Config{Tool: "cmdload", DBPrefix: "paradise_bench_", KeyPrefix: "bench:", StopTimeout: 20 * time.Second}

func main() {
	var o options
	flag.IntVar(&o.devices, "devices", 10000, "devices (offline while commands are queued)")
	flag.IntVar(&o.commands, "commands", 100000, "commands in all, spread evenly over the devices")
	flag.IntVar(&o.users, "users", 100, "users owning the devices (round robin)")
	flag.IntVar(&o.dialWorkers, "dial-workers", 200, "WebSocket dials in flight at once")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write the server's CPU profile from the first dial (see -profile-for) to this file (go tool pprof reads it)")
	flag.DurationVar(&o.profileFor, "profile-for", 20*time.Second, "how long -cpuprofile profiles, from the first dial")
	o.AddFlags(flag.CommandLine, "the server under test")
	flag.Parse()
	if o.devices <= 0 || o.users <= 0 || o.commands < o.devices || o.commands%o.devices != 0 || o.dialWorkers <= 0 {
		fmt.Fprintln(os.Stderr, "cmdload: want positive -devices, -users, -dial-workers and -commands a multiple of -devices")
		os.Exit(2)
	}
	if err := o.CheckLoopback(); err != nil {
		fmt.Fprintln(os.Stderr, "cmdload:", err)
		os.Exit(2)
	}
	loadenv.Run("cmdload", func(ctx context.Context) error { return run(ctx, o) })
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "cmdload: "+format+"\n", args...)
}

type device struct {
	id    int
	mac   string
	token string
}

func run(ctx context.Context, o options) error {
	env, err := loadenv.Start(ctx, config, o.Options)
	defer env.Close(o.Keep)
	if err != nil {
		return err
	}
	debugAddr, err := loadenv.FreeLoopbackAddr()
	if err != nil {
		return err
	}
	srv, err := env.StartServer(ctx, "paradise", []string{
		"PARADISE_WS_MAX_SESSIONS_PER_USER=" + strconv.Itoa(o.devices),
		"PARADISE_WS_SEND_QUEUE=" + strconv.Itoa(max(64, 2*o.commands/o.devices)),
		"PARADISE_DEBUG_ADDR=" + debugAddr,
	})
	if err != nil {
		return err
	}
	defer env.Stop(srv)
	base := srv.BaseURL()
	client := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 256,
		DialContext: (&net.Dialer{Timeout: 10 * time.Second}).DialContext}}

	logf("registering %d users", o.users)
	users := make([]string, o.users)
	if err := parallel(ctx, o.users, 4, func(i int) error {
		var reg struct {
			Token string `json:"token"`
		}
		body := map[string]string{"username": fmt.Sprintf("cmdload_%d", i), "password": "correct-horse-battery"}
		if err := loadenv.PostJSON(ctx, client, base+"/api/user/register/", "", body, &reg); err != nil {
			return err
		}
		users[i] = reg.Token
		return nil
	}); err != nil {
		return err
	}
	logf("binding and logging in %d devices", o.devices)
	devs := make([]device, o.devices)
	if err := parallel(ctx, o.devices, 32, func(i int) error {
		mac := loadenv.DeviceMAC(i)
		var d struct {
			ID int `json:"id"`
		}
		if err := loadenv.PostJSON(ctx, client, base+"/api/device/bind/", users[i%o.users], map[string]string{"mac_address": mac}, &d); err != nil {
			return err
		}
		var l struct {
			Token string `json:"token"`
		}
		if err := loadenv.PostJSON(ctx, client, base+"/api/user/mac-login/", "", map[string]string{"mac_address": mac}, &l); err != nil {
			return err
		}
		devs[i] = device{id: d.ID, mac: mac, token: l.Token}
		return nil
	}); err != nil {
		return err
	}

	per := o.commands / o.devices
	logf("queueing %d commands (%d per device)", o.commands, per)
	qStart := time.Now()
	if err := parallel(ctx, o.commands, 64, func(i int) error {
		d := devs[i%o.devices]
		body := map[string]any{"name": "set_volume", "params": map[string]any{"level": i % 100}, "ttl_seconds": 3600}
		return loadenv.PostJSON(ctx, client, base+"/api/device/devices/"+strconv.Itoa(d.id)+"/commands/", users[(i%o.devices)%o.users], body, nil)
	}); err != nil {
		return err
	}
	queueTook := time.Since(qStart)

	db, err := sql.Open("pgx", env.DatabaseURL())
	if err != nil {
		return err
	}
	defer db.Close()

	logf("connecting %d devices", o.devices)
	var (
		delivered  atomic.Int64
		mu         sync.Mutex
		latencies  = make([]time.Duration, 0, o.devices)
		conns      = make([]*websocket.Conn, 0, o.devices)
		firstError string
		failures   int
	)
	before, err := env.SampleUsage(ctx, srv)
	if err != nil {
		return err
	}
	profileDone := make(chan error, 1)
	if o.cpuProfile != "" {
		go func() {
			secs := max(1, int(o.profileFor/time.Second))
			profileDone <- loadenv.SaveProfile(ctx, "http://"+debugAddr, fmt.Sprintf("profile?seconds=%d", secs), o.profileFor+time.Minute, o.cpuProfile)
		}()
	} else {
		profileDone <- nil
	}
	dStart := time.Now()
	wsClient := &http.Client{Transport: &http.Transport{Proxy: nil}}
	var readers sync.WaitGroup
	dialErr := parallel(ctx, o.devices, o.dialWorkers, func(i int) error {
		d := devs[i]
		t0 := time.Now()
		dctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		c, _, err := websocket.Dial(dctx, "ws://"+srv.Addr()+"/ws/device/token/"+d.token+"/", &websocket.DialOptions{HTTPClient: wsClient})
		if err != nil {
			mu.Lock()
			failures++
			if firstError == "" {
				firstError = err.Error()
			}
			mu.Unlock()
			return nil
		}
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
		readers.Add(1)
		go func() {
			defer readers.Done()
			got := 0
			for got < per {
				_, data, err := c.Read(ctx)
				if err != nil {
					mu.Lock()
					failures++
					if firstError == "" {
						firstError = "read: " + err.Error()
					}
					mu.Unlock()
					return
				}
				var f struct {
					Type    string `json:"type"`
					Message struct {
						CommandID string `json:"command_id"`
					} `json:"message"`
				}
				if json.Unmarshal(data, &f) != nil || f.Type != "command" {
					continue
				}
				got++
				delivered.Add(1)
				ack, _ := json.Marshal(map[string]any{"type": "command_result",
					"message": map[string]any{"command_id": f.Message.CommandID, "ok": true}})
				if err := c.Write(ctx, websocket.MessageText, ack); err != nil {
					return
				}
			}
			mu.Lock()
			latencies = append(latencies, time.Since(t0))
			mu.Unlock()
		}()
		return nil
	})
	if dialErr != nil {
		return dialErr
	}
	readers.Wait()
	// The acknowledgements are recorded by the server as it reads them:
	// wait until the database holds every one.
	var acked int
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM device_commands WHERE status = 'acknowledged'").Scan(&acked); err != nil {
			return err
		}
		if acked >= o.commands || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	deliverTook := time.Since(dStart)
	after, err := env.SampleUsage(ctx, srv)
	if err != nil {
		return err
	}
	cpu := loadenv.CPUBetween(before, after)
	for _, c := range conns {
		c.Close(websocket.StatusNormalClosure, "")
	}

	slices.Sort(latencies)
	pct := func(p float64) string {
		if len(latencies) == 0 {
			return "-"
		}
		return loadenv.Millis(loadenv.Percentile(latencies, p))
	}
	fmt.Println(loadenv.RunLine(time.Now()))
	fmt.Println()
	fmt.Printf("%d devices (%d users), %d commands (%d per device), one server instance, Postgres + Redis on this machine.\n\n", o.devices, o.users, o.commands, per)
	fmt.Println("| phase | result |")
	fmt.Println("|---|---|")
	fmt.Printf("| queue (POST .../commands/, 64 workers, devices offline) | %d commands in %s: %.0f commands/s |\n", o.commands, queueTook.Round(time.Millisecond), float64(o.commands)/queueTook.Seconds())
	fmt.Printf("| deliver + acknowledge (%d dials in flight) | %d delivered, %d acknowledged in %s: **%.0f acknowledged commands/s** |\n",
		o.dialWorkers, delivered.Load(), acked, deliverTook.Round(time.Millisecond), float64(acked)/deliverTook.Seconds())
	fmt.Printf("| dial start to last command delivered, per device | p50 %s ms, p99 %s ms, max %s ms (%d devices) |\n", pct(0.50), pct(0.99), pct(1), len(latencies))
	fmt.Printf("| CPU over the deliver phase, cores | server %.2f, load tool %.2f, Postgres %.2f, Redis %.2f, machine %.2f |\n",
		cpu.Servers[0], cpu.Loadgen, cpu.Postgres, cpu.Redis, cpu.Machine)
	if failures > 0 {
		fmt.Printf("| failures | %d (first: %s) |\n", failures, firstError)
	}
	if err := <-profileDone; err != nil {
		return err
	}
	if acked < o.commands || failures > 0 {
		return fmt.Errorf("%d of %d commands acknowledged, %d failures", acked, o.commands, failures)
	}
	return nil
}

// parallel runs fn(0..n-1) on workers goroutines and returns the first
// error.
func parallel(ctx context.Context, n, workers int, fn func(i int) error) error {
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for range min(workers, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err; next.Store(int64(n)) })
					return
				}
			}
		})
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return errors.Join(ctx.Err())
	}
	return first
}
