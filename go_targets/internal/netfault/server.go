package netfault

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// maxBody bounds a control request's body.
const maxBody = 1 << 20

// NewServer returns the control API of p (HTTP + JSON):
//
//	GET    /-/healthz                    200 ok
//	GET    /links                        200 {"links":[LinkInfo...]}
//	POST   /links                        201 LinkInfo (LinkSpec body)
//	GET    /links/{name}                 200 LinkInfo
//	DELETE /links/{name}                 200 LinkInfo (as it was)
//	GET    /links/{name}/stats           200 Stats
//	GET    /links/{name}/turnaround      200 Turnarounds (?since_unix_ns=&until_unix_ns=, both optional; until 0: now)
//	GET    /links/{name}/fault           200 {"link":name,"faults":[Fault...]}
//	PUT    /links/{name}/fault           200 {"link":name,"fault":Fault,"replaced":Fault|null} (FaultSpec body)
//	DELETE /links/{name}/fault           200 {"link":name,"removed":[Fault...]}
//	DELETE /links/{name}/fault/{kind}    200 {"link":name,"removed":[Fault]}
//	DELETE /faults                       200 {"removed":[{"link":name,"faults":[Fault...]}...]}
//
// Errors are {"error":"..."}: 400 a bad body or parameter, 404 an unknown link
// (or no such fault), 409 a link name or listen address in use, 503 shutting down.
func NewServer(p *Proxy) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /-/healthz", healthz)
	mux.HandleFunc("GET /links", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"links": p.Links()})
	})
	mux.HandleFunc("POST /links", func(w http.ResponseWriter, r *http.Request) {
		var spec LinkSpec
		if !decode(w, r, &spec) {
			return
		}
		info, err := p.Create(spec)
		reply(w, http.StatusCreated, info, err)
	})
	mux.HandleFunc("GET /links/{name}", func(w http.ResponseWriter, r *http.Request) {
		info, err := p.Link(r.PathValue("name"))
		reply(w, http.StatusOK, info, err)
	})
	mux.HandleFunc("DELETE /links/{name}", func(w http.ResponseWriter, r *http.Request) {
		info, err := p.Delete(r.PathValue("name"))
		reply(w, http.StatusOK, info, err)
	})
	mux.HandleFunc("GET /links/{name}/stats", func(w http.ResponseWriter, r *http.Request) {
		st, err := p.Stats(r.PathValue("name"))
		reply(w, http.StatusOK, st, err)
	})
	mux.HandleFunc("GET /links/{name}/turnaround", func(w http.ResponseWriter, r *http.Request) {
		var window [2]int64
		for i, key := range []string{"since_unix_ns", "until_unix_ns"} {
			if v := r.URL.Query().Get(key); v != "" {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					writeError(w, http.StatusBadRequest, fmt.Sprintf("%s %q: want unix nanoseconds", key, v))
					return
				}
				window[i] = n
			}
		}
		t, err := p.Turnarounds(r.PathValue("name"), window[0], window[1])
		reply(w, http.StatusOK, t, err)
	})
	mux.HandleFunc("GET /links/{name}/fault", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		info, err := p.Link(name)
		reply(w, http.StatusOK, map[string]any{"link": name, "faults": info.Faults}, err)
	})
	mux.HandleFunc("PUT /links/{name}/fault", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		if _, err := p.Link(name); err != nil {
			reply(w, 0, nil, err) // an unknown link is 404 before its body is read
			return
		}
		var spec FaultSpec
		if !decode(w, r, &spec) {
			return
		}
		f, replaced, err := p.SetFault(name, spec)
		reply(w, http.StatusOK, map[string]any{"link": name, "fault": f, "replaced": replaced}, err)
	})
	mux.HandleFunc("DELETE /links/{name}/fault", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		removed, err := p.ClearFaults(name, "")
		reply(w, http.StatusOK, map[string]any{"link": name, "removed": removed}, err)
	})
	mux.HandleFunc("DELETE /links/{name}/fault/{kind}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		removed, err := p.ClearFaults(name, r.PathValue("kind"))
		reply(w, http.StatusOK, map[string]any{"link": name, "removed": removed}, err)
	})
	mux.HandleFunc("DELETE /faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"removed": p.ClearAll()})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no route %s %s (see GET /links)", r.Method, r.URL.Path))
	})
	return mux
}

// decode reads r's JSON body into v, strictly (unknown fields and trailing
// data are errors); on failure it answers 400 and returns false.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("trailing data after the JSON object")
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = errors.New("empty body")
		}
		writeError(w, http.StatusBadRequest, "bad JSON body: "+strings.TrimPrefix(err.Error(), "json: "))
		return false
	}
	return true
}

// reply writes v with status, or err with its status.
func reply(w http.ResponseWriter, status int, v any, err error) {
	if err == nil {
		writeJSON(w, status, v)
		return
	}
	status = http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrInvalid):
		status = http.StatusBadRequest
	case errors.Is(err, ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, ErrExists), errors.Is(err, ErrAddrInUse):
		status = http.StatusConflict
	case errors.Is(err, ErrClosed):
		status = http.StatusServiceUnavailable
	}
	writeError(w, status, err.Error())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok\n")
}
