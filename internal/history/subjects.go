package history

import "strings"

// Stream is the JetStream stream that holds every endpoint's history.
const Stream = "HOOKGATE_HISTORY"

// Subjects of the stream: hookgate.history.<uid>.req.<id> for a request,
// hookgate.history.<uid>.att.<id>.<target> for an attempt.
const (
	subjectPrefix = "hookgate.history."
	reqToken      = "req"
	attToken      = "att"
)

// RequestSubject is the subject of the request record id of the endpoint
// with UID uid. Both must be subject tokens (no '.', '*', '>' or spaces):
// the Recorder and the Reader check them, a caller of this function
// alone must.
func RequestSubject(uid, id string) string {
	return subjectPrefix + uid + "." + reqToken + "." + id
}

// AttemptSubject is the subject of the attempt records of event id at
// target. The target's name is made a subject token: '.', '*', '>' and
// white space become '_', an empty name "_".
func AttemptSubject(uid, id, target string) string {
	return subjectPrefix + uid + "." + attToken + "." + id + "." + TargetToken(target)
}

// TargetToken is the subject token of a target's name, as AttemptSubject
// writes it. Names are DNS labels and come out unchanged.
func TargetToken(target string) string {
	if target == "" {
		return "_"
	}
	if validToken(target) {
		return target
	}
	b := []byte(target)
	for i, c := range b {
		if !tokenByte(c) {
			b[i] = '_'
		}
	}
	return string(b)
}

// requestFilter matches every request record of an endpoint.
func requestFilter(uid string) string { return subjectPrefix + uid + "." + reqToken + ".*" }

// attemptFilter matches every attempt record of an endpoint.
func attemptFilter(uid string) string { return subjectPrefix + uid + "." + attToken + ".*.*" }

// eventAttemptsFilter matches the attempt records of one event, at every target.
func eventAttemptsFilter(uid, id string) string {
	return subjectPrefix + uid + "." + attToken + "." + id + ".*"
}

// endpointFilter matches everything of an endpoint.
func endpointFilter(uid string) string { return subjectPrefix + uid + ".>" }

// validToken reports whether s can be one subject token without widening
// a filter: not empty, and no '.', '*', '>' or white space.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenByte(s[i]) {
			return false
		}
	}
	return true
}

func tokenByte(c byte) bool {
	switch c {
	case '.', '*', '>', ' ', '\t', '\n', '\r', '\f', '\v', 0:
		return false
	}
	return c > 0x20 && c != 0x7f
}

// kind of a record.
type kind int

const (
	kindRequest kind = iota
	kindAttempt
	kinds
)

func (k kind) String() string {
	if k == kindAttempt {
		return "attempt"
	}
	return "request"
}

// kindOf returns the kind of the record on subject and whether it is one
// of ours.
func kindOf(subject string) (kind, bool) {
	rest, ok := strings.CutPrefix(subject, subjectPrefix)
	if !ok {
		return 0, false
	}
	i := strings.IndexByte(rest, '.')
	if i < 0 {
		return 0, false
	}
	rest = rest[i+1:]
	switch {
	case strings.HasPrefix(rest, reqToken+"."):
		return kindRequest, true
	case strings.HasPrefix(rest, attToken+"."):
		return kindAttempt, true
	}
	return 0, false
}

// attemptTokens returns the event id and target token of an attempt subject.
func attemptTokens(subject string) (id, target string, ok bool) {
	rest, ok := strings.CutPrefix(subject, subjectPrefix)
	if !ok {
		return "", "", false
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 4 || parts[1] != attToken {
		return "", "", false
	}
	return parts[2], parts[3], true
}
