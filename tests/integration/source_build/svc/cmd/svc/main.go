// Command svc is a service of a team's own, as small as one gets: it greets
// with the text of a file and, with --panic-on-request, crashes on the first
// request (its bug). Stdlib only; the suite builds it from this directory.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strings"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to listen on")
	greetingFile := flag.String("greeting", "", "file whose text the service answers with")
	buggy := flag.Bool("panic-on-request", false, "the bug: crash on the first request")
	flag.Parse()
	greeting, err := os.ReadFile(*greetingFile)
	if err != nil {
		log.Fatalf("svc: read the greeting: %v", err)
	}
	http.HandleFunc("/-/readyz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	http.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		if *buggy {
			go func() { panic("svc: the request counter is not there (the bug)") }()
		}
		fmt.Fprintln(w, strings.TrimSpace(string(greeting)))
	})
	log.Printf("svc listening on %s", *listen)
	log.Fatal(http.ListenAndServe(*listen, nil))
}
