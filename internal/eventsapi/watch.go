package eventsapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	eventsv1 "github.com/hookgate/hookgate/api/events/v1alpha1"
	hookv1 "github.com/hookgate/hookgate/api/v1alpha1"
)

// maxWatchedIDs bounds how many let-through event ids a filtered watch
// remembers to pass their attempts.
const maxWatchedIDs = 10000

func (s *Server) acquireWatch(user string) bool {
	limit := s.MaxWatchesPerUser
	if limit <= 0 {
		limit = DefaultMaxWatchesPerUser
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.watches == nil {
		s.watches = map[string]int{}
	}
	if s.watches[user] >= limit {
		return false
	}
	s.watches[user]++
	return true
}

func (s *Server) releaseWatch(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.watches[user]--; s.watches[user] <= 0 {
		delete(s.watches, user)
	}
}

// watchFilter passes the events that match q, and the attempts of the
// events it passed (every attempt when q selects everything).
type watchFilter struct {
	match func(*eventsv1.Event) bool
	all   bool
	ids   map[string]bool
	order []string
}

func newWatchFilter(q eventsv1.Query) *watchFilter {
	all := q.Outcome == "" && q.Since.IsZero() && q.Until.IsZero() && q.DeliveryID == "" && q.Type == "" && q.Text == ""
	return &watchFilter{match: q.Match(), all: all, ids: map[string]bool{}}
}

func (f *watchFilter) pass(we *eventsv1.WatchEvent) bool {
	if f.all {
		return true
	}
	switch {
	case we.Event != nil:
		if !f.match(we.Event) {
			return false
		}
		if !f.ids[we.Event.ID] {
			f.ids[we.Event.ID] = true
			f.order = append(f.order, we.Event.ID)
			if len(f.order) > maxWatchedIDs {
				delete(f.ids, f.order[0])
				f.order = f.order[1:]
			}
		}
		return true
	case we.Attempt != nil:
		return f.ids[we.Attempt.EventID]
	}
	return false
}

// watch streams the endpoint's new events and attempts as JSON lines, one
// flushed per line, until the client goes away or a write fails. The
// status line is sent at once, so the client knows the watch started.
func (s *Server) watch(req *request, obj *hookv1.WebhookEndpoint, q eventsv1.Query, withBodies bool) {
	user := req.user.Username
	if !s.acquireWatch(user) {
		writeError(req.w, apierrors.NewTooManyRequests(fmt.Sprintf("user %q has too many watches of the events API open; close one", user), 10))
		return
	}
	defer s.releaseWatch(user)

	ctx := req.r.Context()
	rc := http.NewResponseController(req.w)
	// A watch outlives any write deadline the server sets for requests.
	_ = rc.SetWriteDeadline(time.Time{})
	h := req.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	// Tell nginx-like proxies not to buffer the stream.
	h.Set("X-Accel-Buffering", "no")
	req.w.WriteHeader(http.StatusOK)
	if err := flush(rc); err != nil {
		return
	}

	var mu sync.Mutex
	clientGone := false // a write failed: the client went away
	f := newWatchFilter(q)
	err := s.History.Watch(ctx, string(obj.UID), withBodies, func(we eventsv1.WatchEvent) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		if !f.pass(&we) {
			return nil
		}
		if !withBodies {
			if we.Event != nil {
				ev := *we.Event
				ev.Hide()
				we.Event = &ev
			}
			if we.Attempt != nil {
				a := *we.Attempt
				a.Response = nil
				we.Attempt = &a
			}
		}
		b, err := json.Marshal(we)
		if err != nil {
			return err
		}
		_, err = req.w.Write(append(b, '\n'))
		if err == nil {
			err = flush(rc)
		}
		if err != nil {
			clientGone = true
		}
		return err
	})
	mu.Lock()
	gone := clientGone
	mu.Unlock()
	if err != nil && ctx.Err() == nil && !gone {
		// The status line is gone: all that is left is to end the stream
		// (the client sees it end and may watch again).
		s.Log.Error(err, "watching the history", "path", req.r.URL.Path, "user", user)
	}
}

func flush(rc *http.ResponseController) error {
	if err := rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return nil
}
