package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/redis/go-redis/v9"
)

// env is the server under test and what was created for it. Every field
// is set as soon as the thing it names exists, so close can undo a
// half-finished start.
type env struct {
	tmpDir      string
	admin       *sql.DB // connection to the admin database, to drop dbName
	dbName      string
	rdb         *redis.Client
	redisPrefix string
	server      *exec.Cmd
	serverDone  chan error // receives the server's exit once
	baseURL     string
}

// startEnv builds the binary, creates the scratch database, migrates it and
// starts the server. On error it still returns the env to close.
func startEnv(ctx context.Context, o options) (*env, error) {
	e := &env{}
	suffix, err := randomHex(4)
	if err != nil {
		return e, err
	}

	bin := o.bin
	if bin == "" {
		if e.tmpDir, err = os.MkdirTemp("", "restload-"); err != nil {
			return e, err
		}
		bin = filepath.Join(e.tmpDir, "paradise")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/paradise")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return e, fmt.Errorf("build ./cmd/paradise (run from the repository root): %w", err)
		}
	}

	// Scratch database.
	if e.admin, err = sql.Open("pgx", o.adminURL); err != nil {
		return e, err
	}
	name := "paradise_bench_" + suffix
	if _, err := e.admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return e, fmt.Errorf("create database %s: %w", name, err)
	}
	e.dbName = name
	dbURL, err := url.Parse(o.adminURL)
	if err != nil {
		return e, err
	}
	dbURL.Path = "/" + name

	// Redis, only to delete the run's keys at the end.
	ropts, err := redis.ParseURL(o.redisURL)
	if err != nil {
		return e, fmt.Errorf("-redis-url: %w", err)
	}
	e.rdb = redis.NewClient(ropts)
	e.redisPrefix = "bench:" + suffix + ":"

	addr, err := freeLoopbackAddr()
	if err != nil {
		return e, err
	}
	environ := append(os.Environ(),
		"DATABASE_URL="+dbURL.String(),
		"REDIS_URL="+o.redisURL,
		"PARADISE_REDIS_PREFIX="+e.redisPrefix,
		"PARADISE_ADDR="+addr,
		"LOG_LEVEL=warn",
	)

	migrate := exec.CommandContext(ctx, bin, "migrate")
	migrate.Env = environ
	migrate.Stdout, migrate.Stderr = os.Stderr, os.Stderr
	if err := migrate.Run(); err != nil {
		return e, fmt.Errorf("paradise migrate: %w", err)
	}

	// Not CommandContext: the server is stopped with SIGTERM in close, not
	// killed when ctx ends.
	e.server = exec.Command(bin, "serve")
	e.server.Env = environ
	// The server's output goes through a pipe that drops fx's start-up and
	// shutdown trace (fx logs to stderr regardless of LOG_LEVEL), so that
	// warnings and errors stand out.
	pr, pw, err := os.Pipe()
	if err != nil {
		return e, err
	}
	e.server.Stdout, e.server.Stderr = pw, pw
	err = e.server.Start()
	pw.Close() // the server holds its own copy
	if err != nil {
		pr.Close()
		e.server = nil
		return e, fmt.Errorf("start paradise serve: %w", err)
	}
	go copyServerLog(pr)
	e.serverDone = make(chan error, 1)
	go func() { e.serverDone <- e.server.Wait() }()
	e.baseURL = "http://" + addr
	return e, e.waitReady(ctx, 60*time.Second)
}

// waitReady polls /readyz until it answers 200, the server exits, or the
// timeout passes.
func (e *env) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		res, err := client.Get(e.baseURL + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-e.serverDone:
			e.serverDone <- err // close reads it again
			return fmt.Errorf("paradise serve exited before it was ready: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("paradise serve not ready after %s", timeout)
}

// close stops the server and removes the database, the Redis keys and the
// binary. It reports problems on stderr and carries on: clean-up is best
// effort, and it must never hang.
func (e *env) close(keep bool) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if e.server != nil && e.server.Process != nil {
		// Only the process this tool started, by its pid.
		_ = e.server.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-e.serverDone:
			if err != nil {
				fmt.Fprintln(os.Stderr, "restload: server exit:", err)
			}
		case <-time.After(20 * time.Second):
			fmt.Fprintln(os.Stderr, "restload: server did not stop on SIGTERM within 20s; killing it")
			_ = e.server.Process.Kill()
			<-e.serverDone
		}
	}
	if keep {
		if e.dbName != "" {
			fmt.Fprintf(os.Stderr, "restload: kept database %s and Redis keys %s*\n", e.dbName, e.redisPrefix)
		}
	} else {
		if e.rdb != nil && e.redisPrefix != "" {
			n, err := deleteKeys(ctx, e.rdb, e.redisPrefix+"*")
			if err != nil {
				fmt.Fprintln(os.Stderr, "restload: delete Redis keys:", err)
			} else {
				fmt.Fprintf(os.Stderr, "restload: deleted %d Redis keys %s*\n", n, e.redisPrefix)
			}
		}
		if e.admin != nil && e.dbName != "" {
			if _, err := e.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+e.dbName+" WITH (FORCE)"); err != nil {
				fmt.Fprintln(os.Stderr, "restload: drop database:", err)
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

// copyServerLog copies the server's output to stderr, without fx's lines,
// until the server exits and the pipe closes.
func copyServerLog(r *os.File) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if line := sc.Text(); !strings.HasPrefix(line, "[Fx] ") {
			fmt.Fprintln(os.Stderr, "server:", line)
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
		return "", errors.New("random: " + err.Error())
	}
	return hex.EncodeToString(b), nil
}
