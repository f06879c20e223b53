package verify

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// FuzzEventGridValidation feeds arbitrary bodies and validationUrls to the
// Event Grid validation parser and answer, in both modes: no panic, known
// reasons only; a validationResponse only in Code mode and only of token
// text; and a GET only of an https URL on eventgrid.azure.net or one of
// its subdomains, with no userinfo.
func FuzzEventGridValidation(f *testing.F) {
	f.Add([]byte(egValidation(egCode, egURL)), egURL, false)
	f.Add([]byte(egValidation("", egURL)), "https://eventgrid.azure.net.evil.com/x", true)
	f.Add([]byte(`[{"eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","data":{"validationUrl":"https://a@rp.eventgrid.azure.net/"}}]`), "https://rp.eventgrid.azure.net:553/v?x=%00", true)
	f.Add([]byte(`[{"eventType":"Microsoft.EventGrid.SubscriptionValidationEvent"},{"eventType":"x"}]`), "http://rp.eventgrid.azure.net/", false)
	f.Add([]byte(`[{"id":"e","eventType":"Microsoft.Storage.BlobCreated","data":{}}]`), "https://[::1]/", true)
	f.Add([]byte(`{}`), "https://r%C3%A9.eventgrid.azure.net/", false)
	var mu sync.Mutex
	var gets []string
	c := newEventGridConfirmer()
	opts := func(urlMode bool) *EventGridOptions {
		o := &EventGridOptions{Validation: hookv1.EventGridValidationCode, After: instantly, confirmer: c,
			Confirm: func(_ context.Context, u string) error {
				mu.Lock()
				gets = append(gets, u)
				mu.Unlock()
				return nil
			}}
		if urlMode {
			o.Validation = hookv1.EventGridValidationURL
		}
		return o
	}
	f.Fuzz(func(t *testing.T, body []byte, rawURL string, urlMode bool) {
		if u, err := checkEventGridURL(rawURL); err == nil {
			assertEventGridURL(t, u.String())
		} else {
			knownReason(t, err)
		}
		withURL, _ := json.Marshal([]map[string]any{{"eventType": EventGridValidationEvent, "data": map[string]string{"validationUrl": rawURL}}})
		for _, b := range [][]byte{body, withURL} {
			hs, ok, err := answerEventGridValidation(opts(urlMode), b)
			knownReason(t, err)
			if err != nil || !ok {
				if hs != nil {
					t.Fatalf("an answer %q with %v, ok %v", hs.Body, err, ok)
				}
				continue
			}
			ev, isValidation, perr := parseEventGridValidation(b)
			if !isValidation || perr != nil {
				t.Fatalf("answered %q for no validation event", b)
			}
			var answer map[string]string
			if json.Unmarshal(hs.Body, &answer) != nil {
				t.Fatalf("answer %q is not a JSON object of strings", hs.Body)
			}
			if code, has := answer["validationResponse"]; has {
				if urlMode || code != ev.Code || !tokenText(code) || hs.Status != http.StatusOK {
					t.Fatalf("answered %q (URL mode %v) for %q", hs.Body, urlMode, b)
				}
				continue
			}
			if hs.Status == http.StatusOK {
				if _, err := checkEventGridURL(ev.URL); err != nil {
					t.Fatalf("answered 200 for the refused URL %q", ev.URL)
				}
			}
		}
		c.wg.Wait()
		mu.Lock()
		got := gets
		gets = nil
		mu.Unlock()
		for _, u := range got {
			assertEventGridURL(t, u)
		}
	})
}

// assertEventGridURL checks, without checkEventGridURL, that u is one the
// receiver may GET.
func assertEventGridURL(t *testing.T, u string) {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "https" || p.User != nil || p.Opaque != "" {
		t.Fatalf("GET of %q", u)
	}
	h := p.Hostname()
	if h != "eventgrid.azure.net" && !strings.HasSuffix(h, ".eventgrid.azure.net") {
		t.Fatalf("GET of %q: host %q", u, h)
	}
}
