package main

import (
	"context"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/gochaos/gochaos/go_targets/internal/grpckv"
	"github.com/gochaos/gochaos/go_targets/internal/grpckv/kvpb"
	"github.com/gochaos/gochaos/go_targets/internal/proctest"
)

// These tests run the built grpckv binary and talk to it over real gRPC on loopback.

var bin string

func TestMain(m *testing.M) {
	proctest.Main(m, "grpckv-test-", func(dir string) (err error) {
		bin, err = proctest.Build(".", dir, "grpckv")
		return err
	})
}

func start(t *testing.T, args ...string) *grpc.ClientConn {
	t.Helper()
	p, err := proctest.Start(bin, append([]string{"--listen=127.0.0.1:0"}, args...), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	conn, err := grpc.NewClient(p.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestKVStatusCodes(t *testing.T) {
	kv := kvpb.NewKVClient(start(t, "--max-value-bytes=8"))
	put, err := kv.Put(ctx(t), &kvpb.PutRequest{Key: "a", Value: "one"})
	if err != nil || put.GetRevision() != 1 {
		t.Fatalf("Put a = %v, %v; want revision 1", put, err)
	}
	got, err := kv.Get(ctx(t), &kvpb.GetRequest{Key: "a"})
	if err != nil || got.GetValue() != "one" || got.GetModRevision() != 1 {
		t.Fatalf("Get a = %v, %v; want one at revision 1", got, err)
	}
	for _, tc := range []struct {
		name string
		call func() error
		want codes.Code
	}{
		{"get missing", func() error { _, err := kv.Get(ctx(t), &kvpb.GetRequest{Key: "b"}); return err }, codes.NotFound},
		{"empty key", func() error { _, err := kv.Put(ctx(t), &kvpb.PutRequest{}); return err }, codes.InvalidArgument},
		{"value too big", func() error {
			_, err := kv.Put(ctx(t), &kvpb.PutRequest{Key: "c", Value: "123456789"})
			return err
		}, codes.InvalidArgument},
	} {
		if code := status.Code(tc.call()); code != tc.want {
			t.Errorf("%s: code %v, want %v", tc.name, code, tc.want)
		}
	}
	del, err := kv.Delete(ctx(t), &kvpb.DeleteRequest{Key: "a"})
	if err != nil || !del.GetDeleted() || del.GetRevision() != 2 {
		t.Fatalf("Delete a = %v, %v; want deleted at revision 2", del, err)
	}
}

func TestHealthTurnsServingAfterTheDelay(t *testing.T) {
	conn := start(t, "--serving-after=700ms")
	hc := healthpb.NewHealthClient(conn)
	first, err := hc.Check(ctx(t), &healthpb.HealthCheckRequest{Service: grpckv.ServiceName})
	if err != nil || first.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health right after start = %v, %v; want NOT_SERVING", first, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		got, err := hc.Check(ctx(t), &healthpb.HealthCheckRequest{})
		if err == nil && got.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("health never reported SERVING")
}

func reflectedServices(t *testing.T, conn *grpc.ClientConn) ([]string, error) {
	t.Helper()
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx(t))
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		return nil, err
	}
	reply, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range reply.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	return names, nil
}

func TestReflection(t *testing.T) {
	names, err := reflectedServices(t, start(t))
	if err != nil || !slices.Contains(names, grpckv.ServiceName) || !slices.Contains(names, "grpc.health.v1.Health") {
		t.Fatalf("reflection lists %v, %v; want %s and grpc.health.v1.Health", names, err, grpckv.ServiceName)
	}
	if _, err := reflectedServices(t, start(t, "--reflection=false")); status.Code(err) != codes.Unimplemented {
		t.Fatalf("with --reflection=false: %v, want UNIMPLEMENTED", err)
	}
}
