package testenv

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// ServerSockets counts the TCP sockets of this machine whose local port is
// the service's port, other than its listener, by state (as the kernel
// names them: "ESTABLISHED", "CLOSE_WAIT", ...). The service runs in the
// test's process, so these are its accepted connections; a socket the
// service forgot to close stays in CLOSE_WAIT after its peer left.
func (s *Service) ServerSockets(t testing.TB) map[string]int {
	t.Helper()
	_, portText, err := net.SplitHostPort(strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if err := countSockets(file, uint16(port), counts); err != nil {
			t.Fatalf("testenv: %v", err)
		}
	}
	return counts
}

// tcpStates are the kernel's TCP state numbers (include/net/tcp_states.h).
var tcpStates = map[string]string{
	"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1",
	"05": "FIN_WAIT2", "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT",
	"09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING",
}

func countSockets(file string, port uint16, counts map[string]int) error {
	f, err := os.Open(file)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	suffix := fmt.Sprintf(":%04X", port)
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !strings.HasSuffix(fields[1], suffix) {
			continue
		}
		state := tcpStates[fields[3]]
		if state == "" {
			state = fields[3]
		}
		if state != "LISTEN" {
			counts[state]++
		}
	}
	return sc.Err()
}
