package grpckv

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/gochaos/gochaos/go_targets/internal/grpckv/kvpb"
)

// Server is the gRPC server of a Store with its health service. Health starts
// NOT_SERVING for both "" (the whole server) and ServiceName; Serving flips it.
type Server struct {
	GRPC   *grpc.Server
	Health *health.Server
}

// NewServer registers store, the health service and, when withReflection,
// server reflection (v1 and v1alpha) on a new grpc.Server.
func NewServer(store *Store, withReflection bool) *Server {
	g := grpc.NewServer()
	kvpb.RegisterKVServer(g, store)
	h := health.NewServer()
	healthpb.RegisterHealthServer(g, h)
	if withReflection {
		reflection.Register(g)
	}
	s := &Server{GRPC: g, Health: h}
	s.set(healthpb.HealthCheckResponse_NOT_SERVING)
	return s
}

// Serving reports SERVING (true) or NOT_SERVING (false) for the server and the KV service.
func (s *Server) Serving(on bool) {
	if on {
		s.set(healthpb.HealthCheckResponse_SERVING)
	} else {
		s.set(healthpb.HealthCheckResponse_NOT_SERVING)
	}
}

func (s *Server) set(st healthpb.HealthCheckResponse_ServingStatus) {
	s.Health.SetServingStatus("", st)
	s.Health.SetServingStatus(ServiceName, st)
}
