package queue

import (
	"net/http"
	"testing"
	"time"
)

// BenchmarkEventMsg is the stored form of a GitHub push, built on every
// accepted request.
func BenchmarkEventMsg(b *testing.B) {
	h := http.Header{}
	for _, k := range []string{"Content-Type", "User-Agent", "X-Github-Event", "X-Github-Delivery", "X-Github-Hook-Id",
		"X-Github-Hook-Installation-Target-Id", "X-Github-Hook-Installation-Target-Type", "X-Hub-Signature-256", "Accept"} {
		h.Set(k, "value-of-"+k)
	}
	ev := &Event{EndpointUID: "7f0c2c4e-5b8e-4a53-9d8e-0c1b2a3d4e5f", Endpoint: "team/hook", Provider: "github",
		DeliveryID: "72d3162e-cc78-11e3-81ab-4c9367dc0958", Header: h, Body: make([]byte, 2048), ReceivedAt: time.Now()}
	b.ReportAllocs()
	for b.Loop() {
		if eventMsg(ev).Size() == 0 {
			b.Fatal("empty message")
		}
	}
}
