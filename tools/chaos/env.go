package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"

	"paradise/tools/internal/loadenv"
)

// config is how chaos names what it creates.
var config = loadenv.Config{
	Tool:        "chaos",
	DBPrefix:    "paradise_chaos_",
	KeyPrefix:   "chaos:",
	StopTimeout: 20 * time.Second,
}

// proxy is an in-process TCP proxy (toxiproxy) in front of the shared
// Postgres or Redis. Disabling it is this tool's "restart": the
// connections through it are reset and new ones refused until it is
// enabled again, on the same port. The real server is never touched.
type proxy struct {
	name string
	p    *toxiproxy.Proxy
}

// newProxies starts one proxy per upstream (host:port), each on a free
// loopback port.
func newProxies(upstreams map[string]string) (map[string]*proxy, error) {
	api := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	out := map[string]*proxy{}
	for name, upstream := range upstreams {
		p := toxiproxy.NewProxy(api, name, "127.0.0.1:0", upstream)
		if err := p.Start(); err != nil {
			closeProxies(out)
			return nil, fmt.Errorf("proxy %s: %w", name, err)
		}
		out[name] = &proxy{name: name, p: p}
	}
	return out, nil
}

// addr is where the proxy listens (fixed once started).
func (p *proxy) addr() string { return p.p.Listen }

func (p *proxy) disable() { p.p.Stop() }

func (p *proxy) enable() error { return p.p.Start() }

func closeProxies(ps map[string]*proxy) {
	for _, p := range ps {
		p.p.Stop()
	}
}

// withHost returns rawURL with its host:port replaced by hostport.
func withHost(rawURL, hostport string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	u.Host = hostport
	return u.String(), nil
}

// hostPort is rawURL's host:port, with the scheme's default port when it
// has none.
func hostPort(rawURL, defaultPort string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	if u.Port() == "" {
		return u.Hostname() + ":" + defaultPort, nil
	}
	return u.Host, nil
}

// instance is one `paradise serve` of the pair under test, known to its
// clients by its address, which stays the same across a kill and restart.
type instance struct {
	name  string // "A" or "B"
	addr  string
	extra []string // DATABASE_URL and REDIS_URL through the proxies

	mu  sync.Mutex
	srv *loadenv.Server
}

func (in *instance) server() *loadenv.Server {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.srv
}

func (in *instance) baseURL() string { return "http://" + in.addr }

// start starts the instance (again) on its address and waits until it is
// ready.
func (in *instance) start(ctx context.Context, e *loadenv.Env) error {
	var s *loadenv.Server
	var err error
	if in.addr == "" {
		s, err = e.StartServer(ctx, in.name, in.extra)
	} else {
		s, err = e.StartServerAt(ctx, in.name, in.addr, in.extra)
	}
	if s != nil {
		in.mu.Lock()
		in.srv, in.addr = s, s.Addr()
		in.mu.Unlock()
	}
	if err != nil {
		return err
	}
	logf("server %s: pid %d on %s", in.name, s.PID(), in.addr)
	return nil
}

// openFDs is how many file descriptors the instance's process has open,
// or -1 if it is not running.
func (in *instance) openFDs() int {
	s := in.server()
	if s == nil || !s.Alive() {
		return -1
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.PID()))
	if err != nil {
		return -1
	}
	return len(ents)
}
