package v1alpha1

import "time"

// catalogProviders are table-driven entries (SchemeHMAC, SchemeToken,
// SchemeStandardWebhooks instances) that need no code of their own. Each
// recipe is the one in the provider's own documentation or official SDK,
// linked in Docs; ingress/verify/catalog_vectors_test.go checks each
// against a vector (published where one is, otherwise computed there from
// the documented recipe with crypto/hmac).
var catalogProviders = concatProviders(catalogForges, catalogCommerce, catalogSaaS, catalogTimestamped, catalogCredentials, catalogStandardWebhooks, catalogSpecialKeys)

// Shared parts of the catalog's entries.
var (
	rawSecret     = KeyInfo{Kind: KeySharedSecret, Format: KeyFormatRaw}
	chosenSecret  = KeyInfo{Kind: KeySharedSecret, Format: KeyFormatHex, ReceiverChooses: true}
	rawToken      = KeyInfo{Kind: KeyToken, Format: KeyFormatRaw}
	chosenToken   = KeyInfo{Kind: KeyToken, Format: KeyFormatHex, ReceiverChooses: true}
	basicPassword = KeyInfo{Kind: KeyBasic, Format: KeyFormatUserPassword}
	basicRecipe   = &TokenRecipe{AllowBasic: true}
)

// bodySignature describes an HMAC of the body alone.
func bodySignature(header, algorithm, encoding string) SignatureInfo {
	return SignatureInfo{Headers: []string{header}, Signed: "the body", Algorithm: algorithm, Encoding: encoding}
}

// tokenSignature describes a credential sent as a header's whole value.
func tokenSignature(header, what string) SignatureInfo {
	return SignatureInfo{Headers: []string{header}, Signed: "nothing (" + what + ")", Algorithm: "none", Encoding: "the token as the whole header value"}
}

// basicSignature describes HTTP Basic credentials.
var basicSignature = SignatureInfo{Headers: []string{"Authorization"}, Signed: "nothing (credentials)", Algorithm: "none", Encoding: "Basic base64(user:password)"}

// Source forges, CI and developer tools.
var catalogForges = []ProviderInfo{
	{
		Name: "gitea", DisplayName: "Gitea", Scheme: SchemeHMAC,
		Docs:       "https://docs.gitea.com/usage/webhooks",
		Signature:  bodySignature("X-Gitea-Signature", "HMAC-SHA256", "hex"),
		DeliveryID: DeliveryIDInfo{Source: "header X-Gitea-Delivery"},
		Key:        chosenSecret,
		// As X-GitHub-Event; X-Gitea-Event-Type is finer (pull_request_approved,
		// ...).
		EventType: EventTypeInfo{Header: "X-Gitea-Event"},
		HMAC:      &HMACRecipe{Header: "X-Gitea-Signature", Algorithm: "sha256", Encoding: "hex", IDHeader: "X-Gitea-Delivery"},
	},
	{
		Name: "forgejo", DisplayName: "Forgejo", Scheme: SchemeHMAC,
		Docs:       "https://forgejo.org/docs/latest/user/webhooks/",
		Signature:  bodySignature("X-Forgejo-Signature", "HMAC-SHA256", "hex"),
		DeliveryID: DeliveryIDInfo{Source: "header X-Forgejo-Delivery"},
		Key:        chosenSecret,
		EventType:  EventTypeInfo{Header: "X-Forgejo-Event"},
		HMAC:       &HMACRecipe{Header: "X-Forgejo-Signature", Algorithm: "sha256", Encoding: "hex", IDHeader: "X-Forgejo-Delivery"},
	},
	{
		Name: "gogs", DisplayName: "Gogs", Scheme: SchemeHMAC,
		Docs:       "https://gogs.io/docs/features/webhook",
		Signature:  bodySignature("X-Gogs-Signature", "HMAC-SHA256", "hex"),
		DeliveryID: DeliveryIDInfo{Source: "header X-Gogs-Delivery"},
		Key:        chosenSecret,
		EventType:  EventTypeInfo{Header: "X-Gogs-Event"},
		HMAC:       &HMACRecipe{Header: "X-Gogs-Signature", Algorithm: "sha256", Encoding: "hex", IDHeader: "X-Gogs-Delivery"},
	},
	{
		Name: "bitbucket-server", DisplayName: "Bitbucket Data Center / Server", Scheme: SchemeHMAC,
		Docs:       "https://confluence.atlassian.com/bitbucketserver/manage-webhooks-938025878.html",
		Signature:  bodySignature("X-Hub-Signature", "HMAC-SHA256", "sha256=<hex>"),
		DeliveryID: DeliveryIDInfo{Source: "header X-Request-Id"},
		Key:        chosenSecret,
		EventType:  EventTypeInfo{Header: "X-Event-Key"},
		HMAC:       &HMACRecipe{Header: "X-Hub-Signature", Prefix: "sha256=", Algorithm: "sha256", Encoding: "hex", IDHeader: "X-Request-Id"},
	},
	{
		Name: "jira", DisplayName: "Jira Cloud (Atlassian) webhooks", Scheme: SchemeHMAC,
		Docs:       "https://developer.atlassian.com/cloud/jira/platform/webhooks/#secure-admin-webhooks",
		Signature:  bodySignature("X-Hub-Signature", "HMAC-SHA256", "sha256=<hex>"),
		DeliveryID: DeliveryIDInfo{Source: "header X-Atlassian-Webhook-Identifier"},
		Key:        chosenSecret,
		EventType:  EventTypeInfo{JSONField: "webhookEvent"},
		HMAC:       &HMACRecipe{Header: "X-Hub-Signature", Prefix: "sha256=", Algorithm: "sha256", Encoding: "hex", IDHeader: "X-Atlassian-Webhook-Identifier"},
	},
	{
		Name: "terraform-cloud", DisplayName: "HCP Terraform / Terraform Enterprise notifications", Scheme: SchemeHMAC,
		Docs:      "https://developer.hashicorp.com/terraform/cloud-docs/workspaces/settings/notifications#notification-authenticity",
		Signature: bodySignature("X-TFE-Notification-Signature", "HMAC-SHA512", "hex"),
		Key:       chosenSecret,
		// No event type: the notifications list names each trigger.
		HMAC: &HMACRecipe{Header: "X-TFE-Notification-Signature", Algorithm: "sha512", Encoding: "hex"},
	},
	{
		Name: "heroku", DisplayName: "Heroku app webhooks", Scheme: SchemeHMAC,
		Docs:       "https://devcenter.heroku.com/articles/app-webhooks#securing-webhook-requests",
		Signature:  bodySignature("Heroku-Webhook-Hmac-SHA256", "HMAC-SHA256", "base64"),
		DeliveryID: DeliveryIDInfo{Source: "header Heroku-Webhook-Id"},
		Key:        chosenSecret,
		// The entity, e.g. api:release; the body's action says create, update or
		// destroy.
		EventType: EventTypeInfo{JSONField: "webhook_metadata.event.include"},
		HMAC:      &HMACRecipe{Header: "Heroku-Webhook-Hmac-SHA256", Algorithm: "sha256", Encoding: "base64", IDHeader: "Heroku-Webhook-Id"},
	},
	{
		Name: "snyk", DisplayName: "Snyk", Scheme: SchemeHMAC,
		Docs:       "https://docs.snyk.io/snyk-api/how-to-use-snyk-webhooks-apis/webhooks#validating-the-signature",
		Signature:  bodySignature("X-Hub-Signature", "HMAC-SHA256", "sha256=<hex>"),
		DeliveryID: DeliveryIDInfo{Source: "header X-Snyk-Transport-Id"},
		Key:        chosenSecret,
		EventType:  EventTypeInfo{Header: "X-Snyk-Event"},
		HMAC:       &HMACRecipe{Header: "X-Hub-Signature", Prefix: "sha256=", Algorithm: "sha256", Encoding: "hex", IDHeader: "X-Snyk-Transport-Id"},
	},
	{
		Name: "sonarqube", DisplayName: "SonarQube Server / SonarQube Cloud", Scheme: SchemeHMAC,
		Docs:      "https://docs.sonarsource.com/sonarqube-server/latest/project-administration/webhooks/",
		Signature: bodySignature("X-Sonar-Webhook-HMAC-SHA256", "HMAC-SHA256", "hex"),
		Key:       chosenSecret,
		// No event type: Sonar sends one kind of event, an analysis done.
		HMAC: &HMACRecipe{Header: "X-Sonar-Webhook-HMAC-SHA256", Algorithm: "sha256", Encoding: "hex"},
	},
	{
		Name: "sonatype-nexus", DisplayName: "Sonatype Nexus Repository", Scheme: SchemeHMAC,
		Docs:      "https://help.sonatype.com/en/webhooks.html",
		Signature: bodySignature("X-Nexus-Webhook-Signature", "HMAC-SHA1", "hex"),
		Key:       chosenSecret,
		// Names the event, e.g. rm:repository:component.
		EventType: EventTypeInfo{Header: "X-Nexus-Webhook-Id"},
		HMAC:      &HMACRecipe{Header: "X-Nexus-Webhook-Signature", Algorithm: "sha1", Encoding: "hex"},
	},
	{
		Name: "pulumi", DisplayName: "Pulumi Cloud", Scheme: SchemeHMAC,
		Docs:       "https://www.pulumi.com/docs/pulumi-cloud/webhooks/",
		Signature:  bodySignature("Pulumi-Webhook-Signature", "HMAC-SHA256", "hex"),
		DeliveryID: DeliveryIDInfo{Source: "header Pulumi-Webhook-ID"},
		Key:        chosenSecret,
		EventType:  EventTypeInfo{Header: "Pulumi-Webhook-Kind"},
		HMAC:       &HMACRecipe{Header: "Pulumi-Webhook-Signature", Algorithm: "sha256", Encoding: "hex", IDHeader: "Pulumi-Webhook-ID"},
	},
	{
		Name: "doppler", DisplayName: "Doppler", Scheme: SchemeHMAC,
		Docs:      "https://docs.doppler.com/docs/webhooks",
		Signature: bodySignature("X-Doppler-Signature", "HMAC-SHA256", "sha256=<hex>"),
		Key:       chosenSecret,
		EventType: EventTypeInfo{JSONField: "type"},
		HMAC:      &HMACRecipe{Header: "X-Doppler-Signature", Prefix: "sha256=", Algorithm: "sha256", Encoding: "hex"},
	},
	{
		Name: "grafana", DisplayName: "Grafana Alerting webhook contact point", Scheme: SchemeHMAC,
		Docs:      "https://grafana.com/docs/grafana/latest/alerting/configure-notifications/manage-contact-points/integrations/webhook-notifier/",
		Signature: bodySignature("X-Grafana-Alerting-Signature", "HMAC-SHA256", "hex"),
		Key:       chosenSecret,
		// No event type: every request is an alert notification (status firing or
		// resolved).
		HMAC: &HMACRecipe{Header: "X-Grafana-Alerting-Signature", Algorithm: "sha256", Encoding: "hex"},
	},
	{
		Name: "launchdarkly", DisplayName: "LaunchDarkly", Scheme: SchemeHMAC,
		Docs:      "https://launchdarkly.com/docs/home/connecting/webhooks#sign-a-webhook",
		Signature: bodySignature("X-LD-Signature", "HMAC-SHA256", "hex"),
		Key:       rawSecret,
		// No event type: the body is an audit log entry; kind is the resource's,
		// actions are in accesses.
		HMAC: &HMACRecipe{Header: "X-LD-Signature", Algorithm: "sha256", Encoding: "hex"},
	},
	{
		Name: "autodesk", DisplayName: "Autodesk Platform Services webhooks", Scheme: SchemeHMAC,
		Docs:      "https://aps.autodesk.com/en/docs/webhooks/v1/developers_guide/callbacks/",
		Signature: bodySignature("x-adsk-signature", "HMAC-SHA1", "sha1hash=<hex>"),
		Key:       chosenSecret,
		EventType: EventTypeInfo{JSONField: "hook.event"},
		HMAC:      &HMACRecipe{Header: "x-adsk-signature", Prefix: "sha1hash=", Algorithm: "sha1", Encoding: "hex"},
	},
	{
		Name: "alchemy", DisplayName: "Alchemy Notify", Scheme: SchemeHMAC,
		Docs:       "https://docs.alchemy.com/reference/notify-api-quickstart#webhook-signature--security",
		Signature:  bodySignature("X-Alchemy-Signature", "HMAC-SHA256", "hex"),
		DeliveryID: DeliveryIDInfo{Source: "body id", Signed: true},
		Key:        rawSecret,
		EventType:  EventTypeInfo{JSONField: "type"},
		HMAC:       &HMACRecipe{Header: "X-Alchemy-Signature", Algorithm: "sha256", Encoding: "hex", IDField: "id"},
	},
}

// Payments and commerce.
var catalogCommerce = []ProviderInfo{
	{
		Name: "razorpay", DisplayName: "Razorpay", Scheme: SchemeHMAC,
		Docs:       "https://razorpay.com/docs/webhooks/validate-test/",
		Signature:  bodySignature("X-Razorpay-Signature", "HMAC-SHA256", "hex"),
		DeliveryID: DeliveryIDInfo{Source: "header x-razorpay-event-id"},
		Key:        chosenSecret,
		EventType:  EventTypeInfo{JSONField: "event"},
		HMAC:       &HMACRecipe{Header: "X-Razorpay-Signature", Algorithm: "sha256", Encoding: "hex", IDHeader: "x-razorpay-event-id"},
	},
	{
		Name: "gocardless", DisplayName: "GoCardless", Scheme: SchemeHMAC,
		Docs:      "https://developer.gocardless.com/getting-started/staying-up-to-date-with-webhooks",
		Signature: bodySignature("Webhook-Signature", "HMAC-SHA256", "hex"),
		Key:       rawSecret,
		// No event type: each request is a batch of events.
		HMAC: &HMACRecipe{Header: "Webhook-Signature", Algorithm: "sha256", Encoding: "hex"},
	},
	{
		Name: "woocommerce", DisplayName: "WooCommerce", Scheme: SchemeHMAC,
		Docs:       "https://woocommerce.github.io/woocommerce-rest-api-docs/#webhooks",
		Signature:  bodySignature("X-WC-Webhook-Signature", "HMAC-SHA256", "base64"),
		DeliveryID: DeliveryIDInfo{Source: "header X-WC-Webhook-Delivery-ID"},
		Key:        chosenSecret,
		EventType:  EventTypeInfo{Header: "X-WC-Webhook-Topic"},
		HMAC:       &HMACRecipe{Header: "X-WC-Webhook-Signature", Algorithm: "sha256", Encoding: "base64", IDHeader: "X-WC-Webhook-Delivery-ID"},
	},
	{
		Name: "lemonsqueezy", DisplayName: "Lemon Squeezy", Scheme: SchemeHMAC,
		Docs:      "https://docs.lemonsqueezy.com/help/webhooks/signing-requests",
		Signature: bodySignature("X-Signature", "HMAC-SHA256", "hex"),
		Key:       chosenSecret,
		EventType: EventTypeInfo{Header: "X-Event-Name", JSONField: "meta.event_name"},
		HMAC:      &HMACRecipe{Header: "X-Signature", Algorithm: "sha256", Encoding: "hex"},
	},
	{
		Name: "paystack", DisplayName: "Paystack", Scheme: SchemeHMAC,
		Docs:      "https://paystack.com/docs/payments/webhooks/#verify-event-origin",
		Signature: bodySignature("x-paystack-signature", "HMAC-SHA512", "hex"),
		Key:       rawSecret,
		EventType: EventTypeInfo{JSONField: "event"},
		HMAC:      &HMACRecipe{Header: "x-paystack-signature", Algorithm: "sha512", Encoding: "hex"},
	},
	{
		Name: "checkout", DisplayName: "Checkout.com", Scheme: SchemeHMAC,
		Docs:       "https://www.checkout.com/docs/developer-resources/webhooks/manage-webhooks",
		Signature:  bodySignature("Cko-Signature", "HMAC-SHA256", "hex"),
		DeliveryID: DeliveryIDInfo{Source: "body id", Signed: true},
		Key:        rawSecret,
		EventType:  EventTypeInfo{JSONField: "type"},
		HMAC:       &HMACRecipe{Header: "Cko-Signature", Algorithm: "sha256", Encoding: "hex", IDField: "id"},
	},
	{
		Name: "bolt", DisplayName: "Bolt", Scheme: SchemeHMAC,
		Docs:      "https://help.bolt.com/developers/webhooks/",
		Signature: bodySignature("X-Bolt-Hmac-Sha256", "HMAC-SHA256", "base64"),
		Key:       rawSecret,
		EventType: EventTypeInfo{JSONField: "type"},
		HMAC:      &HMACRecipe{Header: "X-Bolt-Hmac-Sha256", Algorithm: "sha256", Encoding: "base64"},
	},
	{
		Name: "worldline", DisplayName: "Worldline Direct / Global Collect", Scheme: SchemeHMAC,
		Docs:      "https://docs.direct.worldline-solutions.com/en/integration/api-developer-guide/webhooks",
		Signature: bodySignature("X-GCS-Signature", "HMAC-SHA256", "base64"),
		Key:       rawSecret,
		EventType: EventTypeInfo{JSONField: "type"},
		HMAC:      &HMACRecipe{Header: "X-GCS-Signature", Algorithm: "sha256", Encoding: "base64"},
	},
	{
		Name: "coinify", DisplayName: "Coinify", Scheme: SchemeHMAC,
		Docs:      "https://coinify.readme.io/docs/webhook-signature",
		Signature: bodySignature("X-Coinify-Webhook-Signature", "HMAC-SHA256", "hex"),
		Key:       rawSecret,
		EventType: EventTypeInfo{JSONField: "event"},
		HMAC:      &HMACRecipe{Header: "X-Coinify-Webhook-Signature", Algorithm: "sha256", Encoding: "hex"},
	},
	{
		Name: "fourthwall", DisplayName: "Fourthwall", Scheme: SchemeHMAC,
		Docs:      "https://docs.fourthwall.com/webhooks/signature-verification",
		Signature: bodySignature("X-Fourthwall-Hmac-SHA256", "HMAC-SHA256", "base64"),
		Key:       rawSecret,
		EventType: EventTypeInfo{JSONField: "type"},
		HMAC:      &HMACRecipe{Header: "X-Fourthwall-Hmac-SHA256", Algorithm: "sha256", Encoding: "base64"},
	},
	{
		Name: "oracle-commerce", DisplayName: "Oracle Commerce", Scheme: SchemeHMAC,
		Docs:      "https://docs.oracle.com/en/cloud/saas/cx-commerce/ccdev/secure-webhooks.html",
		Signature: bodySignature("X-Oracle-CC-WebHook-Signature", "HMAC-SHA512", "base64"),
		Key:       rawSecret,
		// No event type: each webhook posts its own body and Oracle documents no
		// common field.
		HMAC: &HMACRecipe{Header: "X-Oracle-CC-WebHook-Signature", Algorithm: "sha512", Encoding: "base64"},
	},
	{
		Name: "castle", DisplayName: "Castle", Scheme: SchemeHMAC,
		Docs:      "https://docs.castle.io/docs/webhooks",
		Signature: bodySignature("X-Castle-Signature", "HMAC-SHA256", "base64"),
		Key:       rawSecret,
		EventType: EventTypeInfo{JSONField: "type"},
		HMAC:      &HMACRecipe{Header: "X-Castle-Signature", Algorithm: "sha256", Encoding: "base64"},
	},
	{
		Name: "onfido", DisplayName: "Onfido (Entrust)", Scheme: SchemeHMAC,
		Docs:      "https://documentation.onfido.com/api/latest/#webhooks",
		Signature: bodySignature("X-SHA2-Signature", "HMAC-SHA256", "hex"),
		Key:       rawSecret,
		EventType: EventTypeInfo{JSONField: "payload.action"},
		HMAC:      &HMACRecipe{Header: "X-SHA2-Signature", Algorithm: "sha256", Encoding: "hex"},
	},
	{
		Name: "veriff", DisplayName: "Veriff", Scheme: SchemeHMAC,
		Docs:      "https://devdocs.veriff.com/docs/hmac-authentication-and-endpoint-security",
		Signature: bodySignature("X-HMAC-SIGNATURE", "HMAC-SHA256", "hex"),
		Key:       rawSecret,
		// Event webhooks (started, submitted); decision webhooks name none.
		EventType: EventTypeInfo{JSONField: "action"},
		HMAC:      &HMACRecipe{Header: "X-HMAC-SIGNATURE", Algorithm: "sha256", Encoding: "hex"},
	},
}

// SaaS apps, messaging and productivity tools.
var catalogSaaS = []ProviderInfo{
	{
		Name: "messenger", DisplayName: "Messenger Platform (Meta)", Scheme: SchemeHMAC,
		Docs:      "https://developers.facebook.com/docs/messenger-platform/webhooks",
		Signature: metaSignature,
		Key:       metaKey,
		Handshake: metaHandshake,
		// No event type: as meta.
		HMAC: metaRecipe,
	},
	{
		Name: "pusher", DisplayName: "Pusher Channels", Scheme: SchemeHMAC,
		Docs:      "https://pusher.com/docs/channels/server_api/webhooks/",
		Signature: bodySignature("X-Pusher-Signature", "HMAC-SHA256", "hex"),
		Key:       rawSecret,
		// No event type: each request is a batch of events.
		HMAC: &HMACRecipe{Header: "X-Pusher-Signature", Algorithm: "sha256", Encoding: "hex"},
	},
	{
		Name: "webex", DisplayName: "Webex", Scheme: SchemeHMAC,
		Docs:       "https://developer.webex.com/docs/webhooks",
		Signature:  bodySignature("X-Spark-Signature", "HMAC-SHA1", "hex"),
		DeliveryID: DeliveryIDInfo{Source: "body id", Signed: true},
		Key:        chosenSecret,
		// No event type: it is split over resource and event (messages, created).
		HMAC: &HMACRecipe{Header: "X-Spark-Signature", Algorithm: "sha1", Encoding: "hex", IDField: "id"},
	},
	{
		Name: "segment", DisplayName: "Segment webhooks destination", Scheme: SchemeHMAC,
		Docs:       "https://segment.com/docs/connections/destinations/catalog/webhooks/",
		Signature:  bodySignature("X-Signature", "HMAC-SHA1", "hex"),
		DeliveryID: DeliveryIDInfo{Source: "body messageId", Signed: true},
		Key:        chosenSecret,
		EventType:  EventTypeInfo{JSONField: "type"},
		HMAC:       &HMACRecipe{Header: "X-Signature", Algorithm: "sha1", Encoding: "hex", IDField: "messageId"},
	},
	{
		Name: "clickup", DisplayName: "ClickUp", Scheme: SchemeHMAC,
		Docs:      "https://developer.clickup.com/docs/webhooksignature",
		Signature: bodySignature("X-Signature", "HMAC-SHA256", "hex"),
		Key:       rawSecret,
		EventType: EventTypeInfo{JSONField: "event"},
		HMAC:      &HMACRecipe{Header: "X-Signature", Algorithm: "sha256", Encoding: "hex"},
	},
	{
		Name: "calcom", DisplayName: "Cal.com", Scheme: SchemeHMAC,
		Docs:      "https://cal.com/docs/developing/guides/automation/webhooks",
		Signature: bodySignature("X-Cal-Signature-256", "HMAC-SHA256", "hex"),
		Key:       chosenSecret,
		EventType: EventTypeInfo{JSONField: "triggerEvent"},
		HMAC:      &HMACRecipe{Header: "X-Cal-Signature-256", Algorithm: "sha256", Encoding: "hex"},
	},
	{
		Name: "helpscout", DisplayName: "Help Scout", Scheme: SchemeHMAC,
		Docs:      "https://developer.helpscout.com/webhooks/",
		Signature: bodySignature("X-HelpScout-Signature", "HMAC-SHA1", "base64"),
		Key:       chosenSecret,
		EventType: EventTypeInfo{Header: "X-HelpScout-Event"},
		HMAC:      &HMACRecipe{Header: "X-HelpScout-Signature", Algorithm: "sha1", Encoding: "base64"},
	},
	{
		Name: "attio", DisplayName: "Attio", Scheme: SchemeHMAC,
		Docs:      "https://docs.attio.com/rest-api/guides/webhooks",
		Signature: bodySignature("Attio-Signature", "HMAC-SHA256", "hex"),
		Key:       rawSecret,
		// No event type: each request is a batch of events.
		HMAC: &HMACRecipe{Header: "Attio-Signature", Algorithm: "sha256", Encoding: "hex"},
	},
	{
		Name: "shortcut", DisplayName: "Shortcut", Scheme: SchemeHMAC,
		Docs:      "https://developer.shortcut.com/api/webhook/v1",
		Signature: bodySignature("Payload-Signature", "HMAC-SHA256", "hex"),
		Key:       rawSecret,
		// No event type: each request is a batch of actions.
		HMAC: &HMACRecipe{Header: "Payload-Signature", Algorithm: "sha256", Encoding: "hex"},
	},
	{
		Name: "todoist", DisplayName: "Todoist", Scheme: SchemeHMAC,
		Docs:       "https://developer.todoist.com/sync/v9/#webhooks",
		Signature:  bodySignature("X-Todoist-Hmac-SHA256", "HMAC-SHA256", "base64"),
		DeliveryID: DeliveryIDInfo{Source: "header X-Todoist-Delivery-ID"},
		Key:        rawSecret,
		EventType:  EventTypeInfo{JSONField: "event_name"},
		HMAC:       &HMACRecipe{Header: "X-Todoist-Hmac-SHA256", Algorithm: "sha256", Encoding: "base64", IDHeader: "X-Todoist-Delivery-ID"},
	},
	{
		Name: "sendbird", DisplayName: "Sendbird Chat", Scheme: SchemeHMAC,
		Docs:      "https://sendbird.com/docs/chat/platform-api/v3/webhook/overview",
		Signature: bodySignature("x-sendbird-signature", "HMAC-SHA256", "hex"),
		Key:       rawSecret,
		EventType: EventTypeInfo{JSONField: "category"},
		HMAC:      &HMACRecipe{Header: "x-sendbird-signature", Algorithm: "sha256", Encoding: "hex"},
	},
	{
		Name: "line", DisplayName: "LINE Messaging API", Scheme: SchemeHMAC,
		Docs:      "https://developers.line.biz/en/reference/messaging-api/#signature-validation",
		Signature: bodySignature("x-line-signature", "HMAC-SHA256", "base64"),
		Key:       rawSecret,
		// No event type: each request is a batch of events.
		HMAC: &HMACRecipe{Header: "x-line-signature", Algorithm: "sha256", Encoding: "base64"},
	},
	{
		Name: "viber", DisplayName: "Viber REST Bot API", Scheme: SchemeHMAC,
		Docs:      "https://developers.viber.com/docs/api/rest-bot-api/#callbacks",
		Signature: bodySignature("X-Viber-Content-Signature", "HMAC-SHA256", "hex"),
		Key:       rawSecret,
		EventType: EventTypeInfo{JSONField: "event"},
		HMAC:      &HMACRecipe{Header: "X-Viber-Content-Signature", Algorithm: "sha256", Encoding: "hex"},
	},
	{
		Name: "acuity", DisplayName: "Acuity Scheduling", Scheme: SchemeHMAC,
		Docs:      "https://developers.acuityscheduling.com/docs/webhooks",
		Signature: bodySignature("X-Acuity-Signature", "HMAC-SHA256", "base64"),
		Key:       rawSecret,
		EventType: EventTypeInfo{FormField: "action"},
		HMAC:      &HMACRecipe{Header: "X-Acuity-Signature", Algorithm: "sha256", Encoding: "base64"},
	},
	{
		Name: "tally", DisplayName: "Tally", Scheme: SchemeHMAC,
		Docs:       "https://tally.so/help/webhooks",
		Signature:  bodySignature("Tally-Signature", "HMAC-SHA256", "base64"),
		DeliveryID: DeliveryIDInfo{Source: "body eventId", Signed: true},
		Key:        chosenSecret,
		EventType:  EventTypeInfo{JSONField: "eventType"},
		HMAC:       &HMACRecipe{Header: "Tally-Signature", Algorithm: "sha256", Encoding: "base64", IDField: "eventId"},
	},
	{
		Name: "ashby", DisplayName: "Ashby", Scheme: SchemeHMAC,
		Docs:      "https://developers.ashbyhq.com/docs/authenticating-webhooks",
		Signature: bodySignature("Ashby-Signature", "HMAC-SHA256", "sha256=<hex>"),
		Key:       rawSecret,
		EventType: EventTypeInfo{JSONField: "action"},
		HMAC:      &HMACRecipe{Header: "Ashby-Signature", Prefix: "sha256=", Algorithm: "sha256", Encoding: "hex"},
	},
}

// Senders that sign a timestamp with the body.
var catalogTimestamped = []ProviderInfo{
	{
		Name: "box", DisplayName: "Box", Scheme: SchemeHMAC,
		Docs:       "https://developer.box.com/guides/webhooks/v2/signatures-v2",
		Signature:  SignatureInfo{Headers: []string{"BOX-SIGNATURE-PRIMARY"}, Signed: "body + timestamp", Algorithm: "HMAC-SHA256", Encoding: "base64"},
		Timestamp:  TimestampInfo{Source: "header BOX-DELIVERY-TIMESTAMP (RFC 3339)", DefaultWindow: 10 * time.Minute},
		DeliveryID: DeliveryIDInfo{Source: "header BOX-DELIVERY-ID"},
		Key:        rawSecret,
		EventType:  EventTypeInfo{JSONField: "trigger"},
		HMAC: &HMACRecipe{
			Header: "BOX-SIGNATURE-PRIMARY", Algorithm: "sha256", Encoding: "base64", IDHeader: "BOX-DELIVERY-ID",
			SignedContent: "{body}{timestamp}", TimestampHeader: "BOX-DELIVERY-TIMESTAMP", TimestampFormat: "rfc3339",
		},
	},
	{
		Name: "mux", DisplayName: "Mux", Scheme: SchemeHMAC,
		Docs:       "https://www.mux.com/docs/core/verify-webhook-signatures",
		Signature:  SignatureInfo{Headers: []string{"Mux-Signature"}, Signed: "t.body", Algorithm: "HMAC-SHA256", Encoding: "t=<unix>,v1=<hex>"},
		Timestamp:  TimestampInfo{Source: "Mux-Signature t=", DefaultWindow: fiveMinutes},
		DeliveryID: DeliveryIDInfo{Source: "body id", Signed: true},
		Key:        rawSecret,
		EventType:  EventTypeInfo{JSONField: "type"},
		HMAC: &HMACRecipe{
			Header: "Mux-Signature", Prefix: "v1=", ListSeparator: ",", Algorithm: "sha256", Encoding: "hex", IDField: "id",
			SignedContent: "{timestamp}.{body}", TimestampParam: "t",
		},
	},
	{
		Name: "persona", DisplayName: "Persona", Scheme: SchemeHMAC,
		Docs:      "https://docs.withpersona.com/webhooks-best-practices",
		Signature: SignatureInfo{Headers: []string{"Persona-Signature"}, Signed: "t.body", Algorithm: "HMAC-SHA256", Encoding: "t=<unix>,v1=<hex>"},
		Timestamp: TimestampInfo{Source: "Persona-Signature t=", DefaultWindow: fiveMinutes},
		Key:       rawSecret,
		EventType: EventTypeInfo{JSONField: "data.attributes.name"},
		HMAC: &HMACRecipe{
			Header: "Persona-Signature", Prefix: "v1=", ListSeparator: ",", Algorithm: "sha256", Encoding: "hex",
			SignedContent: "{timestamp}.{body}", TimestampParam: "t",
		},
	},
	{
		Name: "elevenlabs", DisplayName: "ElevenLabs", Scheme: SchemeHMAC,
		Docs:      "https://elevenlabs.io/docs/product-guides/administration/webhooks",
		Signature: SignatureInfo{Headers: []string{"ElevenLabs-Signature"}, Signed: "t.body", Algorithm: "HMAC-SHA256", Encoding: "t=<unix>,v0=<hex>"},
		Timestamp: TimestampInfo{Source: "ElevenLabs-Signature t=", DefaultWindow: 30 * time.Minute},
		Key:       rawSecret,
		EventType: EventTypeInfo{JSONField: "type"},
		HMAC: &HMACRecipe{
			Header: "ElevenLabs-Signature", Prefix: "v0=", ListSeparator: ",", Algorithm: "sha256", Encoding: "hex",
			SignedContent: "{timestamp}.{body}", TimestampParam: "t",
		},
	},
	{
		Name: "billit", DisplayName: "Billit", Scheme: SchemeHMAC,
		Docs:      "https://docs.accesspoint.billit.eu/docs/webhooks-signature",
		Signature: SignatureInfo{Headers: []string{"Billit-Signature"}, Signed: "t.body", Algorithm: "HMAC-SHA256", Encoding: "t=<unix>,s=<hex>"},
		Timestamp: TimestampInfo{Source: "Billit-Signature t=", DefaultWindow: fiveMinutes},
		Key:       rawSecret,
		// No event type: Billit documents no payload field for it.
		HMAC: &HMACRecipe{
			Header: "Billit-Signature", Prefix: "s=", ListSeparator: ",", Algorithm: "sha256", Encoding: "hex",
			SignedContent: "{timestamp}.{body}", TimestampParam: "t",
		},
	},
	{
		Name: "ghost", DisplayName: "Ghost", Scheme: SchemeHMAC,
		Docs:      "https://docs.ghost.org/webhooks",
		Signature: SignatureInfo{Headers: []string{"X-Ghost-Signature"}, Signed: "body + t", Algorithm: "HMAC-SHA256", Encoding: "sha256=<hex>, t=<unix ms>"},
		Timestamp: TimestampInfo{Source: "X-Ghost-Signature t= (ms)", DefaultWindow: fiveMinutes},
		Key:       rawSecret,
		// No event type: the kind is the payload's top-level key (post, page,
		// member).
		HMAC: &HMACRecipe{
			Header: "X-Ghost-Signature", Prefix: "sha256=", ListSeparator: ",", Algorithm: "sha256", Encoding: "hex",
			SignedContent: "{body}{timestamp}", TimestampParam: "t", TimestampFormat: "unix-ms",
		},
	},
	{
		Name: "frameio", DisplayName: "Frame.io", Scheme: SchemeHMAC,
		Docs:      "https://developer.adobe.com/frameio/guides/Webhooks/",
		Signature: SignatureInfo{Headers: []string{"X-Frameio-Signature"}, Signed: "v0:timestamp:body", Algorithm: "HMAC-SHA256", Encoding: "v0=<hex>"},
		Timestamp: TimestampInfo{Source: "header X-Frameio-Request-Timestamp", DefaultWindow: fiveMinutes},
		Key:       rawSecret,
		EventType: EventTypeInfo{JSONField: "type"},
		HMAC: &HMACRecipe{
			Header: "X-Frameio-Signature", Prefix: "v0=", Algorithm: "sha256", Encoding: "hex",
			SignedContent: "v0:{timestamp}:{body}", TimestampHeader: "X-Frameio-Request-Timestamp",
		},
	},
	{
		Name: "customerio", DisplayName: "Customer.io", Scheme: SchemeHMAC,
		Docs:      "https://docs.customer.io/journeys/webhooks-action/#securely-verify-requests",
		Signature: SignatureInfo{Headers: []string{"X-CIO-Signature"}, Signed: "v0:timestamp:body", Algorithm: "HMAC-SHA256", Encoding: "hex"},
		Timestamp: TimestampInfo{Source: "header X-CIO-Timestamp", DefaultWindow: fiveMinutes},
		Key:       rawSecret,
		// No event type: the body is the one the journey's webhook action defines.
		HMAC: &HMACRecipe{
			Header: "X-CIO-Signature", Algorithm: "sha256", Encoding: "hex",
			SignedContent: "v0:{timestamp}:{body}", TimestampHeader: "X-CIO-Timestamp",
		},
	},
	{
		Name: "webflow", DisplayName: "Webflow", Scheme: SchemeHMAC,
		Docs:      "https://developers.webflow.com/data/docs/working-with-webhooks",
		Signature: SignatureInfo{Headers: []string{"x-webflow-signature"}, Signed: "timestamp:body", Algorithm: "HMAC-SHA256", Encoding: "hex"},
		Timestamp: TimestampInfo{Source: "header x-webflow-timestamp (ms)", DefaultWindow: fiveMinutes},
		Key:       rawSecret,
		EventType: EventTypeInfo{JSONField: "triggerType"},
		HMAC: &HMACRecipe{
			Header: "x-webflow-signature", Algorithm: "sha256", Encoding: "hex",
			SignedContent: "{timestamp}:{body}", TimestampHeader: "x-webflow-timestamp", TimestampFormat: "unix-ms",
		},
	},
}

// Senders that authenticate with a static credential only.
var catalogCredentials = []ProviderInfo{
	{
		Name: "telegram", DisplayName: "Telegram Bot API", Scheme: SchemeToken,
		Docs:       "https://core.telegram.org/bots/api#setwebhook",
		Signature:  tokenSignature("X-Telegram-Bot-Api-Secret-Token", "the secret_token you set"),
		DeliveryID: DeliveryIDInfo{Source: "body update_id"},
		Key:        chosenToken,
		// No event type: the kind is the update's key (message, edited_message,
		// ...).
		Token: &TokenRecipe{Header: "X-Telegram-Bot-Api-Secret-Token", IDField: "update_id"},
	},
	{
		Name: "xendit", DisplayName: "Xendit", Scheme: SchemeToken,
		Docs:      "https://docs.xendit.co/docs/handling-webhooks",
		Signature: tokenSignature("x-callback-token", "the account's webhook verification token"),
		Key:       rawToken,
		// Newer products; legacy callbacks name none.
		EventType: EventTypeInfo{JSONField: "event"},
		Token:     &TokenRecipe{Header: "x-callback-token"},
	},
	{
		Name: "flutterwave", DisplayName: "Flutterwave", Scheme: SchemeToken,
		Docs:      "https://developer.flutterwave.com/docs/webhooks",
		Signature: tokenSignature("verif-hash", "the secret hash you set"),
		Key:       chosenToken,
		EventType: EventTypeInfo{JSONField: "event"},
		Token:     &TokenRecipe{Header: "verif-hash"},
	},
	{
		Name: "cloudflare", DisplayName: "Cloudflare notifications (generic webhooks)", Scheme: SchemeToken,
		Docs:      "https://developers.cloudflare.com/notifications/get-started/configure-webhooks/",
		Signature: tokenSignature("cf-webhook-auth", "the secret you set"),
		Key:       chosenToken,
		EventType: EventTypeInfo{JSONField: "alert_type"},
		Token:     &TokenRecipe{Header: "cf-webhook-auth"},
	},
	{
		Name: "revenuecat", DisplayName: "RevenueCat", Scheme: SchemeToken,
		Docs:       "https://www.revenuecat.com/docs/integrations/webhooks",
		Signature:  tokenSignature("Authorization", "the authorization header value you set"),
		DeliveryID: DeliveryIDInfo{Source: "body event.id"},
		Key:        chosenToken,
		EventType:  EventTypeInfo{JSONField: "event.type"},
		Token:      &TokenRecipe{Header: "Authorization", IDField: "event.id"},
	},
	{
		Name: "harbor", DisplayName: "Harbor", Scheme: SchemeToken,
		Docs:      "https://goharbor.io/docs/main/working-with-projects/project-configuration/configure-webhooks/",
		Signature: tokenSignature("Authorization", "the auth header you set"),
		Key:       chosenToken,
		// Both payload formats, Default (PUSH_ARTIFACT) and CloudEvents
		// (harbor.artifact.pushed).
		EventType: EventTypeInfo{JSONField: "type"},
		Token:     &TokenRecipe{Header: "Authorization"},
	},
	{
		Name: "chargebee", DisplayName: "Chargebee", Scheme: SchemeToken,
		Docs:       "https://www.chargebee.com/docs/billing/2.0/site-configuration/webhook_settings",
		Signature:  basicSignature,
		DeliveryID: DeliveryIDInfo{Source: "body id"},
		Key:        basicPassword,
		EventType:  EventTypeInfo{JSONField: "event_type"},
		Token:      &TokenRecipe{AllowBasic: true, IDField: "id"},
	},
	{
		Name: "azure-devops", DisplayName: "Azure DevOps service hooks (Web Hooks)", Scheme: SchemeToken,
		Docs:       "https://learn.microsoft.com/en-us/azure/devops/service-hooks/services/webhooks",
		Signature:  basicSignature,
		DeliveryID: DeliveryIDInfo{Source: "body id"},
		Key:        basicPassword,
		EventType:  EventTypeInfo{JSONField: "eventType"},
		Token:      &TokenRecipe{AllowBasic: true, IDField: "id"},
	},
	{
		Name: "pipedrive", DisplayName: "Pipedrive", Scheme: SchemeToken,
		Docs:      "https://pipedrive.readme.io/docs/guide-for-webhooks",
		Signature: basicSignature,
		Key:       basicPassword,
		// Webhooks v1 (updated.deal); v2 splits it over meta.action and
		// meta.entity and names none.
		EventType: EventTypeInfo{JSONField: "event"},
		Token:     basicRecipe,
	},
	{
		Name: "sparkpost", DisplayName: "SparkPost (Bird)", Scheme: SchemeToken,
		Docs:      "https://developers.sparkpost.com/api/webhooks/",
		Signature: basicSignature,
		Key:       basicPassword,
		// No event type: each request is a batch of events.
		Token: basicRecipe,
	},
	{
		Name: "datocms", DisplayName: "DatoCMS", Scheme: SchemeToken,
		Docs:      "https://www.datocms.com/docs/general-concepts/webhooks",
		Signature: basicSignature,
		Key:       basicPassword,
		// No event type: it is split over entity_type and event_type.
		Token: basicRecipe,
	},
}

// Senders that follow the Standard Webhooks specification.
var catalogStandardWebhooks = []ProviderInfo{
	{
		Name: "signatureapi", DisplayName: "SignatureAPI", Scheme: SchemeStandardWebhooks,
		Docs:       "https://signatureapi.com/docs/api/guides/how-to/verify-webhooks",
		Signature:  standardSignature,
		Timestamp:  TimestampInfo{Source: "header webhook-timestamp", DefaultWindow: fiveMinutes},
		DeliveryID: DeliveryIDInfo{Source: "header webhook-id", Signed: true},
		Key:        KeyInfo{Kind: KeySharedSecret, Format: KeyFormatWhsec},
		EventType:  EventTypeInfo{JSONField: "type"},
	},
	{
		Name: "make", DisplayName: "Make (event subscriptions)", Scheme: SchemeStandardWebhooks,
		Docs:       "https://developers.make.com/event-subscription/implementation/verify-signatures",
		Signature:  standardSignature,
		Timestamp:  TimestampInfo{Source: "header webhook-timestamp", DefaultWindow: fiveMinutes},
		DeliveryID: DeliveryIDInfo{Source: "header webhook-id", Signed: true},
		Key:        KeyInfo{Kind: KeySharedSecret, Format: KeyFormatWhsec},
		// No event type: Make documents no payload field for it.
	},
}

// Senders whose recipe needs one of the table's less common options: a
// base64-encoded key (HMACRecipe.KeyEncoding) or the URL in the signed
// content with a HEAD check of the URL (HandshakeHeadCheck).
var catalogSpecialKeys = []ProviderInfo{
	{
		Name: "teams-outgoing", DisplayName: "Microsoft Teams outgoing webhooks", Scheme: SchemeHMAC,
		Docs:       "https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/add-outgoing-webhook",
		Signature:  SignatureInfo{Headers: []string{"Authorization"}, Signed: "the body", Algorithm: "HMAC-SHA256 keyed with base64-decoded security token", Encoding: "HMAC <base64>"},
		DeliveryID: DeliveryIDInfo{Source: "body id", Signed: true},
		Key:        KeyInfo{Kind: KeySharedSecret, Format: KeyFormatBase64},
		// No event type: the activity's type is always message.
		HMAC: &HMACRecipe{Header: "Authorization", Prefix: "HMAC ", Algorithm: "sha256", Encoding: "base64", IDField: "id", KeyEncoding: "base64"},
	},
	{
		Name: "airtable", DisplayName: "Airtable webhooks", Scheme: SchemeHMAC,
		Docs:      "https://airtable.com/developers/web/api/webhooks-overview",
		Signature: SignatureInfo{Headers: []string{"X-Airtable-Content-MAC"}, Signed: "the body", Algorithm: "HMAC-SHA256 keyed with base64-decoded macSecretBase64", Encoding: "hmac-sha256=<hex>"},
		Key:       KeyInfo{Kind: KeySharedSecret, Format: KeyFormatBase64},
		// No event type: the notification only says the base changed.
		HMAC: &HMACRecipe{Header: "X-Airtable-Content-MAC", Prefix: "hmac-sha256=", Algorithm: "sha256", Encoding: "hex", KeyEncoding: "base64"},
	},
	{
		Name: "trello", DisplayName: "Trello", Scheme: SchemeHMAC,
		Docs:      "https://developer.atlassian.com/cloud/trello/guides/rest-api/webhooks/",
		Signature: SignatureInfo{Headers: []string{"X-Trello-Webhook"}, Signed: "body + callback URL", Algorithm: "HMAC-SHA1", Encoding: "base64"},
		Key:       rawSecret,
		Handshake: HandshakeInfo{Kind: HandshakeHeadCheck, Method: "HEAD"},
		EventType: EventTypeInfo{JSONField: "action.type"},
		HMAC:      &HMACRecipe{Header: "X-Trello-Webhook", Algorithm: "sha1", Encoding: "base64", SignedContent: "{body}{url}"},
	},
}
