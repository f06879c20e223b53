package filter

import (
	"context"

	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"github.com/google/cel-go/interpreter"
	"github.com/google/cel-go/parser"
)

// Runtime cost metering.
//
// cel.CostLimit is not used: cel-go's CostTracker (v0.26 to v0.31) keeps a
// stack that grows with every comprehension iteration and is searched
// linearly, so a loop over n elements costs O(n²) time: 2048 iterations of
// `l.all(x, x == 0)` take about 50ms instead of 0.1ms. Instead a decorator
// charges every variable or field read, and the activation charges every
// comprehension iteration (cel's interruptible folds ask it "#interrupted"
// once per iteration). Both are O(1), so metering stays linear.
//
// The units approximate CEL's: 1 per read, plus 1 per 10 bytes of a string or
// bytes value read and 1 per element of a list or map read; iterationCost per
// iteration. Calls are not charged: per evaluation, or per iteration, their
// number is bounded by the expression's length, and the cost of the big
// operands they scan was charged when those were read.
const iterationCost = 3

// interruptName is the variable cel's interruptible folds resolve once per
// iteration.
const interruptName = "#interrupted"

type activation struct {
	ev   *Event
	ctx  context.Context
	done <-chan struct{} // ctx.Done(), nil for context.Background()

	spent      uint64
	iterations uint
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case varEvent:
		return eventVal{a.ev}, true
	case interruptName:
		a.charge(iterationCost)
		a.iterations++
		if a.done != nil && a.iterations%InterruptCheckFrequency == 0 {
			select {
			case <-a.done:
				panic(interpreter.EvalCancelledError{Cause: interpreter.ContextCancelled, Message: a.ctx.Err().Error()})
			default:
			}
		}
		return false, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

// charge adds c to the evaluation's cost and stops it past RuntimeCostLimit.
// The panic is how cel's own tracker stops an evaluation: Program.Eval
// recovers it and returns it as the error.
func (a *activation) charge(c uint64) {
	a.spent += c
	if a.spent > RuntimeCostLimit {
		panic(interpreter.EvalCancelledError{Cause: interpreter.CostLimitExceeded, Message: ErrCostLimitExceeded.Error()})
	}
}

// meterDecorator wraps every attribute (a variable with its field and index
// selections) so that reading it is charged.
func meterDecorator(i interpreter.Interpretable) (interpreter.Interpretable, error) {
	attr, ok := i.(interpreter.InterpretableAttribute)
	if !ok {
		return i, nil
	}
	if _, done := attr.(*meteredAttr); done {
		return i, nil
	}
	if isAccumulator(attr.Attr()) {
		// The fold's own accumulator: charged per iteration already, and
		// charging map()'s growing result list at each read would be
		// quadratic.
		return i, nil
	}
	return &meteredAttr{InterpretableAttribute: attr}, nil
}

func isAccumulator(a interpreter.Attribute) bool {
	na, ok := a.(interpreter.NamespacedAttribute)
	if !ok {
		return false
	}
	for _, n := range na.CandidateVariableNames() {
		if n == parser.AccumulatorName || n == parser.HiddenAccumulatorName {
			return true
		}
	}
	return false
}

// meteredAttr charges each evaluation of its attribute. Like cel's own
// observing wrapper, it proxies InterpretableAttribute so the planner can
// still add qualifiers to it.
type meteredAttr struct {
	interpreter.InterpretableAttribute
}

func (m *meteredAttr) AddQualifier(q interpreter.Qualifier) (interpreter.Attribute, error) {
	_, err := m.InterpretableAttribute.AddQualifier(q)
	return m, err
}

func (m *meteredAttr) Eval(vars interpreter.Activation) ref.Val {
	v := m.InterpretableAttribute.Eval(vars)
	if a := rootActivation(vars); a != nil {
		a.charge(1 + valueCost(v))
	}
	return v
}

// rootActivation finds the evaluation's activation below the folds' own.
func rootActivation(vars interpreter.Activation) *activation {
	for ; vars != nil; vars = vars.Parent() {
		if a, ok := vars.(*activation); ok {
			return a
		}
	}
	return nil
}

// valueCost is what reading v costs beyond the read itself; O(1).
func valueCost(v ref.Val) uint64 {
	switch v := v.(type) {
	case types.String:
		return uint64(len(v)) / 10
	case types.Bytes:
		return uint64(len(v)) / 10
	case *types.Optional:
		if v.HasValue() {
			return valueCost(v.GetValue())
		}
	case traits.Lister, traits.Mapper:
		if n, ok := v.(traits.Sizer).Size().(types.Int); ok && n > 0 {
			return uint64(n)
		}
	}
	return 0
}
