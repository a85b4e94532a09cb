package netfault

import (
	"bufio"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// peerScript keeps one connection to argv[1] open and, for each line on
// stdin, sends "ping" on it and prints "answered" or "silent" (no echo
// within 300 ms).
const peerScript = `
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
c = socket.create_connection((host, int(port)), timeout=2)
print("connected", flush=True)
for _ in range(20):
    if not sys.stdin.readline():
        break
    c.sendall(b"ping")
    c.settimeout(0.3)
    try:
        print("answered" if c.recv(64) else "closed", flush=True)
    except socket.timeout:
        print("silent", flush=True)
`

// TestPartitionCutsOnlyTheNamedProcess: a partition on a link blackholes,
// both ways, the connections whose client socket a named process holds (a
// real child process, found through /proc), and leaves the others alone; the
// same connection answers again once it is lifted.
func TestPartitionCutsOnlyTheNamedProcess(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 for the second process")
	}
	p := newProxy(t)
	echo := startEcho(t)
	link := mustLink(t, p, LinkSpec{Name: "peer", Upstream: echo.addr})
	mine := dial(t, link.Listen)

	child := exec.Command(python, "-c", peerScript, link.Listen)
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stdin.Close(); _ = child.Process.Kill(); _ = child.Wait() })
	lines := bufio.NewScanner(out)
	ask := func() string {
		t.Helper()
		if _, err := stdin.Write([]byte("go\n")); err != nil {
			t.Fatal(err)
		}
		if !lines.Scan() {
			t.Fatalf("the child said nothing: %v", lines.Err())
		}
		return lines.Text()
	}
	if !lines.Scan() || lines.Text() != "connected" {
		t.Fatalf("child: %q %v", lines.Text(), lines.Err())
	}
	if got := ask(); got != "answered" {
		t.Fatalf("before the partition the child got %q", got)
	}

	mustFault(t, p, "peer", FaultSpec{Kind: KindPartition, Sources: []int{child.Process.Pid}})
	if got := ask(); got != "silent" {
		t.Fatalf("under a partition from its PID the child got %q", got)
	}
	if _, err := roundTrip(mine, []byte("mine"), time.Second); err != nil {
		t.Fatalf("a connection of another process is cut too: %v", err)
	}
	st := stats(t, p, "peer")
	if st.ConnectionsCut != 1 || st.BytesDiscardedUpstream != 4 {
		t.Fatalf("stats under the partition: cut %d, discarded %d", st.ConnectionsCut, st.BytesDiscardedUpstream)
	}
	if _, err := p.ClearFaults("peer", KindPartition); err != nil {
		t.Fatal(err)
	}
	// The ping sent under the partition is gone; this one is answered on the same connection.
	if got := ask(); got != "answered" {
		t.Fatalf("after the partition the child got %q", got)
	}
}

func TestPartitionIsValidated(t *testing.T) {
	for _, tc := range []struct {
		spec  FaultSpec
		proto string
		want  string
	}{
		{FaultSpec{Kind: KindPartition}, ProtoTCP, "sources: want 1..1024 PIDs"},
		{FaultSpec{Kind: KindPartition, Sources: []int{0}}, ProtoTCP, "PID 0: want > 0"},
		{FaultSpec{Kind: KindPartition, Sources: []int{1}, Direction: DirUpstream}, ProtoTCP, "direction must be both"},
		{FaultSpec{Kind: KindPartition, Sources: []int{1}}, ProtoUDP, "tcp links only"},
		{FaultSpec{Kind: KindBlackhole, Sources: []int{1}}, ProtoTCP, "sources does not apply"},
	} {
		if _, err := tc.spec.Validate(tc.proto); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v on %s: %v, want %q", tc.spec, tc.proto, err, tc.want)
		}
	}
	if got := procAddr(netip.MustParseAddrPort("127.0.0.1:8080")); got != "0100007F:1F90" {
		t.Errorf("procAddr: %s", got)
	}
}
