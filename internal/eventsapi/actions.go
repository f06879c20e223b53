package eventsapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
	"github.com/hookgate/hookgate/internal/queue"
)

// notDeadLettered is a retried id's message when it has no dead letter.
const notDeadLettered = "no dead letter with this id: it was delivered, is still being retried, or expired"

func (s *Server) bodyError(req *request, err error) {
	if errors.Is(err, errTooLarge) {
		writeError(req.w, apierrors.NewRequestEntityTooLargeError(err.Error()))
		return
	}
	badRequest(req.w, "%v", err)
}

// copiesPerEvent is how many dead letters one event may have under keys:
// one per queue it was delivered from (the endpoint's own, or each
// target's); an event goes to one partition of a target, never several.
func copiesPerEvent(keys []string) int {
	bases := map[string]bool{}
	for _, k := range keys {
		b, _, _ := queue.SplitPartition(k)
		bases[b] = true
	}
	return max(1, len(bases))
}

func dedupe(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// recording wraps match so that each dead letter it chooses is logged in
// the history as retried by the user, once per event, just before it is
// moved (ReplayMatching moves what match chooses at once): recorded
// after the move, the record could land behind the attempt that then
// delivers it, and the event's status would read Pending. A move that
// fails after its record leaves one Retried too many in the event's
// history, and the caller is answered 500.
func (s *Server) recording(req *request, obj *hookv1.WebhookEndpoint, dryRun bool, match func(*DeadLetter) bool) func(*DeadLetter) bool {
	if s.Actions == nil || dryRun {
		return match
	}
	recorded := map[string]bool{}
	return func(dl *DeadLetter) bool {
		if !match(dl) {
			return false
		}
		if !recorded[dl.EventID] {
			recorded[dl.EventID] = true
			s.Actions.Retried(obj, &eventsv1.Attempt{EventID: dl.EventID, Time: s.now(), Outcome: eventsv1.AttemptRetried, By: req.user.Username})
		}
		return true
	}
}

func (s *Server) retry(req *request) {
	if !s.authorize(req, eventsv1.SubresourceReplay, "create") {
		return
	}
	var rr eventsv1.RetryRequest
	if err := decodeBody(req.w, req.r, &rr, "RetryRequest"); err != nil {
		s.bodyError(req, err)
		return
	}
	switch {
	case len(rr.IDs) == 0:
		badRequest(req.w, "ids: give at least one event id")
		return
	case len(rr.IDs) > eventsv1.MaxRetryIDs:
		badRequest(req.w, "ids: %d ids, at most %d per retry", len(rr.IDs), eventsv1.MaxRetryIDs)
		return
	}
	for i, id := range rr.IDs {
		if err := checkRetryID(id); err != nil {
			badRequest(req.w, "ids[%d]: %v", i, err)
			return
		}
	}
	ids := dedupe(rr.IDs)
	obj := s.endpoint(req)
	if obj == nil {
		return
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	keys := queue.EndpointKeys(obj)
	moved, err := s.DeadLetters.ReplayMatching(req.r.Context(), keys,
		s.recording(req, obj, false, func(dl *DeadLetter) bool { return want[dl.EventID] }),
		false, len(ids)*copiesPerEvent(keys), false)
	done := map[string]bool{}
	var movedIDs []string
	for _, id := range dedupe(moved) {
		if want[id] {
			done[id] = true
			movedIDs = append(movedIDs, id)
		}
	}
	if err != nil {
		s.internalError(req, fmt.Sprintf("moving dead letters back into the queue (%d moved)", len(movedIDs)), err)
		return
	}
	res := eventsv1.ActionResult{Items: make([]eventsv1.ActionItem, 0, len(ids)), Retried: len(movedIDs)}
	for _, id := range ids {
		if done[id] {
			res.Items = append(res.Items, eventsv1.ActionItem{ID: id, Result: eventsv1.ActionRetried})
		} else {
			res.Items = append(res.Items, eventsv1.ActionItem{ID: id, Result: eventsv1.ActionNotFound, Message: notDeadLettered})
		}
	}
	writeJSON(req.w, http.StatusOK, res)
}

func (s *Server) replay(req *request) {
	if !s.authorize(req, eventsv1.SubresourceReplay, "create") {
		return
	}
	var rr eventsv1.ReplayRequest
	if err := decodeBody(req.w, req.r, &rr, "ReplayRequest"); err != nil {
		s.bodyError(req, err)
		return
	}
	limit := rr.Limit
	switch {
	case limit < 0 || limit > eventsv1.MaxRetryIDs:
		badRequest(req.w, "limit: %d is out of range: want 1 to %d (0 or unset: %d)", limit, eventsv1.MaxRetryIDs, eventsv1.MaxRetryIDs)
		return
	case limit == 0:
		limit = eventsv1.MaxRetryIDs
	}
	if rr.Since != nil && rr.Until != nil && !rr.Since.Before(*rr.Until) {
		badRequest(req.w, "since must be before until")
		return
	}
	if _, err := text("type", rr.Type, hookv1.MaxEventTypeLength); err != nil {
		badRequest(req.w, "%v", err)
		return
	}
	if _, err := text("text", rr.Text, maxTextBytes); err != nil {
		badRequest(req.w, "%v", err)
		return
	}
	if rr.Text != "" {
		if _, ok := s.mayReadBodies(req, rr.Text); !ok {
			return
		}
	}
	obj := s.endpoint(req)
	if obj == nil {
		return
	}
	typeOf, typeNeedsBody, err := s.eventTyper(req.r.Context(), obj)
	if err != nil {
		s.internalError(req, "reading the endpoint's WebhookProvider", err)
		return
	}
	lowerText := strings.ToLower(rr.Text)
	match := func(dl *DeadLetter) bool {
		if rr.Since != nil && dl.ReceivedAt.Before(*rr.Since) {
			return false
		}
		if rr.Until != nil && !dl.ReceivedAt.Before(*rr.Until) {
			return false
		}
		if rr.Type != "" && typeOf(dl) != rr.Type {
			return false
		}
		return len(lowerText) == 0 || eventsv1.ContainsText(dl.Header, dl.Body, lowerText)
	}
	withBodies := rr.Text != "" || (rr.Type != "" && typeNeedsBody)
	found, err := s.DeadLetters.ReplayMatching(req.r.Context(), queue.EndpointKeys(obj), s.recording(req, obj, rr.DryRun, match), withBodies, limit, rr.DryRun)
	ids := dedupe(found)
	if err != nil {
		s.internalError(req, fmt.Sprintf("moving dead letters back into the queue (%d moved)", len(ids)), err)
		return
	}
	res := eventsv1.ActionResult{Items: make([]eventsv1.ActionItem, 0, len(ids))}
	outcome := eventsv1.ActionRetried
	if rr.DryRun {
		outcome = eventsv1.ActionWouldRetry
	} else {
		res.Retried = len(ids)
	}
	for _, id := range ids {
		res.Items = append(res.Items, eventsv1.ActionItem{ID: id, Result: outcome})
	}
	writeJSON(req.w, http.StatusOK, res)
}

// eventTyper returns how to tell a dead letter's event type, as the
// receiver tells it (ProviderInfo.EventTypeOf: the provider's own name
// when the request names none), and whether that reads the body for the
// endpoint's provider. A dead letter names its provider; for the endpoint's
// WebhookProvider (spec.providerRef) the entry is the WebhookProvider's,
// else the built-in table's.
func (s *Server) eventTyper(ctx context.Context, obj *hookv1.WebhookEndpoint) (func(*DeadLetter) string, bool, error) {
	current := hookv1.ProviderInfo{Name: obj.Spec.Provider}
	if ref := obj.Spec.ProviderRef; ref != nil {
		current = hookv1.ProviderInfo{Name: hookv1.Provider(ref.Name)}
		var p hookv1.WebhookProvider
		err := s.Endpoints.Get(ctx, types.NamespacedName{Name: ref.Name}, &p)
		switch {
		case err == nil:
			current = p.Spec.ProviderInfo(ref.Name)
		case !apierrors.IsNotFound(err):
			return nil, false, err
		}
	} else if info, ok := hookv1.LookupProvider(obj.Spec.Provider); ok {
		current = info
	}
	infoOf := func(name string) hookv1.ProviderInfo {
		if name == "" || name == string(current.Name) {
			return current
		}
		if info, ok := hookv1.LookupProvider(hookv1.Provider(name)); ok {
			return info
		}
		// A provider the endpoint no longer uses, and not built in: the
		// type is its name, as the receiver would have had it without
		// the entry.
		return hookv1.ProviderInfo{Name: hookv1.Provider(name)}
	}
	typeOf := func(dl *DeadLetter) string {
		return infoOf(dl.Provider).EventTypeOf(canonicalHeader(dl.Header), dl.Body)
	}
	return typeOf, current.EventType.JSONField != "" || current.EventType.FormField != "", nil
}

// canonicalHeader is h with canonical names, as http.Header.Get expects
// them; stored headers keep the names they arrived with.
func canonicalHeader(h map[string][]string) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		ck := textproto.CanonicalMIMEHeaderKey(k)
		out[ck] = append(out[ck], vs...)
	}
	return out
}
