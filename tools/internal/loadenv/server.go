package loadenv

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Server is one `paradise serve` process started by this tool.
type Server struct {
	name    string // "" for a tool's only server
	tool    string // for log lines
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	exitErr error         // valid after done
	addr    string        // 127.0.0.1:port
	stopped bool
}

func (s *Server) PID() int        { return s.cmd.Process.Pid }
func (s *Server) Addr() string    { return s.addr }
func (s *Server) BaseURL() string { return "http://" + s.addr }

// label names the server in log lines and errors: "server" for an
// unnamed one, "server A" otherwise.
func (s *Server) label() string {
	if s.name == "" {
		return "server"
	}
	return "server " + s.name
}

// serveLabel names the server in errors about its start.
func (s *Server) serveLabel() string {
	if s.name == "" {
		return "paradise serve"
	}
	return "paradise serve (" + s.name + ")"
}

// StartServer starts `paradise serve` on a free loopback port with the
// extra settings (NAME=value) and waits until it is ready. name tells the
// servers of a run apart in log lines; "" is for a tool's only server. A
// server that started is returned even with an error, and Close stops it
// in any case.
func (e *Env) StartServer(ctx context.Context, name string, extra []string) (*Server, error) {
	addr, err := FreeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	return e.StartServerAt(ctx, name, addr, extra)
}

// StartServerAt is StartServer on a given address (host:port), e.g. to
// restart a server on the port its clients know.
func (e *Env) StartServerAt(ctx context.Context, name, addr string, extra []string) (*Server, error) {
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
	s := &Server{name: name, tool: e.cfg.Tool, cmd: cmd, done: make(chan struct{}), addr: addr}
	e.mu.Lock()
	e.servers = append(e.servers, s)
	e.mu.Unlock()
	go copyServerLog(pr, s.label()+": ")
	go func() {
		s.exitErr = cmd.Wait()
		close(s.done)
	}()
	return s, s.waitReady(ctx, 60*time.Second)
}

// waitReady polls /readyz until it answers 200, the server exits, or the
// timeout passes.
func (s *Server) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	// Proxy nil: HTTP_PROXY must not divert loopback traffic.
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	for time.Now().Before(deadline) {
		res, err := client.Get(s.BaseURL() + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("%s exited before it was ready: %v", s.serveLabel(), s.exitErr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready after %s", s.serveLabel(), timeout)
}

// Alive reports whether the server is still running.
func (s *Server) Alive() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// Kill sends SIGKILL to the server (only the process this tool started,
// by its pid) and waits for it to exit. A killed server is not stopped
// again by Env.Stop or Env.Close.
func (s *Server) Kill() error {
	s.stopped = true
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil && s.Alive() {
		return fmt.Errorf("kill %s: %w", s.label(), err)
	}
	<-s.done
	return nil
}

// stop sends SIGTERM to the server (only the process this tool started, by
// its pid) and waits for it to exit; after timeout it kills it. Calls after
// the first do nothing; they must not run concurrently (Env.Stop is given
// distinct servers, and Close runs after the scenarios' Stops).
func (s *Server) stop(timeout time.Duration) {
	if s.stopped {
		return
	}
	s.stopped = true
	if !s.Alive() {
		logf(s.tool, "%s had already exited: %v", s.label(), s.exitErr)
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		if s.exitErr != nil {
			logf(s.tool, "%s exit: %v", s.label(), s.exitErr)
		}
	case <-time.After(timeout):
		logf(s.tool, "%s did not stop on SIGTERM within %s; killing it", s.label(), timeout)
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// copyServerLog copies a server's output to stderr, each line after
// prefix and without fx's lines, until the server exits and the pipe
// closes.
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

// FreeLoopbackAddr asks the kernel for a free loopback port (for a server
// or one of its metrics and debug listeners). Another process could take
// it before the server binds it; the server then fails to start and the
// run fails visibly, which is fine for a dev tool.
func FreeLoopbackAddr() (string, error) {
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

// SaveProfile saves one of a server's pprof profiles to path: debugURL is
// its PARADISE_DEBUG_ADDR listener ("http://127.0.0.1:port"), profile the
// pprof path below /debug/pprof/ ("profile?seconds=30", "heap").
func SaveProfile(ctx context.Context, debugURL, profile string, timeout time.Duration, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, debugURL+"/debug/pprof/"+profile, nil)
	if err != nil {
		return fmt.Errorf("%s profile: %w", profile, err)
	}
	c := &http.Client{Timeout: timeout, Transport: &http.Transport{Proxy: nil}}
	res, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("%s profile: %w", profile, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s profile: %s", profile, res.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("%s profile: %w", profile, err)
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return fmt.Errorf("%s profile: %w", profile, err)
	}
	return f.Close()
}
