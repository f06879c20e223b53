package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Edge mode: a receiver outside the private cluster connects to a small
// nats-server without JetStream, to which the private cluster's JetStream
// connects outbound as a leaf node. The receiver then reaches the layout
// through the JetStream API of the private cluster's domain
// ($JS.<domain>.API), which the leaf link carries; event, counter and KV
// subjects cross it as they are.

// AttachDomain opens the layout the private cluster's receivers created,
// through the JetStream API of domain, without creating or changing
// anything: an edge receiver must never make the layout (it would make it
// on the wrong side, or fight the private side over its settings). It
// fails while the layout is missing or the leaf link is down; use
// WaitForLayout to wait for it.
func AttachDomain(ctx context.Context, nc *nats.Conn, domain string, opts Options) (*Queue, error) {
	js, err := DomainJetStream(nc, domain)
	if err != nil {
		return nil, err
	}
	if _, err := js.Stream(ctx, EventsStream); err != nil {
		return nil, fmt.Errorf("opening stream %s in JetStream domain %q (is the leaf link up, has a receiver of the private cluster started?): %w", EventsStream, domain, err)
	}
	q, err := attach(ctx, nc, js, opts, fmt.Sprintf(" in JetStream domain %q", domain))
	if err != nil {
		return nil, err
	}
	return q, nil
}

// WaitForLayout retries open every second until it succeeds or ctx ends,
// logging nothing: the caller says why it waits.
func WaitForLayout[T any](ctx context.Context, open func(context.Context) (T, error)) (T, error) {
	for {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		v, err := open(actx)
		cancel()
		if err == nil {
			return v, nil
		}
		select {
		case <-ctx.Done():
			return v, fmt.Errorf("waiting for the JetStream layout: %w", err)
		case <-time.After(time.Second):
		}
	}
}

// DomainJetStream is a JetStream context for the API of domain. A publish
// straight to a KV subject ($KV.<bucket>.<key>, e.g. to set a per-message
// TTL that KeyValue.Put cannot) is sent through the domain's API prefix,
// as nats.go's own KV does: a leaf link between different JetStream
// domains denies $KV.> and maps $JS.<domain>.API.$KV.> onto it.
func DomainJetStream(nc *nats.Conn, domain string) (jetstream.JetStream, error) {
	if domain == "" {
		return nil, errors.New("a JetStream domain is required")
	}
	js, err := jetstream.NewWithDomain(nc, domain)
	if err != nil {
		return nil, fmt.Errorf("creating JetStream context for domain %q: %w", domain, err)
	}
	return &domainJS{JetStream: js, kvPrefix: "$JS." + domain + ".API."}, nil
}

type domainJS struct {
	jetstream.JetStream
	kvPrefix string
}

func (d *domainJS) subject(s string) string {
	if strings.HasPrefix(s, "$KV.") {
		return d.kvPrefix + s
	}
	return s
}

func (d *domainJS) msg(m *nats.Msg) *nats.Msg {
	if !strings.HasPrefix(m.Subject, "$KV.") {
		return m
	}
	c := *m
	c.Subject = d.subject(m.Subject)
	return &c
}

func (d *domainJS) Publish(ctx context.Context, subj string, data []byte, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	return d.JetStream.Publish(ctx, d.subject(subj), data, opts...)
}

func (d *domainJS) PublishMsg(ctx context.Context, m *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	return d.JetStream.PublishMsg(ctx, d.msg(m), opts...)
}

func (d *domainJS) PublishAsync(subj string, data []byte, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	return d.JetStream.PublishAsync(d.subject(subj), data, opts...)
}

func (d *domainJS) PublishMsgAsync(m *nats.Msg, opts ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	return d.JetStream.PublishMsgAsync(d.msg(m), opts...)
}
