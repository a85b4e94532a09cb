package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gochaos/gochaos/go_targets/internal/proctest"
)

func TestLoggerLineFormat(t *testing.T) {
	var buf bytes.Buffer
	NewLogger(&buf, slog.LevelInfo, "demo").Info("reload_ok", "version", "7")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%q: %v", buf.String(), err)
	}
	for k, want := range map[string]string{"level": "INFO", "msg": "reload_ok", "target": "demo", "version": "7"} {
		if line[k] != want {
			t.Errorf("%s = %v, want %s", k, line[k], want)
		}
	}
	ts, _ := line["time"].(string)
	if tm, err := time.Parse(time.RFC3339Nano, ts); err != nil || tm.Location() != time.UTC {
		t.Errorf("time %q: want RFC 3339 in UTC (%v)", ts, err)
	}
}

func TestRunLogsAddressAndShutsDown(t *testing.T) {
	var buf proctest.SyncBuffer
	log := NewLogger(&buf, slog.LevelInfo, "demo")
	ctx, cancel := context.WithCancel(context.Background())
	h := WithVersion(http.HandlerFunc(Healthz), func() string { return "v9" })
	errc := make(chan error, 1)
	go func() { errc <- Run(ctx, log, "127.0.0.1:0", h, time.Second) }()
	var addr string
	for deadline := time.Now().Add(5 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		for _, l := range strings.Split(buf.String(), "\n") {
			var m struct{ Msg, Addr string }
			if json.Unmarshal([]byte(l), &m) == nil && m.Msg == "listening" {
				addr = m.Addr
			}
		}
	}
	if addr == "" {
		t.Fatalf("no listening line: %s", buf.String())
	}
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get(VersionHeader) != "v9" {
		t.Fatalf("%s = %q", VersionHeader, resp.Header.Get(VersionHeader))
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"msg":"stopped"`) {
		t.Fatalf("no stopped line: %s", buf.String())
	}
}

func TestStaticConfig(t *testing.T) {
	a := StaticConfig("static", map[string]int{"x": 1}, time.Unix(0, 0))
	b := StaticConfig("static", map[string]int{"x": 2}, time.Unix(0, 0))
	if a.SHA256 == b.SHA256 || a.Version != "static" || a.LoadedAt != "1970-01-01T00:00:00Z" {
		t.Fatalf("%+v %+v", a, b)
	}
	rec := httptest.NewRecorder()
	WriteError(rec, 418, "tea")
	if rec.Code != 418 || !strings.Contains(rec.Body.String(), `"error":"tea"`) {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}
