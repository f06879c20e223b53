package v1alpha1

import (
	"net/http"
	"strings"
	"testing"
)

const (
	jsonType = "application/json"
	formType = "application/x-www-form-urlencoded; charset=utf-8"
)

func headers(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// Samples are shaped as each provider's documentation shows its requests.
func TestEventTypeOfProvidersRequests(t *testing.T) {
	for _, c := range []struct {
		name     string
		provider Provider
		header   http.Header
		body     string
		want     string
	}{
		{"GitHub names it in X-GitHub-Event", ProviderGitHub,
			headers("X-GitHub-Event", "pull_request", "X-GitHub-Delivery", "72d3162e"),
			`{"action":"opened","number":1}`, "pull_request"},
		{"GitLab names it in X-Gitlab-Event", "gitlab",
			headers("X-Gitlab-Event", "Push Hook"), `{"object_kind":"push"}`, "Push Hook"},
		{"Shopify names it in X-Shopify-Topic", "shopify",
			headers("X-Shopify-Topic", "orders/create", "Content-Type", jsonType), `{"id":820982911946154508}`, "orders/create"},
		{"Stripe's top-level type wins over a nested one met first", "stripe",
			headers("Content-Type", jsonType),
			`{"id":"evt_1","object":"event","data":{"object":{"id":"pi_1","type":"card","metadata":{"type":"x"}}},"type":"payment_intent.succeeded"}`,
			"payment_intent.succeeded"},
		{"Slack's Events API names the event in event.type", "slack",
			headers("Content-Type", jsonType),
			`{"token":"z","team_id":"T1","type":"event_callback","event":{"type":"app_mention","user":"U1","text":"hi"},"event_id":"Ev1"}`,
			"app_mention"},
		{"Slack's url_verification has no event", "slack",
			headers("Content-Type", jsonType), `{"token":"z","challenge":"c","type":"url_verification"}`, ""},
		{"a Slack slash command is a form that names none", "slack",
			headers("Content-Type", formType), "token=z&team_id=T1&command=%2Fweather&text=94070", ""},
		{"Standard Webhooks' payload carries type", ProviderStandardWebhooks,
			headers("Webhook-Id", "msg_1", "Content-Type", jsonType),
			`{"type":"contact.created","timestamp":"2022-11-03T20:26:10.344522Z","data":{"id":"1f81eb52"}}`, "contact.created"},
		{"Svix senders' payloads carry type", "svix",
			headers("Svix-Id", "msg_1"), `{"type":"user.created","data":{"id":"user_1"}}`, "user.created"},
		{"Twilio Conversations posts EventType in its form", "twilio",
			headers("Content-Type", formType),
			"AccountSid=AC1&EventType=onMessageAdded&Body=Ahoy%21&ConversationSid=CH1", "onMessageAdded"},
		{"a Twilio SMS names none", "twilio",
			headers("Content-Type", formType), "MessageSid=SM1&From=%2B15017122661&Body=Hello", ""},
		{"Mailgun's JSON webhook names it in event-data.event", "mailgun",
			headers("Content-Type", jsonType),
			`{"signature":{"timestamp":"1529006854","token":"a8ce0edb","signature":"d2271d12"},"event-data":{"event":"delivered","id":"CPgfbmQMTCKtHW6uIWtuVe"}}`,
			"delivered"},
		{"Mailgun's legacy webhook names it in the event field", "mailgun",
			headers("Content-Type", "application/x-www-form-urlencoded"),
			"domain=example.com&event=bounced&recipient=alice%40example.com&timestamp=1529006854", "bounced"},
		{"a form field is read only from a form body", "mailgun",
			headers("Content-Type", "multipart/form-data; boundary=x"), "event=bounced", ""},
		{"Mailchimp posts type in its form", "mailchimp",
			headers("Content-Type", formType),
			"type=subscribe&fired_at=2009-03-26+21%3A35%3A57&data%5Bid%5D=8a25ff1d98&data%5Bemail%5D=api%40mailchimp.com", "subscribe"},
		{"PagerDuty nests it in event.event_type", "pagerduty",
			headers("Content-Type", jsonType),
			`{"event":{"id":"5ac64822","event_type":"incident.triggered","resource_type":"incident","data":{"type":"incident"}}}`,
			"incident.triggered"},
		{"Persona nests it three deep", "persona",
			headers("Content-Type", jsonType),
			`{"data":{"type":"event","id":"evt_1","attributes":{"name":"inquiry.approved","payload":{"data":{"type":"inquiry"}}}}}`,
			"inquiry.approved"},
		{"Linear's header is preferred over its body", "linear",
			headers("Linear-Event", "Issue"), `{"action":"create","type":"Comment"}`, "Issue"},
		{"without the header Linear's body type is read", "linear",
			headers("Content-Type", jsonType), `{"action":"create","type":"Issue"}`, "Issue"},
		{"an empty header falls back to the body", "linear",
			headers("Linear-Event", ""), `{"type":"Issue"}`, "Issue"},
		{"a header named in lower case in the table is found", "circleci",
			headers("Circleci-Event-Type", "workflow-completed"), `{}`, "workflow-completed"},
		{"SendGrid batches events and names none", ProviderSendGrid,
			headers("Content-Type", jsonType), `[{"event":"processed"},{"event":"delivered"}]`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			info, ok := LookupProvider(c.provider)
			if !ok {
				t.Fatalf("no provider %s", c.provider)
			}
			if got := info.EventType.Of(c.header, []byte(c.body)); got != c.want {
				t.Errorf("Of = %q, want %q", got, c.want)
			}
		})
	}
}

func TestEventTypeRefusesWhatIsNoType(t *testing.T) {
	e := EventTypeInfo{Header: "X-Event", JSONField: "type"}
	long := strings.Repeat("a", MaxEventTypeLength)
	for _, c := range []struct {
		name   string
		header string
		body   string
		want   string
	}{
		{"a body that is not JSON", "", "type=push", ""},
		{"a body cut short after the field", "", `{"type":"push","data":{`, ""},
		{"an empty body", "", "", ""},
		{"a JSON array", "", `[{"type":"push"}]`, ""},
		{"a JSON string", "", `"push"`, ""},
		{"a missing field", "", `{"kind":"push"}`, ""},
		{"a number where the type is", "", `{"type":1}`, ""},
		{"an object where the type is", "", `{"type":{"name":"push"}}`, ""},
		{"null where the type is", "", `{"type":null}`, ""},
		{"a value of the maximum length", long, "", long},
		{"a header one byte too long falls back to the body", long + "a", `{"type":"push"}`, "push"},
		{"a body value one byte too long", "", `{"type":"` + long + `a"}`, ""},
		{"a control character in the header falls back to the body", "push\x7f", `{"type":"push"}`, "push"},
		{"a newline in the body", "", `{"type":"push\nX-Forged: 1"}`, ""},
		{"a NUL in the body", "", `{"type":"push\u0000"}`, ""},
		{"bytes that are not UTF-8", "push\xff", "", ""},
		{"an escaped value is unescaped", "", `{"type":"issue\/created"}`, "issue/created"},
		{"the first of duplicate keys counts", "", `{"type":"first","type":"second"}`, "first"},
		{"siblings of every kind are skipped", "", `{"a":[1,{"type":"x"},[]],"b":{"c":{"type":"y"}},"d":null,"e":true,"type":"push"}`, "push"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			if c.header != "" {
				h.Set("X-Event", c.header)
			}
			if got := e.Of(h, []byte(c.body)); got != c.want {
				t.Errorf("Of = %q, want %q", got, c.want)
			}
		})
	}
}

func TestEventTypeOfFallsBackToTheProviderName(t *testing.T) {
	github, _ := LookupProvider(ProviderGitHub)
	if got := github.EventTypeOf(headers("X-GitHub-Event", "push"), nil); got != "push" {
		t.Errorf("GitHub with X-GitHub-Event: %q", got)
	}
	if got := github.EventTypeOf(http.Header{}, []byte(`{"type":"push"}`)); got != "github" {
		t.Errorf("GitHub without X-GitHub-Event: %q, want the provider name", got)
	}
	sendgrid, _ := LookupProvider(ProviderSendGrid)
	if got := sendgrid.EventTypeOf(http.Header{}, []byte(`[{"event":"delivered"}]`)); got != "sendgrid" {
		t.Errorf("a provider that names no type: %q, want the provider name", got)
	}
	acme := (&WebhookProviderSpec{DisplayName: "Acme", Scheme: SchemeHMAC,
		HMAC:      &HMACRecipe{Header: "X-Acme-Signature", Algorithm: "sha256", Encoding: "hex"},
		EventType: EventTypeInfo{JSONField: "type"},
	}).ProviderInfo("acme")
	if got := acme.EventTypeOf(http.Header{}, []byte(`{"type":"order.paid"}`)); got != "order.paid" {
		t.Errorf("a WebhookProvider's eventType: %q", got)
	}
	if got := acme.EventTypeOf(http.Header{}, []byte(`{}`)); got != "acme" {
		t.Errorf("a WebhookProvider without the field: %q, want its name", got)
	}
}

// The built-in entries obey the same rules as a WebhookProvider's
// spec.eventType (the CRD's patterns, Validate).
func TestEveryProvidersEventTypeFitsTheSchema(t *testing.T) {
	for _, info := range Providers {
		if errs := info.EventType.validate(); len(errs) > 0 {
			t.Errorf("%s: %v", info.Name, errs)
		}
	}
}

func TestWebhookProviderValidateChecksTheEventType(t *testing.T) {
	for _, c := range []struct {
		name string
		e    EventTypeInfo
		want string
	}{
		{"a header that is no token", EventTypeInfo{Header: "X Event"}, "header"},
		{"an empty key in the JSON path", EventTypeInfo{JSONField: "event..type"}, "jsonField"},
		{"a JSON path that ends in a dot", EventTypeInfo{JSONField: "event."}, "jsonField"},
		{"a form field with an ampersand", EventTypeInfo{FormField: "a&b"}, "formField"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := WebhookProviderSpec{DisplayName: "Acme", Scheme: SchemeHMAC,
				HMAC: &HMACRecipe{Header: "X-Sig", Algorithm: "sha256", Encoding: "hex"}, EventType: c.e}
			if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "spec.eventType: "+c.want) {
				t.Fatalf("Validate() = %v, want an error about %s", err, c.want)
			}
		})
	}
	ok := WebhookProviderSpec{DisplayName: "Acme", Scheme: SchemeHMAC,
		HMAC:      &HMACRecipe{Header: "X-Sig", Algorithm: "sha256", Encoding: "hex"},
		EventType: EventTypeInfo{Header: "X-Acme-Event", JSONField: "event.type", FormField: "data[type]"}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
}

func FuzzEventTypeOf(f *testing.F) {
	f.Add("event.type", `{"event":{"type":"app_mention"}}`)
	f.Add("type", `{"type":"x","type":"y"}`)
	f.Add("a.b", `[{"a":{"b":"c"}}]`)
	f.Fuzz(func(t *testing.T, path, body string) {
		e := EventTypeInfo{JSONField: path, FormField: path}
		got := e.Of(headers("Content-Type", formType), []byte(body))
		if got != validEventType(got) {
			t.Fatalf("Of returned %q, which is no valid event type", got)
		}
	})
}
