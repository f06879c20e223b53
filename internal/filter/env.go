package filter

import (
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
)

// Limits shared by the API (CRD markers, the admission webhook) and the
// dispatcher. Costs are in CEL cost units: roughly one per simple operation
// (50-100ns), plus one per 10 bytes of a string scanned or per element of a
// list or map.
const (
	// MaxExpressionLength is the longest accepted expression, in characters
	// (Unicode code points, as OpenAPI maxLength counts them).
	MaxExpressionLength = 4096

	// MaxEstimatedCost bounds the worst-case cost that the checker estimates
	// from the size hints below; an expression over it is rejected when it is
	// compiled, so at admission. The estimate is pessimistic (every list in
	// the body as long as the body, every string in it as long as the body),
	// so the bound is set to admit one pass over a body list with a bounded
	// amount of work per element, and to reject what is quadratic in the
	// body: nested loops, or a substring search in each element of a list.
	// RuntimeCostLimit is the hard bound on what an admitted expression does.
	MaxEstimatedCost = 100_000_000

	// RuntimeCostLimit bounds the cost actually spent on one evaluation,
	// metered as meter.go says; evaluation stops with ErrCostLimitExceeded
	// past it. It is Kubernetes' per-call limit: tens of milliseconds of CPU
	// (about 120,000 iterations of a cheap loop).
	RuntimeCostLimit = 1_000_000

	// InterruptCheckFrequency is how many comprehension iterations run between
	// two checks of the context passed to MatchContext or OfContext.
	InterruptCheckFrequency = 100
)

// Size hints for the cost estimate: the largest value each variable can hold
// with a receiver at its defaults.
const (
	// BodySizeHint is the largest body, and so the largest string, list or map
	// inside it (the receiver's default maxBodyBytes). Endpoints that raise
	// maxBodyBytes are still bounded by RuntimeCostLimit.
	BodySizeHint = 1 << 20

	// HeaderBytesHint is the receiver's MaxHeaderBytes: the longest header
	// name or value.
	HeaderBytesHint = 64 << 10

	// HeaderCountHint is the most distinct headers that fit in
	// HeaderBytesHint ("a:\r\n" is 4 bytes).
	HeaderCountHint = HeaderBytesHint / 4

	// providerSizeHint is a provider name's longest length (a DNS label).
	providerSizeHint = 63

	// endpointSizeHint is "namespace/name": 63 + 1 + 253.
	endpointSizeHint = 317
)

// eventTypeName is the CEL type of the `event` variable. Users never write it,
// but it shows in type errors.
const eventTypeName = "hookgate.Event"

// Field names of `event`, as written in expressions.
const (
	fieldProvider   = "provider"
	fieldType       = "type"
	fieldEndpoint   = "endpoint"
	fieldDeliveryID = "deliveryID"
	fieldHeaders    = "headers"
	fieldBody       = "body"
	fieldRawBody    = "rawBody"
	fieldReceivedAt = "receivedAt"
)

// varEvent is the one variable expressions see.
const varEvent = "event"

var eventType = types.NewObjectType(eventTypeName)

// eventField describes one field of `event`: its CEL type, how it is read
// from an *Event, whether has() sees it set, and its size hint.
type eventField struct {
	typ  *types.Type
	get  func(*Event) any
	set  func(*Event) bool
	size uint64 // 0: let CEL derive it from the type
}

var eventFields = map[string]eventField{
	fieldProvider: {
		typ:  types.StringType,
		get:  func(ev *Event) any { return types.String(ev.Provider) },
		set:  func(ev *Event) bool { return ev.Provider != "" },
		size: providerSizeHint,
	},
	fieldType: {
		typ:  types.StringType,
		get:  func(ev *Event) any { return types.String(ev.Type) },
		set:  func(ev *Event) bool { return ev.Type != "" },
		size: BodySizeHint, // may come from the body
	},
	fieldEndpoint: {
		typ:  types.StringType,
		get:  func(ev *Event) any { return types.String(ev.Endpoint) },
		set:  func(ev *Event) bool { return ev.Endpoint != "" },
		size: endpointSizeHint,
	},
	fieldDeliveryID: {
		typ:  types.StringType,
		get:  func(ev *Event) any { return types.String(ev.DeliveryID) },
		set:  func(ev *Event) bool { return ev.DeliveryID != "" },
		size: BodySizeHint, // may come from the body
	},
	fieldHeaders: {
		typ:  types.NewMapType(types.StringType, types.StringType),
		get:  func(ev *Event) any { return ev.headers() },
		set:  func(ev *Event) bool { return len(ev.Header) > 0 },
		size: HeaderCountHint,
	},
	fieldBody: {
		typ:  types.DynType,
		get:  func(ev *Event) any { return ev.body() },
		set:  func(ev *Event) bool { return ev.body() != nil },
		size: BodySizeHint,
	},
	fieldRawBody: {
		typ:  types.StringType,
		get:  func(ev *Event) any { return types.String(ev.rawBody()) },
		set:  func(ev *Event) bool { return len(ev.Body) > 0 },
		size: BodySizeHint,
	},
	fieldReceivedAt: {
		typ:  types.TimestampType,
		get:  func(ev *Event) any { return types.Timestamp{Time: ev.ReceivedAt} },
		set:  func(ev *Event) bool { return !ev.ReceivedAt.IsZero() },
		size: 0,
	},
}

// fieldTypes is eventFields in the form the checker and the planner want,
// built once so a field lookup does not allocate.
var fieldTypes, fieldNames = func() (map[string]*types.FieldType, []string) {
	fts := make(map[string]*types.FieldType, len(eventFields))
	names := make([]string, 0, len(eventFields))
	for name, f := range eventFields {
		f := f
		fts[name] = &types.FieldType{
			Type: f.typ,
			IsSet: func(target any) bool {
				ev, ok := target.(*Event)
				return ok && f.set(ev)
			},
			GetFrom: func(target any) (any, error) {
				ev, ok := target.(*Event)
				if !ok {
					return nil, errNotEvent(target)
				}
				return f.get(ev), nil
			},
		}
		names = append(names, name)
	}
	return fts, names
}()

// provider adds hookgate.Event to CEL's standard types. The planner reads
// fields through FieldType.GetFrom, so only the fields an expression names
// are ever computed (the body is decoded on its first use).
type provider struct {
	*types.Registry
}

func (p provider) FindStructType(name string) (*types.Type, bool) {
	if name == eventTypeName {
		return types.NewTypeTypeWithParam(eventType), true
	}
	return p.Registry.FindStructType(name)
}

func (p provider) FindIdent(name string) (ref.Val, bool) {
	if name == eventTypeName {
		return eventType, true
	}
	return p.Registry.FindIdent(name)
}

func (p provider) FindStructFieldNames(name string) ([]string, bool) {
	if name == eventTypeName {
		return fieldNames, true
	}
	return p.Registry.FindStructFieldNames(name)
}

func (p provider) FindStructFieldType(name, field string) (*types.FieldType, bool) {
	if name == eventTypeName {
		ft, ok := fieldTypes[field]
		return ft, ok
	}
	return p.Registry.FindStructFieldType(name, field)
}

func (p provider) NewValue(name string, fields map[string]ref.Val) ref.Val {
	if name == eventTypeName {
		return types.NewErr("%s cannot be constructed in an expression", eventTypeName)
	}
	return p.Registry.NewValue(name, fields)
}

// estimator gives the checker an upper bound for the size of every value
// reachable from `event`. Without it, anything under the dyn body has an
// unknown size and any comprehension over it an unbounded cost.
type estimator struct{}

func (estimator) EstimateSize(n checker.AstNode) *checker.SizeEstimate {
	if n.Type().Kind() == types.TypeKind {
		// A type value, as in type(x) == int. CEL leaves its size unknown,
		// which makes any comparison with it unbounded.
		return &checker.SizeEstimate{Min: 1, Max: 1}
	}
	path := n.Path()
	if len(path) == 0 || path[0] != varEvent {
		return nil
	}
	if len(path) == 1 {
		// `event` itself, e.g. in type(event): one opaque value.
		return &checker.SizeEstimate{Min: 1, Max: 1}
	}
	f, ok := eventFields[path[1]]
	if !ok {
		return nil
	}
	size := f.size
	if path[1] == fieldHeaders && len(path) > 2 {
		// A header name or value, not the map.
		size = HeaderBytesHint
	}
	if size == 0 {
		return nil
	}
	// Everything inside the body is as large as the body at most.
	return &checker.SizeEstimate{Min: 0, Max: size}
}

func (estimator) EstimateCallCost(function, overloadID string, target *checker.AstNode, args []checker.AstNode) *checker.CallEstimate {
	return nil
}

var (
	envOnce sync.Once
	envVal  *cel.Env
	envErr  error
)

// env returns the one CEL environment, built on first use. It is immutable
// and safe for concurrent use.
func env() (*cel.Env, error) {
	envOnce.Do(func() {
		reg, err := types.NewRegistry()
		if err != nil {
			envErr = err
			return
		}
		envVal, envErr = cel.NewEnv(
			cel.CustomTypeAdapter(reg),
			cel.CustomTypeProvider(provider{reg}),
			cel.VariableWithDoc(varEvent, eventType, "The webhook event being filtered."),
			// `event.body.?a.?b.orValue("")` reads optional fields in the body.
			cel.OptionalTypes(),
			// `event.body.count > 2` works whether the JSON held 3 or 3.0.
			cel.CrossTypeNumericComparisons(true),
			cel.DefaultUTCTimeZone(true),
			cel.ParserExpressionSizeLimit(MaxExpressionLength*4), // bytes; the rune count is checked first
		)
	})
	return envVal, envErr
}
