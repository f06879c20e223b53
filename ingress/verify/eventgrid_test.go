package verify

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

const (
	egIssuer   = "https://login.microsoftonline.com/tenant-1/v2.0"
	egAudience = "api://hookgate"
	egCode     = "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"
	egURL      = "https://rp-eastus2.eventgrid.azure.net:553/eventsubscriptions/estest/validate?id=512d38b6-c7b8-40c8-89fe-f46f9e9622b6&t=2026-03-14T15:09:26.1234567Z&apiVersion=2018-05-01-preview&token=1A1A1A1A"
)

var egNow = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// egFixture is an azure-eventgrid verifier with an inline test key, whose
// confirmations run on their own confirmer and record their GETs.
type egFixture struct {
	v    Verifier
	priv []byte
	c    *eventGridConfirmer

	mu   sync.Mutex
	gets []string
	// failures is how many GETs fail before one succeeds (-1: all fail).
	failures int
}

func newEGFixture(t *testing.T, mode hookv1.EventGridValidation, tweak ...func(*EventGridOptions)) *egFixture {
	t.Helper()
	k := testRSAKey(t)
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	privDER, _ := x509.MarshalPKCS8PrivateKey(k)
	f := &egFixture{priv: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), c: newEventGridConfirmer()}
	o := &EventGridOptions{
		Validation: mode,
		Confirm: func(_ context.Context, u string) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.gets = append(f.gets, u)
			if f.failures < 0 || len(f.gets) <= f.failures {
				return errors.New("HTTP 503")
			}
			return nil
		},
		After:     instantly,
		confirmer: f.c,
	}
	for _, fn := range tweak {
		fn(o)
	}
	v, err := New("azure-eventgrid", Options{
		JWT:       &JWTOptions{Issuer: egIssuer, Audiences: []string{egAudience}, Keys: [][]byte{pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})}},
		EventGrid: o,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.v = v
	t.Cleanup(f.c.wg.Wait)
	return f
}

func instantly(time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	ch <- time.Time{}
	return ch
}

// request is a POST of body with a token for aud ("" for none).
func (f *egFixture) request(t *testing.T, body, aud string) *Request {
	t.Helper()
	u, _ := url.Parse("https://hooks.example.com/hook/abc")
	req := &Request{Method: http.MethodPost, URL: u, Header: http.Header{}, Body: []byte(body)}
	if aud != "" {
		signed, err := SignRequest("azure-eventgrid", Options{JWT: &JWTOptions{Issuer: egIssuer, Audiences: []string{aud}}},
			Delivery{ID: "x", Time: egNow, Body: []byte(`{}`), URL: u}, f.priv)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", signed.Header.Get("Authorization"))
	}
	req.Header.Set("aeg-event-type", "SubscriptionValidation")
	return req
}

func (f *egFixture) verify(t *testing.T, body, aud string) (Result, error) {
	t.Helper()
	return f.v.Verify(f.request(t, body, aud), nil, egNow)
}

// done waits for the confirmations and returns the GETs made.
func (f *egFixture) done() []string {
	f.c.wg.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.gets...)
}

// egValidation is a SubscriptionValidationEvent; empty values are left out.
func egValidation(code, validationURL string) string {
	data := map[string]string{}
	if code != "" {
		data["validationCode"] = code
	}
	if validationURL != "" {
		data["validationUrl"] = validationURL
	}
	b, _ := json.Marshal([]map[string]any{{
		"id": "2d1781af-3a4c-4d7c-bd0c-e34b19da4e66", "topic": "/subscriptions/x", "subject": "",
		"data": data, "eventType": EventGridValidationEvent, "eventTime": "2026-03-14T15:09:26Z",
		"metadataVersion": "1", "dataVersion": "2",
	}})
	return string(b)
}

func handshakeStatus(t *testing.T, res Result) (int, map[string]string) {
	t.Helper()
	if res.Handshake == nil {
		t.Fatalf("no handshake answer: %+v", res)
	}
	if res.DeliveryID != "" {
		t.Fatalf("a validation event has a delivery id %q", res.DeliveryID)
	}
	var body map[string]string
	if err := json.Unmarshal(res.Handshake.Body, &body); err != nil {
		t.Fatalf("answer %q: %v", res.Handshake.Body, err)
	}
	return res.Handshake.Status, body
}

// Code mode (the default, and explicit) answers the code as before and
// GETs nothing, even when the event has a validationUrl.
func TestEventGridCodeModeAnswersTheCode(t *testing.T) {
	for _, mode := range []hookv1.EventGridValidation{"", hookv1.EventGridValidationCode} {
		f := newEGFixture(t, mode)
		res, err := f.verify(t, egValidation(egCode, egURL), egAudience)
		if err != nil {
			t.Fatalf("%q: %v", mode, err)
		}
		status, body := handshakeStatus(t, res)
		if status != http.StatusOK || len(body) != 1 || body["validationResponse"] != egCode {
			t.Fatalf("%q: %d %v", mode, status, body)
		}
		if gets := f.done(); len(gets) != 0 {
			t.Fatalf("%q: GETs %v", mode, gets)
		}
		// A code that is not a short token is refused, as before.
		if _, err := f.verify(t, egValidation("<script>", egURL), egAudience); ReasonOf(err) != ReasonMalformedSignature {
			t.Fatalf("%q: markup code: %v", mode, err)
		}
	}
	// The verifier without any spec.eventGrid behaves the same.
	k := testRSAKey(t)
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	v, err := New("azure-eventgrid", Options{JWT: &JWTOptions{Issuer: egIssuer, Audiences: []string{egAudience}, Keys: [][]byte{pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})}}})
	if err != nil {
		t.Fatal(err)
	}
	f := newEGFixture(t, "")
	res, err := v.Verify(f.request(t, egValidation(egCode, ""), egAudience), nil, egNow)
	if err != nil || res.Handshake == nil || string(res.Handshake.Body) != `{"validationResponse":"`+egCode+`"}` {
		t.Fatalf("no spec.eventGrid: %+v %v", res, err)
	}
}

// In Code mode an event with a validationUrl but no validationCode is
// confirmed by the URL.
func TestEventGridCodeModeFallsBackToTheURL(t *testing.T) {
	f := newEGFixture(t, hookv1.EventGridValidationCode)
	res, err := f.verify(t, egValidation("", egURL), egAudience)
	if err != nil {
		t.Fatal(err)
	}
	if status, body := handshakeStatus(t, res); status != http.StatusOK || body["status"] != EventGridURLScheduled || body["validationResponse"] != "" {
		t.Fatalf("%d %v", status, body)
	}
	if gets := f.done(); len(gets) != 1 || gets[0] != egURL {
		t.Fatalf("GETs %v", gets)
	}
	// Neither code nor URL, or data not of strings: refused, not stored.
	if _, err := f.verify(t, egValidation("", ""), egAudience); ReasonOf(err) != ReasonMalformedSignature {
		t.Fatalf("neither: %v", err)
	}
	for _, body := range []string{
		`[{"eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","data":{"validationUrl":5}}]`,
		`[{"eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","data":"x"}]`,
		`[{"eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","data":{}},{"eventType":"e","data":{}}]`,
	} {
		if res, err := f.verify(t, body, egAudience); ReasonOf(err) != ReasonMalformedSignature || res.Handshake != nil {
			t.Errorf("%s: %+v %v", body, res, err)
		}
	}
	if gets := f.done(); len(gets) != 1 {
		t.Fatalf("GETs %v", gets)
	}
}

// URL mode answers 200 without the code, and the validationUrl is fetched
// once, only after the answer.
func TestEventGridURLModeConfirmsAfterTheAnswer(t *testing.T) {
	release := make(chan time.Time)
	var waits []time.Duration
	var mu sync.Mutex
	f := newEGFixture(t, hookv1.EventGridValidationURL, func(o *EventGridOptions) {
		o.After = func(d time.Duration) <-chan time.Time {
			mu.Lock()
			waits = append(waits, d)
			mu.Unlock()
			return release
		}
	})
	res, err := f.verify(t, egValidation(egCode, egURL), egAudience)
	if err != nil {
		t.Fatal(err)
	}
	status, body := handshakeStatus(t, res)
	if status != http.StatusOK || body["status"] != EventGridURLScheduled || strings.Contains(string(res.Handshake.Body), egCode) {
		t.Fatalf("%d %s", status, res.Handshake.Body)
	}
	f.mu.Lock()
	early := len(f.gets)
	f.mu.Unlock()
	if early != 0 {
		t.Fatal("the GET ran before the answer")
	}
	close(release)
	if gets := f.done(); len(gets) != 1 || gets[0] != egURL {
		t.Fatalf("GETs %v", gets)
	}
	if len(waits) != 1 || waits[0] != eventGridAttempts[0] {
		t.Fatalf("waited %v", waits)
	}
	// Replays, while the token is valid, cost no second GET.
	for range 3 {
		res, err := f.verify(t, egValidation(egCode, egURL), egAudience)
		if err != nil {
			t.Fatal(err)
		}
		if status, body := handshakeStatus(t, res); status != http.StatusOK || body["status"] != EventGridURLConfirmed {
			t.Fatalf("replay: %d %v", status, body)
		}
	}
	if gets := f.done(); len(gets) != 1 {
		t.Fatalf("replays made GETs: %v", gets)
	}
}

// A replay that arrives while the first confirmation is still waiting is
// not scheduled again.
func TestEventGridReplayWhilePendingIsNotScheduledTwice(t *testing.T) {
	release := make(chan time.Time)
	f := newEGFixture(t, hookv1.EventGridValidationURL, func(o *EventGridOptions) {
		o.After = func(time.Duration) <-chan time.Time { return release }
	})
	for range 2 {
		res, err := f.verify(t, egValidation(egCode, egURL), egAudience)
		if err != nil {
			t.Fatal(err)
		}
		if status, body := handshakeStatus(t, res); status != http.StatusOK || body["status"] != EventGridURLScheduled {
			t.Fatalf("%d %v", status, body)
		}
	}
	close(release)
	if gets := f.done(); len(gets) != 1 {
		t.Fatalf("GETs %v", gets)
	}
}

// Any validationUrl but https on eventgrid.azure.net (or a subdomain) is
// answered 400 and never fetched.
func TestEventGridURLModeRefusesOtherURLs(t *testing.T) {
	f := newEGFixture(t, hookv1.EventGridValidationURL)
	for name, u := range map[string]string{
		"missing":                    "",
		"http":                       strings.Replace(egURL, "https:", "http:", 1),
		"another host":               strings.Replace(egURL, "rp-eastus2.eventgrid.azure.net", "evil.example.com", 1),
		"a suffix of another":        strings.Replace(egURL, "rp-eastus2.eventgrid.azure.net", "eventgrid.azure.net.evil.com", 1),
		"a lookalike":                strings.Replace(egURL, "rp-eastus2.eventgrid.azure.net", "evileventgrid.azure.net", 1),
		"userinfo":                   strings.Replace(egURL, "https://", "https://user:pw@", 1),
		"userinfo hiding a host":     "https://rp-eastus2.eventgrid.azure.net@evil.example.com/validate",
		"an IP address":              "https://20.44.17.1/validate",
		"an IPv6 address":            "https://[2001:db8::1]:553/validate",
		"relative":                   "/eventsubscriptions/estest/validate",
		"scheme-relative":            "//rp-eastus2.eventgrid.azure.net/validate",
		"opaque":                     "https:rp-eastus2.eventgrid.azure.net/validate",
		"port 0":                     "https://rp-eastus2.eventgrid.azure.net:0/validate",
		"a port too large":           "https://rp-eastus2.eventgrid.azure.net:65536/validate",
		"an empty label":             "https://rp..eventgrid.azure.net/validate",
		"a trailing dot":             "https://rp.eventgrid.azure.net./validate",
		"non-ASCII":                  "https://r%C3%A9.eventgrid.azure.net/validate",
		"javascript":                 "javascript:alert(1)",
		"too long":                   "https://rp.eventgrid.azure.net/" + strings.Repeat("a", maxEventGridURLLen),
		"Azure China (undocumented)": "https://rp-chinanorth.eventgrid.azure.cn/validate",
	} {
		res, err := f.verify(t, egValidation(egCode, u), egAudience)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if status, body := handshakeStatus(t, res); status != http.StatusBadRequest || body["status"] != EventGridURLRefused {
			t.Errorf("%s (%q): %d %v", name, u, status, body)
		}
	}
	if gets := f.done(); len(gets) != 0 {
		t.Fatalf("GETs %v", gets)
	}
}

func TestCheckEventGridURLAccepts(t *testing.T) {
	for _, u := range []string{
		egURL,
		"https://eventgrid.azure.net/validate",
		"https://RP-EastUS2.EventGrid.Azure.NET/validate?x=1",
		"https://rp-westeurope.eventgrid.azure.net:443/eventsubscriptions/s/validate",
	} {
		got, err := checkEventGridURL(u)
		if err != nil {
			t.Errorf("%s: %v", u, err)
			continue
		}
		if got.Scheme != "https" || got.User != nil {
			t.Errorf("%s: %v", u, got)
		}
	}
	got, err := checkEventGridURL(egURL + "#frag")
	if err != nil || got.String() != egURL {
		t.Errorf("a fragment is dropped: %v %v", got, err)
	}
}

// A request whose token does not verify gets no answer and no GET.
func TestEventGridURLModeNeedsAValidToken(t *testing.T) {
	f := newEGFixture(t, hookv1.EventGridValidationURL)
	for name, aud := range map[string]string{"no token": "", "another audience": "api://other"} {
		if res, err := f.verify(t, egValidation(egCode, egURL), aud); err == nil || res.Handshake != nil {
			t.Errorf("%s: %+v %v", name, res, err)
		}
	}
	req := f.request(t, egValidation(egCode, egURL), "")
	req.Header.Set("Authorization", "Bearer e30.e30.AAAA")
	if res, err := f.v.Verify(req, nil, egNow); err == nil || res.Handshake != nil {
		t.Errorf("a forged token: %+v %v", res, err)
	}
	// An expired token.
	if res, err := f.v.Verify(f.request(t, egValidation(egCode, egURL), egAudience), nil, egNow.Add(2*time.Hour)); err == nil || res.Handshake != nil {
		t.Errorf("an expired token: %+v %v", res, err)
	}
	if gets := f.done(); len(gets) != 0 {
		t.Fatalf("GETs %v", gets)
	}
}

// A failing GET is retried, len(eventGridAttempts) times at most; a replay
// of the failed validation does not start again.
func TestEventGridFailingGETIsRetriedABoundedNumberOfTimes(t *testing.T) {
	f := newEGFixture(t, hookv1.EventGridValidationURL)
	f.failures = -1
	if _, err := f.verify(t, egValidation(egCode, egURL), egAudience); err != nil {
		t.Fatal(err)
	}
	if gets := f.done(); len(gets) != len(eventGridAttempts) {
		t.Fatalf("%d GETs, want %d", len(gets), len(eventGridAttempts))
	}
	res, err := f.verify(t, egValidation(egCode, egURL), egAudience)
	if err != nil {
		t.Fatal(err)
	}
	if status, body := handshakeStatus(t, res); status != http.StatusBadGateway || body["status"] != EventGridURLFailed {
		t.Fatalf("replay of a failed one: %d %v", status, body)
	}
	if gets := f.done(); len(gets) != len(eventGridAttempts) {
		t.Fatalf("the replay made GETs: %d", len(gets))
	}

	// One failure, then success: two GETs.
	f2 := newEGFixture(t, hookv1.EventGridValidationURL)
	f2.failures = 1
	if _, err := f2.verify(t, egValidation(egCode, egURL), egAudience); err != nil {
		t.Fatal(err)
	}
	if gets := f2.done(); len(gets) != 2 {
		t.Fatalf("%d GETs, want 2", len(gets))
	}
}

// No GET is made once the URL's 10 minutes are over.
func TestEventGridNoGETAfterTheURLExpired(t *testing.T) {
	var mu sync.Mutex
	clock := egNow
	f := newEGFixture(t, hookv1.EventGridValidationURL, func(o *EventGridOptions) {
		o.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
		o.After = func(d time.Duration) <-chan time.Time {
			mu.Lock()
			// The first wait is ordinary, the second lasts past the validity.
			if clock.Equal(egNow) {
				clock = clock.Add(d)
			} else {
				clock = clock.Add(EventGridValidity)
			}
			mu.Unlock()
			return instantly(0)
		}
	})
	f.failures = -1
	if _, err := f.verify(t, egValidation(egCode, egURL), egAudience); err != nil {
		t.Fatal(err)
	}
	if gets := f.done(); len(gets) != 1 {
		t.Fatalf("%d GETs, want 1 (the others past the validity)", len(gets))
	}
}

// At most eventGridMaxPending confirmations wait; the next is answered 503.
// At most eventGridConcurrency GETs run at once.
func TestEventGridConfirmationsAreBounded(t *testing.T) {
	release := make(chan time.Time)
	var mu sync.Mutex
	active, most := 0, 0
	block := make(chan struct{})
	f := newEGFixture(t, hookv1.EventGridValidationURL, func(o *EventGridOptions) {
		o.After = func(time.Duration) <-chan time.Time { return release }
		o.Confirm = func(context.Context, string) error {
			mu.Lock()
			active++
			most = max(most, active)
			mu.Unlock()
			<-block
			mu.Lock()
			active--
			mu.Unlock()
			return nil
		}
	})
	for i := range eventGridMaxPending {
		u := egURL + "&n=" + string(rune('a'+i%26)) + strings.Repeat("x", i/26)
		res, err := f.verify(t, egValidation(egCode, u), egAudience)
		if err != nil {
			t.Fatal(err)
		}
		if status, _ := handshakeStatus(t, res); status != http.StatusOK {
			t.Fatalf("confirmation %d: %d", i, status)
		}
	}
	res, err := f.verify(t, egValidation(egCode, egURL+"&n=one-too-many"), egAudience)
	if err != nil {
		t.Fatal(err)
	}
	if status, body := handshakeStatus(t, res); status != http.StatusServiceUnavailable || body["status"] != EventGridURLBusy {
		t.Fatalf("one too many: %d %v", status, body)
	}
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		a := active
		mu.Unlock()
		if a == eventGridConcurrency || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // time for a GET beyond the bound to start, if one could
	mu.Lock()
	got := most
	mu.Unlock()
	close(block)
	f.c.wg.Wait()
	if got != eventGridConcurrency {
		t.Fatalf("%d GETs at once, want %d", got, eventGridConcurrency)
	}
}

func TestEventGridOptions(t *testing.T) {
	if EventGridOptionsFromSpec(nil) != nil {
		t.Fatal("options without spec.eventGrid")
	}
	if o := EventGridOptionsFromSpec(&hookv1.EventGridSpec{}); o.Validation != hookv1.EventGridValidationCode {
		t.Fatalf("default %q", o.Validation)
	}
	if o := EventGridOptionsFromSpec(&hookv1.EventGridSpec{Validation: hookv1.EventGridValidationURL}); o.Validation != hookv1.EventGridValidationURL {
		t.Fatalf("URL: %q", o.Validation)
	}
	jwt := &JWTOptions{Audiences: []string{"a"}}
	if _, err := New("google-pubsub", Options{JWT: jwt, EventGrid: &EventGridOptions{}}); err == nil || !strings.Contains(err.Error(), "spec.eventGrid") {
		t.Errorf("spec.eventGrid for google-pubsub: %v", err)
	}
	if _, err := New("azure-eventgrid", Options{JWT: &JWTOptions{Issuer: egIssuer, Audiences: []string{"a"}}, EventGrid: &EventGridOptions{Validation: "Both"}}); err == nil {
		t.Error("an unknown validation mode")
	}
}

// The memory of URLs is bounded: when full, ended entries are forgotten,
// the expired ones first.
func TestEventGridMemoryIsBounded(t *testing.T) {
	f := newEGFixture(t, hookv1.EventGridValidationURL, func(o *EventGridOptions) {
		o.Now = func() time.Time { return egNow }
	})
	for i := range eventGridMemoryMax {
		f.c.seen[egURL+"&old="+strconv.Itoa(i)] = &eventGridEntry{state: EventGridURLConfirmed, ended: egNow.Add(-eventGridMemory)}
	}
	if _, err := f.verify(t, egValidation(egCode, egURL), egAudience); err != nil {
		t.Fatal(err)
	}
	if gets := f.done(); len(gets) != 1 {
		t.Fatalf("GETs %v", gets)
	}
	if n := len(f.c.seen); n != 1 {
		t.Fatalf("%d URLs remembered, want 1", n)
	}
	// Still-fresh entries are dropped too when nothing else makes room.
	for i := range eventGridMemoryMax {
		f.c.seen[egURL+"&recent="+strconv.Itoa(i)] = &eventGridEntry{state: EventGridURLConfirmed, ended: egNow}
	}
	res, err := f.verify(t, egValidation(egCode, egURL+"&new=1"), egAudience)
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := handshakeStatus(t, res); status != http.StatusOK {
		t.Fatalf("%d", status)
	}
	if gets := f.done(); len(gets) != 2 || len(f.c.seen) != 1 {
		t.Fatalf("GETs %v, %d remembered", gets, len(f.c.seen))
	}
}
