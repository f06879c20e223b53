package history

import (
	"fmt"
	"strings"
	"testing"
	"time"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// BenchmarkRecorderRequest is the cost on the ingest path of recording
// one accepted event with a 1 KiB JSON body and typical headers, under
// the default policy (nothing to redact), on a real embedded JetStream.
// publish: every 1024 records it waits, untimed, for their acks, so that
// none is dropped at the pending bound (dropped/op says so) and what is
// measured is the publish, not the cheap drop. The embedded server runs
// in the same process, so its work on the records (and its allocations)
// is partly counted too. encode: the Recorder's own part alone.
func BenchmarkRecorderRequest(b *testing.B) {
	js := start(b)
	r := NewRecorder(js, RecorderOptions{})
	p := PolicyFor(hookv1.HistorySpec{})
	body := []byte(`{"action":"opened","number":42,"text":"` + strings.Repeat("x", 1024-41) + `"}`)
	if len(body) != 1024 {
		b.Fatalf("body is %d bytes", len(body))
	}
	ev := &eventsv1.Event{
		Namespace: "team-a", Endpoint: "github", Time: time.Now().UTC(), Outcome: eventsv1.OutcomeAccepted, Code: 202,
		Status: eventsv1.StatusPending, Provider: "github", DeliveryID: "72d3162e-cc78-11e3-81ab-4c9367dc0958", Type: "push",
		Source: "192.30.252.1", Method: "POST", Size: int64(len(body)), Body: body,
		Headers: map[string][]string{
			"Content-Type":        {"application/json"},
			"User-Agent":          {"GitHub-Hookshot/044aadd"},
			"X-Github-Event":      {"push"},
			"X-Github-Delivery":   {"72d3162e-cc78-11e3-81ab-4c9367dc0958"},
			"X-Github-Hook-Id":    {"292430182"},
			"X-Hub-Signature-256": {"sha256=d57c68ca6f92289e6987922ff26938930f6e66a2d161ef06abdf1859230aa23c"},
			"X-Forwarded-For":     {"192.30.252.1"},
			"Content-Length":      {"1024"},
		},
	}
	b.Run("publish", func(b *testing.B) {
		ids := make([]string, b.N)
		for i := range ids {
			ids[i] = fmt.Sprintf("ev%09d", i)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			ev.ID = ids[i]
			r.Request("u1", p, ev)
			if i%1024 == 1023 {
				b.StopTimer()
				flush(b, r)
				b.StartTimer()
			}
		}
		b.StopTimer()
		flush(b, r)
		b.ReportMetric(float64(value(b, r.m.droppedPend[kindRequest]))/float64(b.N), "dropped/op")
	})
	// The Recorder's own part: the checks, the copy, the encoding and
	// the message, without the publisher and without a server sharing
	// the CPUs.
	b.Run("encode", func(b *testing.B) {
		ev.ID = "ev000000001"
		b.ReportAllocs()
		for b.Loop() {
			if r.requestMsg("u1", p, ev) == nil {
				b.Fatal("no message")
			}
		}
	})
}
