package blocksparse

/*
#include <blocksparse/blocksparse.h>

// bs_add_n takes an array of pointers, which Go may not build from Go pointers: C builds it from
// the stacked inputs during this call only (at most BS_ADD_N_MAX_INPUTS; the library checks count).
static bs_status_t bsgo_add_n(bs_dtype_t dtype, int64_t n, int32_t count, const char* xs, size_t stride, void* y) {
  const void* ptrs[BS_ADD_N_MAX_INPUTS];
  for (int32_t i = 0; i < count && i < BS_ADD_N_MAX_INPUTS; ++i) ptrs[i] = xs ? xs + (size_t)i * stride : NULL;
  return bs_add_n(BS_BACKEND_CPU, dtype, n, count, ptrs, y, NULL);
}
*/
import "C"

import (
	"math"
	"unsafe"
)

// The element-wise ops of bs_ew.h (the original's ewops.py) on host slices: binary and unary ops
// with their gradients, bias + activation, float cast and add_n. Arithmetic is fp32, each output is
// rounded once; every op is deterministic. Outputs may be the input slice itself (in place) where
// the C API allows it (bs_ew.h).

// DefaultAlpha is the original's alpha of the ops that use one (ELU 1, GELU 0.044715, SWISH 1), else 0.
func (op UnaryOp) DefaultAlpha() float32 {
	switch op {
	case UnaryElu, UnarySwish:
		return 1
	case UnaryGelu:
		return 0.044715
	}
	return 0
}

// yIsVector tells whether y (len ylen) has x's rows*cols elements (0) or is a (cols) vector
// broadcast along the rows (1).
func yIsVector(fn string, rows, cols, ylen int) (C.int32_t, error) {
	switch {
	case ylen == size(rows, cols):
		return 0, nil
	case ylen == cols:
		return 1, nil
	}
	return 0, argError(StatusShapeMismatch, "%s: y has %d elements: expected rows*cols or cols", fn, ylen)
}

// EwBinary computes z = op(x, y) on (rows, cols) row-major slices; y has x's rows*cols elements,
// or cols, then broadcast along the rows (z[r, c] = op(x[r, c], y[c])).
func EwBinary[T Element](op BinaryOp, rows, cols int, x, y, z []T) error {
	const fn = "bs_ew_binary"
	n := size(rows, cols)
	if err := checkLens(fn, length{"x", len(x), n}, length{"z", len(z), n}); err != nil {
		return err
	}
	vec, err := yIsVector(fn, rows, cols, len(y))
	if err != nil {
		return err
	}
	return call(func() C.bs_status_t {
		return C.bs_ew_binary(host, C.bs_ew_binary_op_t(op), cdtype[T](), C.int64_t(rows), C.int64_t(cols), ptr(x),
			ptr(y), vec, ptr(z), nil)
	})
}

// EwBinaryGrad computes the gradients of EwBinary: dx = dz·∂z/∂x and dy = dz·∂z/∂y (summed over the
// rows in a fixed order when y is a vector). A nil dx or dy is skipped.
func EwBinaryGrad[T Element](op BinaryOp, rows, cols int, dz, x, y, dx, dy []T) error {
	const fn = "bs_ew_binary_grad"
	n := size(rows, cols)
	vec, err := yIsVector(fn, rows, cols, len(y))
	if err != nil {
		return err
	}
	if err := checkLens(fn, length{"dz", len(dz), n}, length{"x", len(x), n}, opt("dx", dx, n),
		opt("dy", dy, len(y))); err != nil {
		return err
	}
	return call(func() C.bs_status_t {
		return C.bs_ew_binary_grad(host, C.bs_ew_binary_op_t(op), cdtype[T](), C.int64_t(rows), C.int64_t(cols),
			ptr(dz), ptr(x), ptr(y), vec, ptr(dx), ptr(dy), nil)
	})
}

// EwUnary computes y = op(x) element by element (alpha: see UnaryOp.DefaultAlpha).
func EwUnary[T Element](op UnaryOp, x []T, alpha float32, y []T) error {
	if err := checkLens("bs_ew_unary", length{"y", len(y), len(x)}); err != nil {
		return err
	}
	return call(func() C.bs_status_t {
		return C.bs_ew_unary(host, C.bs_ew_unary_op_t(op), cdtype[T](), C.int64_t(len(x)), ptr(x), C.float(alpha),
			ptr(y), nil)
	})
}

// EwUnaryGrad computes the gradient of EwUnary from the forward's input: dx = dy·op'(x).
func EwUnaryGrad[T Element](op UnaryOp, dy, x []T, alpha float32, dx []T) error {
	if err := checkLens("bs_ew_unary_grad", length{"x", len(x), len(dy)}, length{"dx", len(dx), len(dy)}); err != nil {
		return err
	}
	return call(func() C.bs_status_t {
		return C.bs_ew_unary_grad(host, C.bs_ew_unary_op_t(op), cdtype[T](), C.int64_t(len(dy)), ptr(dy), ptr(x),
			C.float(alpha), ptr(dx), nil)
	})
}

// BiasAct computes the fused y = act(x + bias) (the original's bias_relu): x is (n, k) for feature
// axis 1 or (k, n) for 0; bias has k entries, or is nil (no bias).
func BiasAct[T Element](act Activation, featureAxis, n, k int, x []T, bias []float32, y []T) error {
	nk := size(n, k)
	if err := checkLens("bs_bias_act", length{"x", len(x), nk}, length{"y", len(y), nk},
		opt("bias", bias, k)); err != nil {
		return err
	}
	return call(func() C.bs_status_t {
		return C.bs_bias_act(host, C.bs_act_t(act), cdtype[T](), C.int32_t(featureAxis), C.int64_t(n), C.int64_t(k),
			ptr(x), (*C.float)(ptr(bias)), ptr(y), nil)
	})
}

// BiasActGrad computes the gradient of BiasAct: dx = dy·act'(x + bias) and, unless dbias is nil,
// dbias = Σ_n dx (k entries).
func BiasActGrad[T Element](act Activation, featureAxis, n, k int, dy, x []T, bias []float32, dx []T,
	dbias []float32) error {
	nk := size(n, k)
	if err := checkLens("bs_bias_act_grad", length{"dy", len(dy), nk}, length{"x", len(x), nk},
		length{"dx", len(dx), nk}, opt("bias", bias, k), opt("dbias", dbias, k)); err != nil {
		return err
	}
	return call(func() C.bs_status_t {
		return C.bs_bias_act_grad(host, C.bs_act_t(act), cdtype[T](), C.int32_t(featureAxis), C.int64_t(n),
			C.int64_t(k), ptr(dy), ptr(x), (*C.float)(ptr(bias)), ptr(dx), (*C.float)(ptr(dbias)), nil)
	})
}

// FloatCast converts x to the element type of y, round-to-nearest-even (NaN stays NaN, overflow
// gives ±Inf).
func FloatCast[S, D Element](x []S, y []D) error {
	if err := checkLens("bs_float_cast", length{"y", len(y), len(x)}); err != nil {
		return err
	}
	return call(func() C.bs_status_t {
		return C.bs_float_cast(host, cdtype[S](), cdtype[D](), C.int64_t(len(x)), ptr(x), ptr(y), nil)
	})
}

// AddN computes y = Σ_i x_i over count inputs of len(y) elements each, stored one after the other
// in xs (count·len(y) elements), summed in fp32 in order; 1 <= count <= AddNMaxInputs.
func AddN[T Element](count int, xs, y []T) error {
	if count < 0 || count > math.MaxInt32 {
		return argError(StatusInvalidValue, "bs_add_n: count = %d must be in [1, %d]", count, AddNMaxInputs)
	}
	if err := checkLens("bs_add_n", length{"xs", len(xs), size(count, len(y))}); err != nil {
		return err
	}
	esz := C.size_t(unsafe.Sizeof(*new(T)))
	return call(func() C.bs_status_t {
		return C.bsgo_add_n(cdtype[T](), C.int64_t(len(y)), C.int32_t(count), (*C.char)(ptr(xs)),
			C.size_t(len(y))*esz, ptr(y))
	})
}
