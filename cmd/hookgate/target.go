package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// runTarget serves a stand-in for a team's Service: it prints each event
// and, with --fail, answers 503 so retries and dead letters can be seen.
func runTarget(args []string) error {
	fs := flag.NewFlagSet("target", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:9090", "address to listen on")
	out := fs.String("out", "", "also append each event as a JSON line to this file")
	fail := fs.Bool("fail", false, "answer 503 to every request")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var mu sync.Mutex
	var file *os.File
	if *out != "" {
		f, err := os.OpenFile(*out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		file = f
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 16<<20))
		hdr := map[string]string{}
		keys := make([]string, 0, len(r.Header))
		for k := range r.Header {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			hdr[k] = strings.Join(r.Header[k], ", ")
		}
		rec := map[string]any{"time": time.Now().UTC().Format(time.RFC3339Nano), "path": r.URL.Path, "headers": hdr, "body": string(body)}
		line, _ := json.Marshal(rec)
		mu.Lock()
		fmt.Printf("event delivery=%s endpoint=%s attempt=%s bytes=%d\n", r.Header.Get(hookv1.DeliveryHeaderDeliveryID), r.Header.Get(hookv1.DeliveryHeaderEndpoint), r.Header.Get(hookv1.DeliveryHeaderAttempt), len(body))
		if file != nil {
			_, _ = file.Write(append(line, '\n'))
		}
		mu.Unlock()
		if *fail {
			http.Error(w, "target configured to fail", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	fmt.Printf("target listening on http://%s\n", *listen)
	srv := &http.Server{Addr: *listen, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	return srv.ListenAndServe()
}
