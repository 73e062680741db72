package blocksparse

import (
	"fmt"
	"math"
	"testing"
)

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// binaryRef is (z, dz/dx, dz/dy) in float64.
func binaryRef(op BinaryOp, x, y float64) (float64, float64, float64) {
	switch op {
	case BinaryAdd:
		return x + y, 1, 1
	case BinarySubtract:
		return x - y, 1, -1
	case BinaryMultiply:
		return x * y, y, x
	case BinaryDivide:
		return x / y, 1 / y, -x / (y * y)
	case BinaryMaximum:
		return math.Max(x, y), b2f(x >= y), b2f(x < y)
	}
	return math.Min(x, y), b2f(x <= y), b2f(x > y)
}

func TestEwBinaryAndGradFullAndBroadcast(t *testing.T) {
	rng := newRand(t)
	rows, cols := 5, 7
	for _, op := range []BinaryOp{BinaryAdd, BinarySubtract, BinaryMultiply, BinaryDivide, BinaryMaximum, BinaryMinimum} {
		for _, vector := range []bool{false, true} {
			ny := rows * cols
			if vector {
				ny = cols
			}
			x, y, dz := awayFromZero(rng, rows*cols, true), awayFromZero(rng, ny, true), uniform(rng, rows*cols)
			z, dx, dy := poisoned(len(x)), poisoned(len(x)), poisoned(ny)
			must(t, EwBinary(op, rows, cols, x, y, z))
			must(t, EwBinaryGrad(op, rows, cols, dz, x, y, dx, dy))
			zr, dxr, dyr := make([]float64, len(x)), make([]float64, len(x)), make([]float64, ny)
			for i := range x {
				j := i
				if vector {
					j = i % cols
				}
				v, gx, gy := binaryRef(op, float64(x[i]), float64(y[j]))
				zr[i], dxr[i] = v, float64(dz[i])*gx
				dyr[j] += float64(dz[i]) * gy
			}
			what := fmt.Sprintf("%v vector=%v", op, vector)
			assertClose(t, what+" z", z, zr)
			assertClose(t, what+" dx", dx, dxr)
			assertClose(t, what+" dy", dy, dyr)
		}
	}
}

func gelu(x, a float64) (float64, float64) {
	c := math.Sqrt(2 / math.Pi)
	th := math.Tanh(c * (x + a*x*x*x))
	return 0.5 * x * (1 + th), 0.5*(1+th) + 0.5*x*(1-th*th)*c*(1+3*a*x*x)
}

func swish(x, a float64) (float64, float64) {
	s := sigmoid(a * x)
	return x * s, s + a*x*s*(1-s)
}

// unaryRef is (f(x), f'(x)) in float64.
func unaryRef(op UnaryOp, x, a float64) (float64, float64) {
	switch op {
	case UnaryNegative:
		return -x, -1
	case UnaryReciprocal:
		return 1 / x, -1 / (x * x)
	case UnarySquare:
		return x * x, 2 * x
	case UnarySqrt:
		return math.Sqrt(x), 0.5 / math.Sqrt(x)
	case UnaryExp:
		return math.Exp(x), math.Exp(x)
	case UnaryLog:
		return math.Log(x), 1 / x
	case UnarySigmoid:
		return sigmoid(x), sigmoid(x) * (1 - sigmoid(x))
	case UnaryTanh:
		return math.Tanh(x), 1 - math.Tanh(x)*math.Tanh(x)
	case UnaryRelu:
		return math.Max(x, 0), b2f(x > 0)
	case UnaryElu:
		if x > 0 {
			return x, 1
		}
		return a * (math.Exp(x) - 1), a * math.Exp(x)
	case UnaryGelu:
		return gelu(x, a)
	}
	return swish(x, a)
}

func TestEwUnaryAndGrad(t *testing.T) {
	rng := newRand(t)
	for op := UnaryNegative; op <= UnarySwish; op++ {
		x := awayFromZero(rng, 33, op != UnarySqrt && op != UnaryLog)
		dy := uniform(rng, len(x))
		alpha := op.DefaultAlpha()
		y, dx := poisoned(len(x)), poisoned(len(x))
		must(t, EwUnary(op, x, alpha, y))
		must(t, EwUnaryGrad(op, dy, x, alpha, dx))
		yr, dxr := make([]float64, len(x)), make([]float64, len(x))
		for i, v := range x {
			f, d := unaryRef(op, float64(v), float64(alpha))
			yr[i], dxr[i] = f, d*float64(dy[i])
		}
		assertClose(t, op.String()+" y", y, yr)
		assertClose(t, op.String()+" dx", dx, dxr)
	}
}

func TestBiasActAndGradOnBothFeatureAxes(t *testing.T) {
	rng := newRand(t)
	n, k := 6, 5
	for _, act := range []Activation{ActNone, ActRelu, ActGelu, ActFastGelu} {
		for _, axis := range []int{1, 0} {
			x, dy, bias := uniform(rng, n*k), uniform(rng, n*k), uniform(rng, k)
			y, dx, dbias := poisoned(n*k), poisoned(n*k), poisoned(k)
			must(t, BiasAct(act, axis, n, k, x, bias, y))
			must(t, BiasActGrad(act, axis, n, k, dy, x, bias, dx, dbias))
			yr, dxr, dbr := make([]float64, n*k), make([]float64, n*k), make([]float64, k)
			for i := range x {
				f := i % k
				if axis == 0 {
					f = i / n
				}
				z := float64(x[i]) + float64(bias[f])
				v, d := z, 1.0
				switch act {
				case ActRelu:
					v, d = math.Max(z, 0), b2f(z > 0)
				case ActGelu:
					v, d = gelu(z, 0.044715)
				case ActFastGelu:
					v, d = swish(z, 1.702)
				}
				yr[i], dxr[i] = v, float64(dy[i])*d
				dbr[f] += dxr[i]
			}
			what := fmt.Sprintf("%v axis %d", act, axis)
			assertClose(t, what+" y", y, yr)
			assertClose(t, what+" dx", dx, dxr)
			assertClose(t, what+" dbias", dbias, dbr)
		}
	}
}

func TestFloatCastAndAddN(t *testing.T) {
	rng := newRand(t)
	x := uniform(rng, 50)
	b := make([]BFloat16, len(x))
	for i := range b {
		b[i] = 0x7fc0
	}
	must(t, FloatCast(x, b))
	for i, v := range x {
		if b[i] != bf16(v) {
			t.Fatalf("cast of %g: %#x, want %#x", v, b[i], bf16(v))
		}
	}
	back := poisoned(len(x))
	must(t, FloatCast(b, back))
	for i := range back {
		if math.Float32bits(back[i]) != uint32(b[i])<<16 {
			t.Fatalf("bf16 %#x widened to %g", b[i], back[i])
		}
	}
	const count, n = 5, 40
	xs := uniform(rng, count*n)
	y := poisoned(n)
	must(t, AddN(count, xs, y))
	want := make([]float64, n)
	for i := range xs {
		want[i%n] += float64(xs[i])
	}
	assertClose(t, "add_n", y, want)
}

func TestEwBadInputFailsAndWritesNothing(t *testing.T) {
	x := make([]float32, 12)
	for i := range x {
		x[i] = 1
	}
	z := poisoned(12)
	assertFails(t, EwBinary(BinaryAdd, 3, 4, x, x[:5], z), StatusShapeMismatch, "y has 5", z)
	assertFails(t, EwBinary(BinaryAdd, 3, 4, x[:11], x, z), StatusShapeMismatch, "x has 11", z)
	assertFails(t, EwBinary(BinaryOp(99), 3, 4, x, x, z), StatusInvalidValue, "", z)
	assertFails(t, EwUnary(UnaryElu, x, float32(math.NaN()), z), StatusInvalidValue, "alpha", z)
	assertFails(t, EwUnary(UnaryExp, x, 0, z[:3]), StatusShapeMismatch, "y has 3", z)
	assertFails(t, BiasAct(ActRelu, 2, 3, 4, x, nil, z), StatusInvalidValue, "feature_axis", z)
	assertFails(t, BiasAct(ActRelu, 1, 3, 4, x, x[:3], z), StatusShapeMismatch, "bias", z)
	assertFails(t, BiasAct(ActRelu, 1, math.MaxInt64/2, 4, x, nil, z), StatusOverflow, "overflows", z)
	assertFails(t, AddN(0, x[:0], z), StatusInvalidValue, "count", z)
	many := make([]float32, (AddNMaxInputs+1)*12)
	assertFails(t, AddN(AddNMaxInputs+1, many, z), StatusInvalidValue, "count", z)
	dbias := poisoned(4)
	assertFails(t, BiasActGrad(ActRelu, 1, 3, 4, x, x, nil, z, dbias[:2]), StatusShapeMismatch, "dbias", z, dbias)
	cast := poisoned(12)
	assertFails(t, FloatCast(x[:11], cast), StatusShapeMismatch, "y has 12", cast)
}
