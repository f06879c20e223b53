package v1alpha1

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the generated summary table in docs/providers.md")

var providersDoc = filepath.Join("..", "..", "docs", "providers.md")

const (
	docBegin = "<!-- BEGIN provider table: generated from api/v1alpha1/providers.go by `go test ./api/v1alpha1 -run TestProvidersDoc -update` -->"
	docEnd   = "<!-- END provider table -->"
)

// providersMarkdown renders the summary table of docs/providers.md from the
// provider table.
func providersMarkdown() string {
	var b strings.Builder
	b.WriteString("| provider | scheme | signature | replay window | dedupe key | key | handshake | event type |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, p := range Providers {
		window := "none"
		if p.Timestamp.DefaultWindow > 0 {
			window = fmt.Sprintf("%s (%s)", shortDuration(p.Timestamp.DefaultWindow), p.Timestamp.Source)
		}
		dedupe := "none"
		if p.DeliveryID.Source != "" {
			dedupe = p.DeliveryID.Source
			if p.DeliveryID.Signed {
				dedupe += ", signed"
			}
		}
		key := fmt.Sprintf("%s, %s", p.Key.Kind, p.Key.Format)
		if p.Key.ReceiverChooses {
			key += "; receiver chooses (rotation)"
		}
		if p.Key.PublicKeysOptional {
			key += "; or spec.publicKeys"
		}
		handshake := "none"
		if p.Handshake.Kind != "" && p.Handshake.Kind != HandshakeNone {
			handshake = string(p.Handshake.Kind)
			if p.Handshake.Method != "" {
				handshake += " (" + p.Handshake.Method + ")"
			}
		}
		fmt.Fprintf(&b, "| [%s](%s) `%s` | %s | `%s`: %s of %s, `%s` | %s | %s | %s | %s | %s |\n",
			p.DisplayName, p.Docs, p.Name, p.Scheme, strings.Join(p.Signature.Headers, "`, `"),
			p.Signature.Algorithm, p.Signature.Signed, p.Signature.Encoding, window, dedupe, key, handshake,
			eventTypeWords(p.EventType))
	}
	return b.String()
}

// shortDuration drops the zero minutes and seconds time.Duration.String
// spells out: 5m, 10m, 8h, 1h30m.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// eventTypeWords says where the event type is read, in the order
// EventTypeInfo.Of reads it.
func eventTypeWords(e EventTypeInfo) string {
	var from []string
	if e.Header != "" {
		from = append(from, "header `"+e.Header+"`")
	}
	if e.JSONField != "" {
		from = append(from, "body `"+e.JSONField+"`")
	}
	if e.FormField != "" {
		from = append(from, "form field `"+e.FormField+"`")
	}
	if len(from) == 0 {
		return "none (the provider name)"
	}
	return strings.Join(from, ", else ")
}

func TestProvidersDocSummaryMatchesTheTable(t *testing.T) {
	b, err := os.ReadFile(providersDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i, j := strings.Index(doc, docBegin), strings.Index(doc, docEnd)
	if i < 0 || j < i {
		t.Fatalf("%s has no generated provider table between %q and %q", providersDoc, docBegin, docEnd)
	}
	want := docBegin + "\n" + providersMarkdown() + docEnd
	if doc[i:j+len(docEnd)] == want {
		return
	}
	if *update {
		if err := os.WriteFile(providersDoc, []byte(doc[:i]+want+doc[j+len(docEnd):]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s: the provider summary differs from api/v1alpha1/providers.go; run: go test ./api/v1alpha1 -run TestProvidersDoc -update", providersDoc)
}

// Every provider in the table has its own section in docs/providers.md.
func TestEveryProviderHasADocSection(t *testing.T) {
	b, err := os.ReadFile(providersDoc)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range Providers {
		if !strings.Contains(string(b), "(`provider: "+string(p.Name)+"`)\n") {
			t.Errorf("%s has no section \"## ... (`provider: %s`)\"", providersDoc, p.Name)
		}
	}
}
