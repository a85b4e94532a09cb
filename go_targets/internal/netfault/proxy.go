// Package netfault is a userspace network-fault proxy: each link listens on
// a TCP or UDP address, forwards to one upstream host:port, and applies
// faults per direction (delay with jitter, loss, blackhole, reset, bandwidth)
// that can be set and removed while traffic flows. cmd/chaosproxy serves a
// Proxy's control API (NewServer) over HTTP; see go_targets/README.md.
package netfault

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Link protocols.
const (
	ProtoTCP = "tcp"
	ProtoUDP = "udp"
)

// Defaults.
const (
	DefaultListen         = "127.0.0.1:0"
	DefaultDialTimeout    = 5 * time.Second
	DefaultUDPIdleTimeout = 30 * time.Second
	maxUDPIdleTimeoutMS   = 3_600_000
)

// Error kinds, for errors.Is (the control API maps them to status codes).
var (
	ErrInvalid   = errors.New("invalid request")        // 400
	ErrNotFound  = errors.New("not found")              // 404
	ErrExists    = errors.New("already exists")         // 409
	ErrAddrInUse = errors.New("address already in use") // 409
	ErrClosed    = errors.New("proxy closed")           // 503
)

// Error is a failed request: Msg says what and why; Kind is one of the Err*
// values above.
type Error struct {
	Kind error
	Msg  string
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Kind }

func invalidf(format string, args ...any) error {
	return &Error{Kind: ErrInvalid, Msg: fmt.Sprintf(format, args...)}
}

func notFound(name string) error {
	return &Error{Kind: ErrNotFound, Msg: fmt.Sprintf("no link %q", name)}
}

// LinkSpec is the body of POST /links.
type LinkSpec struct {
	Name             string `json:"name"`                          // [A-Za-z0-9][A-Za-z0-9._-]{0,99}
	Protocol         string `json:"protocol"`                      // tcp (the default) or udp
	Listen           string `json:"listen"`                        // host:port, port 0 = pick; default 127.0.0.1:0
	Upstream         string `json:"upstream"`                      // host:port
	UDPIdleTimeoutMS int64  `json:"udp_idle_timeout_ms,omitempty"` // udp: a session's idle expiry (default 30000)
}

// LinkInfo describes a link: Listen is the address it actually listens on.
type LinkInfo struct {
	Name             string  `json:"name"`
	Protocol         string  `json:"protocol"`
	Listen           string  `json:"listen"`
	Upstream         string  `json:"upstream"`
	UDPIdleTimeoutMS int64   `json:"udp_idle_timeout_ms,omitempty"`
	CreatedAtUnixNS  int64   `json:"created_at_unix_ns"`
	Faults           []Fault `json:"faults"`
}

// Stats are a link's counters since it was created, and its faults.
type Stats struct {
	Name     string `json:"name"`
	Protocol string `json:"protocol"`
	// TCP connections: accepted from clients; open now; reset at once by a
	// loss fault; closed with an RST by a reset fault; whose upstream dial failed.
	ConnectionsAccepted int64 `json:"connections_accepted"`
	ConnectionsActive   int64 `json:"connections_active"`
	ConnectionsRefused  int64 `json:"connections_refused"`
	ConnectionsReset    int64 `json:"connections_reset"`
	DialErrors          int64 `json:"dial_errors"`
	// Connections found to come from a process a partition cuts off (each
	// counted once), whose bytes are then discarded both ways.
	ConnectionsCut int64 `json:"connections_cut"`
	// Bytes delivered per direction (TCP and UDP payload), and bytes a
	// blackhole read and discarded (TCP).
	BytesUpstream            int64 `json:"bytes_upstream"`
	BytesDownstream          int64 `json:"bytes_downstream"`
	BytesDiscardedUpstream   int64 `json:"bytes_discarded_upstream"`
	BytesDiscardedDownstream int64 `json:"bytes_discarded_downstream"`
	// UDP datagrams delivered and dropped (loss, blackhole, a full queue, a
	// failed send) per direction; sessions (one per client address).
	DatagramsUpstream          int64 `json:"datagrams_upstream"`
	DatagramsDownstream        int64 `json:"datagrams_downstream"`
	DatagramsDroppedUpstream   int64 `json:"datagrams_dropped_upstream"`
	DatagramsDroppedDownstream int64 `json:"datagrams_dropped_downstream"`
	SessionsCreated            int64 `json:"sessions_created"`
	SessionsActive             int64 `json:"sessions_active"`
	SessionsExpired            int64 `json:"sessions_expired"`
	// The active faults; the latest applied_at among them (0: none); when a
	// fault was last applied or removed on this link (0: never).
	Faults                []Fault `json:"faults"`
	FaultAppliedAtUnixNS  int64   `json:"fault_applied_at_unix_ns"`
	FaultsChangedAtUnixNS int64   `json:"faults_changed_at_unix_ns"`
}

type counters struct {
	accepted, active, refused, reset, dialErrors atomic.Int64
	cut                                          atomic.Int64
	bytes, discarded, datagrams, dropped         [2]atomic.Int64
	sessCreated, sessActive, sessExpired         atomic.Int64
}

// linkBase is what TCP and UDP links share.
type linkBase struct {
	name, proto, listen, upstream string
	udpIdle                       time.Duration
	created                       time.Time
	faults                        *faultState
	c                             counters
	turn                          turnarounds
	log                           *slog.Logger
}

func (b *linkBase) info() LinkInfo {
	li := LinkInfo{Name: b.name, Protocol: b.proto, Listen: b.listen, Upstream: b.upstream,
		CreatedAtUnixNS: b.created.UnixNano(), Faults: b.faults.load().faults()}
	if b.proto == ProtoUDP {
		li.UDPIdleTimeoutMS = b.udpIdle.Milliseconds()
	}
	return li
}

func (b *linkBase) stats() Stats {
	fs := b.faults.load()
	c := &b.c
	return Stats{
		Name: b.name, Protocol: b.proto,
		ConnectionsAccepted: c.accepted.Load(), ConnectionsActive: c.active.Load(),
		ConnectionsRefused: c.refused.Load(), ConnectionsReset: c.reset.Load(), DialErrors: c.dialErrors.Load(), ConnectionsCut: c.cut.Load(),
		BytesUpstream: c.bytes[up].Load(), BytesDownstream: c.bytes[down].Load(),
		BytesDiscardedUpstream: c.discarded[up].Load(), BytesDiscardedDownstream: c.discarded[down].Load(),
		DatagramsUpstream: c.datagrams[up].Load(), DatagramsDownstream: c.datagrams[down].Load(),
		DatagramsDroppedUpstream: c.dropped[up].Load(), DatagramsDroppedDownstream: c.dropped[down].Load(),
		SessionsCreated: c.sessCreated.Load(), SessionsActive: c.sessActive.Load(), SessionsExpired: c.sessExpired.Load(),
		Faults: fs.faults(), FaultAppliedAtUnixNS: fs.lastApplied(), FaultsChangedAtUnixNS: fs.changedAt,
	}
}

// link is a TCP or UDP link.
type link interface {
	base() *linkBase
	// close stops listening and closes every connection or session.
	close()
	// resetAll resets every open connection (TCP) and returns how many.
	resetAll() int
}

// Options configure a Proxy.
type Options struct {
	Log         *slog.Logger  // nil: discard
	DialTimeout time.Duration // TCP upstream connect timeout; 0: DefaultDialTimeout
}

// Proxy holds the links of one process.
type Proxy struct {
	log         *slog.Logger
	dialTimeout time.Duration

	mu     sync.Mutex
	links  map[string]link
	closed bool
}

// New returns a Proxy with no links.
func New(opts Options) *Proxy {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	return &Proxy{log: opts.Log, dialTimeout: opts.DialTimeout, links: map[string]link{}}
}

var linkName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// Create starts listening for a new link.
func (p *Proxy) Create(spec LinkSpec) (LinkInfo, error) {
	if !linkName.MatchString(spec.Name) {
		return LinkInfo{}, invalidf("name %q: want 1-100 of A-Z a-z 0-9 . _ - (starting with a letter or digit)", spec.Name)
	}
	switch spec.Protocol {
	case "":
		spec.Protocol = ProtoTCP
	case ProtoTCP, ProtoUDP:
	default:
		return LinkInfo{}, invalidf("link %q: protocol %q: want tcp or udp", spec.Name, spec.Protocol)
	}
	if spec.Listen == "" {
		spec.Listen = DefaultListen
	}
	if err := checkHostPort(spec.Listen, true); err != nil {
		return LinkInfo{}, invalidf("link %q: listen %q: %v", spec.Name, spec.Listen, err)
	}
	if err := checkHostPort(spec.Upstream, false); err != nil {
		return LinkInfo{}, invalidf("link %q: upstream %q: %v", spec.Name, spec.Upstream, err)
	}
	idle := DefaultUDPIdleTimeout
	switch {
	case spec.UDPIdleTimeoutMS != 0 && spec.Protocol != ProtoUDP:
		return LinkInfo{}, invalidf("link %q: udp_idle_timeout_ms applies to udp links only", spec.Name)
	case spec.UDPIdleTimeoutMS < 0 || spec.UDPIdleTimeoutMS > maxUDPIdleTimeoutMS:
		return LinkInfo{}, invalidf("link %q: udp_idle_timeout_ms %d: want 1..%d", spec.Name, spec.UDPIdleTimeoutMS, maxUDPIdleTimeoutMS)
	case spec.UDPIdleTimeoutMS > 0:
		idle = time.Duration(spec.UDPIdleTimeoutMS) * time.Millisecond
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return LinkInfo{}, &Error{Kind: ErrClosed, Msg: "the proxy is shutting down"}
	}
	if _, ok := p.links[spec.Name]; ok {
		return LinkInfo{}, &Error{Kind: ErrExists, Msg: fmt.Sprintf("link %q exists already (delete it first)", spec.Name)}
	}
	b := &linkBase{name: spec.Name, proto: spec.Protocol, upstream: spec.Upstream, udpIdle: idle,
		created: time.Now(), faults: newFaultState(), log: p.log.With("link", spec.Name)}
	var l link
	var err error
	if spec.Protocol == ProtoTCP {
		l, err = startTCP(b, spec.Listen, p.dialTimeout)
	} else {
		l, err = startUDP(b, spec.Listen)
	}
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return LinkInfo{}, &Error{Kind: ErrAddrInUse, Msg: fmt.Sprintf("link %q: %v (pick another port, or 0)", spec.Name, err)}
		}
		return LinkInfo{}, invalidf("link %q: %v", spec.Name, err)
	}
	p.links[spec.Name] = l
	b.log.Info("link_created", "protocol", b.proto, "listen", b.listen, "upstream", b.upstream)
	return b.info(), nil
}

// checkHostPort checks a host:port; the port may be 0 only for a listen address.
func checkHostPort(addr string, listen bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("want host:port")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 || (n == 0 && !listen) {
		return fmt.Errorf("port %q: want 1..65535%s", port, map[bool]string{true: " (or 0 to pick one)"}[listen])
	}
	if host == "" && !listen {
		return errors.New("want a host")
	}
	return nil
}

func (p *Proxy) get(name string) (link, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l, ok := p.links[name]; ok {
		return l, nil
	}
	return nil, notFound(name)
}

// Link describes one link.
func (p *Proxy) Link(name string) (LinkInfo, error) {
	l, err := p.get(name)
	if err != nil {
		return LinkInfo{}, err
	}
	return l.base().info(), nil
}

// Links describes every link, sorted by name.
func (p *Proxy) Links() []LinkInfo {
	p.mu.Lock()
	out := make([]LinkInfo, 0, len(p.links))
	for _, l := range p.links {
		out = append(out, l.base().info())
	}
	p.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Stats returns a link's counters.
func (p *Proxy) Stats(name string) (Stats, error) {
	l, err := p.get(name)
	if err != nil {
		return Stats{}, err
	}
	return l.base().stats(), nil
}

// Turnarounds returns a link's turnaround samples completed in [since, until]
// (unix ns; until 0: now).
func (p *Proxy) Turnarounds(name string, since, until int64) (Turnarounds, error) {
	l, err := p.get(name)
	if err != nil {
		return Turnarounds{}, err
	}
	if since < 0 || until < 0 || (until != 0 && until < since) {
		return Turnarounds{}, invalidf("link %q: window %d..%d: want 0 <= since_unix_ns <= until_unix_ns (0: now)", name, since, until)
	}
	t := l.base().turn.window(since, until)
	t.Link = name
	return t, nil
}

// Delete stops a link and closes its connections; it returns the link as it was.
func (p *Proxy) Delete(name string) (LinkInfo, error) {
	p.mu.Lock()
	l, ok := p.links[name]
	delete(p.links, name)
	p.mu.Unlock()
	if !ok {
		return LinkInfo{}, notFound(name)
	}
	info := l.base().info()
	l.close()
	l.base().log.Info("link_deleted")
	return info, nil
}

// SetFault applies a fault to a link, replacing its fault of the same kind
// (returned as replaced, or nil).
func (p *Proxy) SetFault(name string, spec FaultSpec) (f Fault, replaced *Fault, err error) {
	l, err := p.get(name)
	if err != nil {
		return Fault{}, nil, err
	}
	b := l.base()
	if spec, err = spec.Validate(b.proto); err != nil {
		return Fault{}, nil, &Error{Kind: ErrInvalid, Msg: fmt.Sprintf("link %q: %v", name, err)}
	}
	a := &applied{Fault: Fault{FaultSpec: spec, AppliedAtUnixNS: time.Now().UnixNano()}}
	if spec.Kind == KindBandwidth {
		for d := range 2 {
			if spec.applies(d) {
				a.limiters[d] = newLimiter(spec.BytesPerS)
			}
		}
	}
	b.faults.update(func(m map[string]*applied) bool {
		if old := m[spec.Kind]; old != nil {
			r := old.Fault
			replaced = &r
		}
		m[spec.Kind] = a
		return true
	})
	attrs := []any{"kind", spec.Kind, "fault", spec.String(), "applied_at_unix_ns", a.AppliedAtUnixNS}
	if spec.Kind == KindReset {
		attrs = append(attrs, "connections_reset", l.resetAll())
	}
	b.log.Info("fault_applied", attrs...)
	return a.Fault, replaced, nil
}

// ClearFaults removes a link's fault of kind, or all its faults when kind is
// "", and returns what it removed; a removed delay delivers what it queued at
// once, in order.
func (p *Proxy) ClearFaults(name, kind string) ([]Fault, error) {
	l, err := p.get(name)
	if err != nil {
		return nil, err
	}
	return clearFaults(l.base(), kind)
}

func clearFaults(b *linkBase, kind string) ([]Fault, error) {
	if kind != "" && !slices.Contains(Kinds, kind) {
		return nil, invalidf("link %q: fault kind %q: want one of %v", b.name, kind, Kinds)
	}
	var removed []Fault
	b.faults.update(func(m map[string]*applied) bool {
		for k, a := range m {
			if kind == "" || k == kind {
				removed = append(removed, a.Fault)
				delete(m, k)
			}
		}
		return len(removed) > 0
	})
	if kind != "" && len(removed) == 0 {
		return nil, &Error{Kind: ErrNotFound, Msg: fmt.Sprintf("link %q has no %s fault", b.name, kind)}
	}
	sort.Slice(removed, func(i, j int) bool { return removed[i].Kind < removed[j].Kind })
	if removed == nil {
		removed = []Fault{}
	}
	for _, f := range removed {
		b.log.Info("fault_removed", "kind", f.Kind, "fault", f.String())
	}
	return removed, nil
}

// LinkFaults is what ClearAll removed from one link.
type LinkFaults struct {
	Link   string  `json:"link"`
	Faults []Fault `json:"faults"`
}

// ClearAll removes every fault of every link (links with none are left out).
func (p *Proxy) ClearAll() []LinkFaults {
	out := []LinkFaults{}
	for _, li := range p.Links() {
		l, err := p.get(li.Name)
		if err != nil {
			continue
		}
		if removed, _ := clearFaults(l.base(), ""); len(removed) > 0 {
			out = append(out, LinkFaults{Link: li.Name, Faults: removed})
		}
	}
	return out
}

// Close deletes every link (closing their listeners and connections); later
// Creates fail. It returns how many links it closed.
func (p *Proxy) Close() int {
	p.mu.Lock()
	p.closed = true
	links := p.links
	p.links = map[string]link{}
	p.mu.Unlock()
	for _, l := range links {
		l.close()
	}
	return len(links)
}
