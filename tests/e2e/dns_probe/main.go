// Command dns-probe resolves each name given on its command line and exits 0 only if all of them
// resolve. The kind e2e tests run it as a pod (a static binary in a FROM-scratch image) to check
// cluster DNS from inside the cluster: it uses Go's own resolver, which reads the pod's
// /etc/resolv.conf (CoreDNS's Service IP, the namespace search path, ndots:5) like any client.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

const perNameTimeout = 10 * time.Second

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: dns-probe NAME...")
		os.Exit(2)
	}
	resolver := &net.Resolver{PreferGo: true}
	failed := false
	for _, name := range os.Args[1:] {
		ctx, cancel := context.WithTimeout(context.Background(), perNameTimeout)
		addrs, err := resolver.LookupHost(ctx, name)
		cancel()
		if err != nil {
			fmt.Printf("%s FAIL %v\n", name, err)
			failed = true
			continue
		}
		fmt.Printf("%s OK %s\n", name, strings.Join(addrs, ","))
	}
	if failed {
		os.Exit(1)
	}
}
