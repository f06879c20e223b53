package filter

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"
)

// ErrCostLimitExceeded is returned (wrapped) when an evaluation spends more
// than RuntimeCostLimit.
var ErrCostLimitExceeded = errors.New("expression exceeded its runtime cost limit")

// Filter is a compiled filter expression. It is immutable and safe for
// concurrent use.
type Filter struct {
	expr string
	prg  cel.Program
	cost uint64
}

// Key is a compiled key expression. It is immutable and safe for concurrent
// use.
type Key struct {
	expr string
	prg  cel.Program
	cost uint64
}

// CompileFilter parses, type-checks and cost-checks a filter expression. The
// expression must yield a bool; a dyn result (e.g. `event.body.merged`) is
// accepted and checked when evaluated. The error, if any, is meant for a
// person: it names the expression's problem and, for syntax and type errors,
// points at the column.
func CompileFilter(expr string) (*Filter, error) {
	prg, cost, err := compile(expr, "filter", types.BoolType)
	if err != nil {
		return nil, err
	}
	return &Filter{expr: expr, prg: prg, cost: cost}, nil
}

// CompileKey parses, type-checks and cost-checks a key expression. The
// expression must yield a string, an int or a uint (ints are formatted in
// base 10); a dyn result (e.g. `event.body.issue.id`) is accepted and its
// type checked when evaluated.
func CompileKey(expr string) (*Key, error) {
	prg, cost, err := compile(expr, "key", types.StringType, types.IntType, types.UintType)
	if err != nil {
		return nil, err
	}
	return &Key{expr: expr, prg: prg, cost: cost}, nil
}

// String returns the source expression.
func (f *Filter) String() string { return f.expr }

// EstimatedCost returns the worst-case cost the checker estimated.
func (f *Filter) EstimatedCost() uint64 { return f.cost }

// Match reports whether ev passes the filter. An error means the filter could
// not decide (a missing field in the body, a non-bool result, the cost limit):
// the caller chooses what that means, typically "not matched" plus a metric.
func (f *Filter) Match(ev *Event) (bool, error) {
	return f.MatchContext(context.Background(), ev)
}

// MatchContext is Match that also stops, with the context's error, when ctx
// is done.
func (f *Filter) MatchContext(ctx context.Context, ev *Event) (bool, error) {
	out, _, err := f.prg.Eval(ev.activation(ctx))
	return matchResult(out, evalError(ctx, err))
}

func matchResult(out ref.Val, err error) (bool, error) {
	if err != nil {
		return false, fmt.Errorf("evaluating filter: %w", err)
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("evaluating filter: got %s, want bool", out.Type().TypeName())
	}
	return bool(b), nil
}

// String returns the source expression.
func (k *Key) String() string { return k.expr }

// EstimatedCost returns the worst-case cost the checker estimated.
func (k *Key) EstimatedCost() uint64 { return k.cost }

// Of returns ev's key. An empty string is a valid key; whether it means
// "no key" is the caller's choice.
func (k *Key) Of(ev *Event) (string, error) {
	return k.OfContext(context.Background(), ev)
}

// OfContext is Of that also stops, with the context's error, when ctx is
// done.
func (k *Key) OfContext(ctx context.Context, ev *Event) (string, error) {
	out, _, err := k.prg.Eval(ev.activation(ctx))
	return keyResult(out, evalError(ctx, err))
}

func keyResult(out ref.Val, err error) (string, error) {
	if err != nil {
		return "", fmt.Errorf("evaluating key: %w", err)
	}
	switch v := out.(type) {
	case types.String:
		return string(v), nil
	case types.Int:
		return strconv.FormatInt(int64(v), 10), nil
	case types.Uint:
		return strconv.FormatUint(uint64(v), 10), nil
	}
	return "", fmt.Errorf("evaluating key: got %s, want string, int or uint", out.Type().TypeName())
}

func compile(expr, kind string, want ...*types.Type) (cel.Program, uint64, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, 0, fmt.Errorf("%s expression is empty", kind)
	}
	if n := utf8.RuneCountInString(expr); n > MaxExpressionLength {
		return nil, 0, fmt.Errorf("%s expression is %d characters long, at most %d are allowed", kind, n, MaxExpressionLength)
	}
	e, err := env()
	if err != nil {
		return nil, 0, fmt.Errorf("building the CEL environment: %w", err)
	}
	ast, iss := e.Compile(expr)
	if iss.Err() != nil {
		return nil, 0, fmt.Errorf("invalid %s expression: %w", kind, iss.Err())
	}
	if err := rejectConstruction(ast); err != nil {
		return nil, 0, fmt.Errorf("invalid %s expression: %w", kind, err)
	}
	if out := ast.OutputType(); !acceptable(out, want) {
		return nil, 0, fmt.Errorf("%s expression must yield %s, not %s", kind, typeList(want), cel.FormatCELType(out))
	}
	est, err := e.EstimateCost(ast, estimator{})
	if err != nil {
		return nil, 0, fmt.Errorf("estimating the cost of the %s expression: %w", kind, err)
	}
	if est.Max > MaxEstimatedCost {
		return nil, 0, fmt.Errorf("%s expression is too expensive: its worst case costs %s, at most %d is allowed; "+
			"nested loops over the body and scanning each element of a body list are the usual causes",
			kind, costString(est.Max), MaxEstimatedCost)
	}
	prg, err := e.Program(ast,
		cel.CustomDecorator(meterDecorator),
		// Makes folds ask the activation "#interrupted" once per iteration
		// (see meter.go); the activation checks the context every
		// InterruptCheckFrequency iterations itself.
		cel.InterruptCheckFrequency(InterruptCheckFrequency),
		cel.EvalOptions(cel.OptOptimize),
	)
	if err != nil {
		return nil, 0, fmt.Errorf("planning the %s expression: %w", kind, err)
	}
	return prg, est.Max, nil
}

// rejectConstruction refuses `hookgate.Event{...}`: the type exists so that
// field names are checked, but an event is only ever the input.
func rejectConstruction(a *cel.Ast) error {
	for _, e := range celast.MatchDescendants(celast.NavigateAST(a.NativeRep()), celast.KindMatcher(celast.StructKind)) {
		if e.AsStruct().TypeName() == eventTypeName {
			return fmt.Errorf("%s cannot be constructed in an expression", eventTypeName)
		}
	}
	return nil
}

func acceptable(out *types.Type, want []*types.Type) bool {
	if out.Kind() == types.DynKind {
		return true
	}
	for _, w := range want {
		if out.IsExactType(w) {
			return true
		}
	}
	return false
}

func typeList(ts []*types.Type) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = cel.FormatCELType(t)
	}
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func costString(c uint64) string {
	if c >= 1<<60 { // CEL's "unknown", scaled by some cost factor
		return "an unbounded amount"
	}
	return strconv.FormatUint(c, 10)
}

// evalError turns the metering's cancellation (see meter.go) into
// ErrCostLimitExceeded or the context's error.
func evalError(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var cancelled interpreter.EvalCancelledError
	if errors.As(err, &cancelled) {
		switch cancelled.Cause {
		case interpreter.CostLimitExceeded:
			return fmt.Errorf("%w (%d)", ErrCostLimitExceeded, RuntimeCostLimit)
		case interpreter.ContextCancelled:
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	return err
}
