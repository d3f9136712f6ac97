package loadenv

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// FloorMain is the main of a floor: a bare server a load tool measures in
// place of `paradise serve`, to tell what any server pays on this machine
// from what Paradise adds. It understands just enough of paradise's
// command line and environment for Env to run it: `<name> migrate` does
// nothing, `<name> serve` builds the handler and serves it on
// PARADISE_ADDR with /readyz, the Go runtime's metrics on
// PARADISE_METRICS_ADDR and pprof on PARADISE_DEBUG_ADDR, until SIGTERM.
func FloorMain(name string, handler func() (http.Handler, error)) {
	if len(os.Args) != 2 {
		fmt.Fprintf(os.Stderr, "usage: %s migrate|serve\n", name)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "migrate":
		return // no database
	case "serve":
		h, err := handler()
		if err == nil {
			err = serveFloor(h)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
			os.Exit(1)
		}
	default:
		fmt.Fprintf(os.Stderr, "%s: unknown command %q\n", name, os.Args[1])
		os.Exit(2)
	}
}

func serveFloor(h http.Handler) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.Handle("/", h)

	debug := http.NewServeMux()
	debug.HandleFunc("/debug/pprof/", pprof.Index)
	debug.HandleFunc("/debug/pprof/profile", pprof.Profile)
	metrics := http.NewServeMux()
	metrics.Handle("/metrics", promhttp.Handler()) // the default registry has the Go collector

	errc := make(chan error, 3)
	listen := func(addr string, h http.Handler) *http.Server {
		s := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := s.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("listen on %s: %w", addr, err)
			}
		}()
		return s
	}
	servers := []*http.Server{listen(os.Getenv("PARADISE_ADDR"), mux)}
	if addr := os.Getenv("PARADISE_METRICS_ADDR"); addr != "" {
		servers = append(servers, listen(addr, metrics))
	}
	if addr := os.Getenv("PARADISE_DEBUG_ADDR"); addr != "" {
		servers = append(servers, listen(addr, debug))
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	select {
	case err := <-errc:
		return err
	case <-sig:
		for _, s := range servers {
			_ = s.Close()
		}
		return nil
	}
}
