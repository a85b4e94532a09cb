// Package grpckv is the bundled gRPC test service: an in-memory key-value store
// served over gRPC (kvpb.KV), with the standard grpc.health.v1 health service
// and server reflection, so a gRPC load generator can find its methods with no
// .proto file at hand.
package grpckv

import (
	"context"
	"log/slog"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gochaos/gochaos/go_targets/internal/grpckv/kvpb"
)

// ServiceName is the fully qualified name of the KV service, as the health
// service and reflection report it.
const ServiceName = "gochaos.grpckv.v1.KV"

type entry struct {
	value       string
	modRevision int64
}

// Store implements kvpb.KVServer: one map under a mutex, a revision counter
// bumped by every write.
type Store struct {
	kvpb.UnimplementedKVServer

	maxValueBytes int
	log           *slog.Logger

	mu       sync.Mutex
	revision int64
	data     map[string]entry
}

// NewStore returns an empty store refusing values over maxValueBytes
// (INVALID_ARGUMENT).
func NewStore(maxValueBytes int, log *slog.Logger) *Store {
	return &Store{maxValueBytes: maxValueBytes, log: log, data: map[string]entry{}}
}

// Put stores value under key.
func (s *Store) Put(_ context.Context, req *kvpb.PutRequest) (*kvpb.PutResponse, error) {
	if req.GetKey() == "" {
		return nil, status.Error(codes.InvalidArgument, "key must not be empty")
	}
	if len(req.GetValue()) > s.maxValueBytes {
		return nil, status.Errorf(codes.InvalidArgument, "value of %d bytes is over the %d-byte limit",
			len(req.GetValue()), s.maxValueBytes)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revision++
	s.data[req.GetKey()] = entry{value: req.GetValue(), modRevision: s.revision}
	return &kvpb.PutResponse{Revision: s.revision}, nil
}

// Get returns the value under key; NOT_FOUND if it was never Put (or was deleted).
func (s *Store) Get(_ context.Context, req *kvpb.GetRequest) (*kvpb.GetResponse, error) {
	if req.GetKey() == "" {
		return nil, status.Error(codes.InvalidArgument, "key must not be empty")
	}
	s.mu.Lock()
	e, ok := s.data[req.GetKey()]
	s.mu.Unlock()
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no key %q", req.GetKey())
	}
	return &kvpb.GetResponse{Value: e.value, ModRevision: e.modRevision}, nil
}

// Delete removes key; deleting a missing key is not an error (deleted=false).
func (s *Store) Delete(_ context.Context, req *kvpb.DeleteRequest) (*kvpb.DeleteResponse, error) {
	if req.GetKey() == "" {
		return nil, status.Error(codes.InvalidArgument, "key must not be empty")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.data[req.GetKey()]
	if ok {
		delete(s.data, req.GetKey())
		s.revision++
	}
	return &kvpb.DeleteResponse{Deleted: ok, Revision: s.revision}, nil
}
