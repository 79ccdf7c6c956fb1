package testenv

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// A port picked by listening on :0 and closing is free only until someone else asks the
// kernel for one: a test in another package, running at the same time, can get it next
// and answer where this test expected silence. Port therefore picks below the kernel's
// ephemeral range, which the kernel never hands out for :0 or outgoing connections, and
// holds an advisory lock on a file per port, so that no other test process picks it while
// this test runs (the lock goes when the process dies, however it dies).
const (
	reservedLowPort  = 20000 // lowest port handed out
	minReservedPorts = 1000  // fewer than this below the ephemeral range: refuse
	portLockDirName  = "codexion-test-ports"
)

// Port returns a TCP port on 127.0.0.1 that nothing listens on, that the kernel will not
// hand to anyone else, and that no other test picks until t ends.
func Port(t testing.TB) int {
	t.Helper()
	high, err := ephemeralLow()
	if err != nil {
		t.Fatal(err)
	}
	if high-reservedLowPort < minReservedPorts {
		t.Fatalf("the ephemeral port range starts at %d: too few ports below it (from %d) for tests", high, reservedLowPort)
	}
	dir := filepath.Join(os.TempDir(), portLockDirName)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	span := high - reservedLowPort
	start := rand.IntN(span)
	for i := range span {
		port := reservedLowPort + (start+i)%span
		lock, ok := lockPort(dir, port)
		if !ok {
			continue
		}
		// Something outside the tests (a service of the machine) may listen here.
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			lock.Close()
			continue
		}
		ln.Close()
		t.Cleanup(func() { lock.Close() })
		return port
	}
	t.Fatalf("no free port in [%d, %d)", reservedLowPort, high)
	return 0
}

// Addr is Port as 127.0.0.1:port.
func Addr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(Port(t)))
}

// lockPort takes the lock file of port without waiting; the lock is held until the
// returned file is closed.
func lockPort(dir string, port int) (*os.File, bool) {
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)+".lock"), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, false
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, false
	}
	return f, true
}

// ephemeralLow is the first port of the kernel's ephemeral range (32768 on Linux by default).
func ephemeralLow() (int, error) {
	raw, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if os.IsNotExist(err) {
		return 32768, nil
	}
	if err != nil {
		return 0, err
	}
	fields := strings.Fields(string(raw))
	if len(fields) != 2 {
		return 0, fmt.Errorf("ip_local_port_range: %q", raw)
	}
	return strconv.Atoi(fields[0])
}
