// Package loadenv is what the load tools (tools/restload, tools/hubload)
// share: a scratch Paradise deployment on this machine (binary, Postgres
// database, Redis key prefix, `paradise serve` processes), /proc sampling
// of the CPU and memory it uses, REST set-up helpers and the machine line
// of the reports. Each tool keeps its scenarios, flags of its own and
// report tables.
//
// Everything a run creates is removed by Env.Close: only the processes it
// started are signalled, by pid; the database is dropped; the Redis keys
// under the run's prefix are deleted. Options.CheckLoopback keeps all of
// that on this machine.
package loadenv

import (
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
)

// Options are the flags both tools share: where the scratch state goes and
// which binary runs.
type Options struct {
	AdminURL string // Postgres server (admin database) to create the scratch database on
	RedisURL string // Redis server for the servers under test
	Bin      string // paradise binary; empty builds ./cmd/paradise
	Keep     bool   // keep the scratch database and Redis keys after the run
}

// AddFlags defines -admin-url, -redis-url, -bin and -keep on fs.
// underTest ends the -redis-url help ("the server under test"), so each
// tool's -help reads as before.
func (o *Options) AddFlags(fs *flag.FlagSet, underTest string) {
	fs.StringVar(&o.AdminURL, "admin-url", EnvOr("PARADISE_DEV_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"), "Postgres server (loopback) to create the scratch database on")
	fs.StringVar(&o.RedisURL, "redis-url", EnvOr("PARADISE_DEV_REDIS_URL", "redis://127.0.0.1:6379/0"), "Redis server (loopback) for "+underTest)
	fs.StringVar(&o.Bin, "bin", "", "paradise binary to test instead of building ./cmd/paradise")
	fs.BoolVar(&o.Keep, "keep", false, "keep the scratch database and Redis keys (for inspection after the run)")
}

// CheckLoopback fails unless Postgres and Redis are on loopback hosts: the
// tools create and drop databases and delete keys, so they must stay on
// this machine.
func (o *Options) CheckLoopback() error {
	for _, raw := range []string{o.AdminURL, o.RedisURL} {
		u, err := url.Parse(raw)
		if err != nil {
			return fmt.Errorf("parse %q: %w", raw, err)
		}
		if !isLoopback(u.Hostname()) {
			return fmt.Errorf("%s: only loopback hosts are allowed", u.Redacted())
		}
	}
	return nil
}

// isLoopback reports whether host is a loopback name or address.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// EnvOr returns the environment variable name, or def when it is unset or
// empty.
func EnvOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
