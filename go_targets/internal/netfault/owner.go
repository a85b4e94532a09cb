package netfault

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// A partition needs to know which process a connection comes from: on a link
// into one etcd member, every other member's connections arrive on the same
// listener. Without root, the kernel says so in /proc: the client's socket
// (its local address is the connection's remote one) has an inode in
// /proc/net/tcp, and the process holding it has socket:[inode] among its
// /proc/PID/fd links, readable for processes of the same user.

// procRoot is where /proc is (a test seam).
var procRoot = "/proc"

// socketInode finds the inode of the TCP socket whose local address is local
// and remote address is remote (both IPv4; loopback on a link), 0 if none.
func socketInode(local, remote netip.AddrPort) (uint64, error) {
	if !local.Addr().Unmap().Is4() || !remote.Addr().Unmap().Is4() {
		return 0, fmt.Errorf("%s -> %s: only IPv4 connections can be traced to a process", local, remote)
	}
	f, err := os.Open(procRoot + "/net/tcp")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	want := [2]string{procAddr(local), procAddr(remote)}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[1] != want[0] || fields[2] != want[1] {
			continue
		}
		return strconv.ParseUint(fields[9], 10, 64)
	}
	return 0, sc.Err()
}

// procAddr is an IPv4 address as /proc/net/tcp prints it: the address's
// 32-bit word in the host's order (little-endian here) in hex, a colon, the
// port in hex.
func procAddr(a netip.AddrPort) string {
	ip := a.Addr().Unmap().As4()
	var word [4]byte
	binary.NativeEndian.PutUint32(word[:], binary.BigEndian.Uint32(ip[:]))
	return fmt.Sprintf("%08X:%04X", binary.BigEndian.Uint32(word[:]), a.Port())
}

// holder returns which of pids holds the socket of inode (0: none of them).
func holder(inode uint64, pids []int) int {
	want := fmt.Sprintf("socket:[%d]", inode)
	for _, pid := range pids {
		dir := fmt.Sprintf("%s/%d/fd", procRoot, pid)
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue // gone, or not ours to read
		}
		for _, e := range entries {
			if target, err := os.Readlink(dir + "/" + e.Name()); err == nil && target == want {
				return pid
			}
		}
	}
	return 0
}

// connOwner returns which of pids owns the client end of a connection the
// proxy accepted (client: its remote address, listen: its local one); 0 when
// none does.
func connOwner(client, listen netip.AddrPort, pids []int) (int, error) {
	inode, err := socketInode(client, listen)
	if err != nil {
		return 0, err
	}
	if inode == 0 {
		return 0, errors.New("the client's socket is not in " + procRoot + "/net/tcp (closed already?)")
	}
	return holder(inode, pids), nil
}
