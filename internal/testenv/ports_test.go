package testenv

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestPortIsOutsideTheEphemeralRangeAndHeldUntilTheTestEnds: the kernel never gives the
// port to a :0 listener or an outgoing connection, and no other test (in this process or
// another) picks it while the test runs.
func TestPortIsOutsideTheEphemeralRangeAndHeldUntilTheTestEnds(t *testing.T) {
	low, err := ephemeralLow()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for range 50 {
		p := Port(t)
		if p < reservedLowPort || p >= low {
			t.Fatalf("port %d is outside [%d, %d)", p, reservedLowPort, low)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
		if f, ok := lockPort(filepath.Join(os.TempDir(), portLockDirName), p); ok {
			f.Close()
			t.Fatalf("port %d can be locked by another picker while the test holds it", p)
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Fatalf("port %d is not free: %v", p, err)
		}
		ln.Close()
	}
}
