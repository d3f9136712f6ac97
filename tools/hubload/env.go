package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/redis/go-redis/v9"
)

// env is what the run created: the binary, the scratch database, the
// Redis prefix and the servers. Every field is set as soon as the thing it
// names exists, so close can undo a half-finished start.
type env struct {
	bin         string
	tmpDir      string
	admin       *sql.DB // connection to the admin database, to drop dbName
	dbName      string
	dbURL       string
	redisURL    string
	rdb         *redis.Client
	redisPrefix string

	mu      sync.Mutex
	servers []*server // every server started, stopped or not
}

// server is one `paradise serve` process started by this tool.
type server struct {
	name    string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	exitErr error         // valid after done
	addr    string        // 127.0.0.1:port
	stopped bool
}

func (s *server) pid() int        { return s.cmd.Process.Pid }
func (s *server) baseURL() string { return "http://" + s.addr }
func (s *server) wsURL(token string) string {
	return "ws://" + s.addr + "/ws/device/token/" + token + "/"
}

// newEnv builds the binary, creates and migrates the scratch database and
// connects to Redis. On error it still returns the env to close.
func newEnv(ctx context.Context, o options) (*env, error) {
	e := &env{redisURL: o.redisURL}
	suffix, err := randomHex(4)
	if err != nil {
		return e, err
	}

	e.bin = o.bin
	if e.bin == "" {
		if e.tmpDir, err = os.MkdirTemp("", "hubload-"); err != nil {
			return e, err
		}
		e.bin = filepath.Join(e.tmpDir, "paradise")
		logf("building ./cmd/paradise")
		build := exec.CommandContext(ctx, "go", "build", "-o", e.bin, "./cmd/paradise")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return e, fmt.Errorf("build ./cmd/paradise (run from the repository root): %w", err)
		}
	}

	// Scratch database.
	if e.admin, err = sql.Open("pgx", o.adminURL); err != nil {
		return e, err
	}
	name := "paradise_hubload_" + suffix
	if _, err := e.admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return e, fmt.Errorf("create database %s: %w", name, err)
	}
	e.dbName = name
	dbURL, err := url.Parse(o.adminURL)
	if err != nil {
		return e, err
	}
	dbURL.Path = "/" + name
	e.dbURL = dbURL.String()

	// Redis: to read its CPU time and delete the run's keys at the end.
	ropts, err := redis.ParseURL(o.redisURL)
	if err != nil {
		return e, fmt.Errorf("-redis-url: %w", err)
	}
	e.rdb = redis.NewClient(ropts)
	e.redisPrefix = "hubload:" + suffix + ":"
	if err := e.rdb.Ping(ctx).Err(); err != nil {
		return e, fmt.Errorf("redis: %w", err)
	}

	migrate := exec.CommandContext(ctx, e.bin, "migrate")
	migrate.Env = e.environ("127.0.0.1:0", nil)
	migrate.Stdout, migrate.Stderr = os.Stderr, os.Stderr
	if err := migrate.Run(); err != nil {
		return e, fmt.Errorf("paradise migrate: %w", err)
	}
	return e, nil
}

// environ is the environment of a server listening on addr, with extra
// settings (NAME=value) added.
func (e *env) environ(addr string, extra []string) []string {
	env := append(os.Environ(),
		"DATABASE_URL="+e.dbURL,
		"REDIS_URL="+e.redisURL,
		"PARADISE_REDIS_PREFIX="+e.redisPrefix,
		"PARADISE_ADDR="+addr,
		"LOG_LEVEL=warn",
	)
	return append(env, extra...)
}

// startServer starts `paradise serve` on a free loopback port with the
// extra settings and waits until it is ready.
func (e *env) startServer(ctx context.Context, name string, extra []string) (*server, error) {
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	// Not CommandContext: the server is stopped with SIGTERM by stop, not
	// killed when ctx ends.
	cmd := exec.Command(e.bin, "serve")
	cmd.Env = e.environ(addr, extra)
	// The server's output goes through a pipe that drops fx's start-up and
	// shutdown trace (fx logs to stderr regardless of LOG_LEVEL), so that
	// warnings and errors stand out.
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	err = cmd.Start()
	pw.Close() // the server holds its own copy
	if err != nil {
		pr.Close()
		return nil, fmt.Errorf("start paradise serve: %w", err)
	}
	s := &server{name: name, cmd: cmd, done: make(chan struct{}), addr: addr}
	e.mu.Lock()
	e.servers = append(e.servers, s)
	e.mu.Unlock()
	go copyServerLog(pr, "server "+name+": ")
	go func() {
		s.exitErr = cmd.Wait()
		close(s.done)
	}()
	if err := s.waitReady(ctx, 60*time.Second); err != nil {
		return s, err
	}
	logf("server %s: pid %d on %s", name, s.pid(), addr)
	return s, nil
}

// waitReady polls /readyz until it answers 200, the server exits, or the
// timeout passes.
func (s *server) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	for time.Now().Before(deadline) {
		res, err := client.Get(s.baseURL() + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("paradise serve (%s) exited before it was ready: %v", s.name, s.exitErr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("paradise serve (%s) not ready after %s", s.name, timeout)
}

// alive reports whether the server is still running.
func (s *server) alive() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM to the server (only the process this tool started, by
// its pid) and waits for it to exit; after timeout it kills it.
func (s *server) stop(timeout time.Duration) {
	if s.stopped {
		return
	}
	s.stopped = true
	if !s.alive() {
		logf("server %s had already exited: %v", s.name, s.exitErr)
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		if s.exitErr != nil {
			logf("server %s exit: %v", s.name, s.exitErr)
		}
	case <-time.After(timeout):
		logf("server %s did not stop on SIGTERM within %s; killing it", s.name, timeout)
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// stopServers stops the servers concurrently.
func stopServers(servers ...*server) {
	var wg sync.WaitGroup
	for _, s := range servers {
		if s == nil {
			continue
		}
		wg.Go(func() { s.stop(30 * time.Second) })
	}
	wg.Wait()
}

// close stops every server still running and removes the database, the
// Redis keys and the binary. It reports problems on stderr and carries on:
// clean-up is best effort, and it must never hang.
func (e *env) close(keep bool) {
	e.mu.Lock()
	servers := slices.Clone(e.servers)
	e.mu.Unlock()
	stopServers(servers...)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if keep {
		if e.dbName != "" {
			logf("kept database %s and Redis keys %s*", e.dbName, e.redisPrefix)
		}
	} else {
		if e.rdb != nil && e.redisPrefix != "" {
			n, err := deleteKeys(ctx, e.rdb, e.redisPrefix+"*")
			if err != nil {
				logf("delete Redis keys: %v", err)
			} else {
				logf("deleted %d Redis keys %s*", n, e.redisPrefix)
			}
		}
		if e.admin != nil && e.dbName != "" {
			if _, err := e.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+e.dbName+" WITH (FORCE)"); err != nil {
				logf("drop database: %v", err)
			} else {
				logf("dropped database %s", e.dbName)
			}
		}
	}
	if e.rdb != nil {
		_ = e.rdb.Close()
	}
	if e.admin != nil {
		_ = e.admin.Close()
	}
	if e.tmpDir != "" {
		_ = os.RemoveAll(e.tmpDir)
	}
}

// deleteKeys deletes the keys matching pattern with SCAN, in batches, so a
// large run does not block Redis with one huge command.
func deleteKeys(ctx context.Context, rdb *redis.Client, pattern string) (int, error) {
	deleted := 0
	iter := rdb.Scan(ctx, 0, pattern, 1000).Iterator()
	batch := make([]string, 0, 1000)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		n, err := rdb.Del(ctx, batch...).Result()
		deleted += int(n)
		batch = batch[:0]
		return err
	}
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return deleted, err
			}
		}
	}
	if err := iter.Err(); err != nil {
		return deleted, err
	}
	return deleted, flush()
}

// copyServerLog copies a server's output to stderr, without fx's lines,
// until the server exits and the pipe closes.
func copyServerLog(r *os.File, prefix string) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if line := sc.Text(); !strings.HasPrefix(line, "[Fx] ") {
			fmt.Fprintln(os.Stderr, prefix+line)
		}
	}
	// After an over-long line, keep draining so the server never blocks
	// writing to a full pipe.
	_, _ = io.Copy(io.Discard, r)
}

// freeLoopbackAddr asks the kernel for a free port. Another process could
// take it before the server binds it; the server then fails to start and
// the run fails visibly, which is fine for a dev tool.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", err
	}
	return addr, nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return hex.EncodeToString(b), nil
}
