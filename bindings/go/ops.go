package blocksparse

/*
#include <stdlib.h>
#include <blocksparse/blocksparse.h>

// bsmm_updat takes arrays of pointers; Go may not build arrays of Go pointers, so C fills the
// caller's C array `ptrs` (2*pairs entries) from the stacked inputs during this call only.
static bs_status_t bsgo_updat(const_bsmm_plan_t plan, int64_t N, int32_t pairs, const char* x, size_t x_stride,
                              const char* dy, size_t dy_stride, void* dw, float alpha, float beta,
                              const float* gate, void* ws, size_t ws_bytes, const void** ptrs) {
  for (int32_t i = 0; i < pairs; ++i) {
    ptrs[i] = x ? x + (size_t)i * x_stride : NULL;
    ptrs[pairs + i] = dy ? dy + (size_t)i * dy_stride : NULL;
  }
  return bsmm_updat(plan, N, pairs, ptrs, ptrs + pairs, dw, alpha, beta, gate, ws, ws_bytes, NULL);
}
*/
import "C"

import (
	"math"
	"unsafe"
)

// Scale holds the optional scales of an execute call: out = Alpha·product + Beta·out, with
// block i's term multiplied by Gate[i] when Gate is not nil (len NNZ). A nil *Scale means
// Alpha = 1, Beta = 0, no gates.
type Scale struct {
	Alpha, Beta float32
	Gate        []float32
}

func (s *Scale) parts(p *Plan) (alpha, beta C.float, gate *C.float, err error) {
	if s == nil {
		return 1, 0, nil, nil
	}
	if s.Gate != nil && len(s.Gate) != p.NNZ {
		return 0, 0, nil, argError(StatusShapeMismatch, "gate has %d entries, the plan has %d blocks", len(s.Gate), p.NNZ)
	}
	return C.float(s.Alpha), C.float(s.Beta), (*C.float)(ptr(s.Gate)), nil
}

// length is one slice length to check: got, and the length the plan's shapes want.
type length struct {
	name      string
	got, want int
}

// check verifies what the C API cannot: element type, backend (Go slices are host memory) and
// every slice length.
func check[T Element](p *Plan, lens ...length) error {
	if d := dtypeOf[T](); d != p.DType {
		return argError(StatusInvalidValue, "slices of dtype %d given to a plan of dtype %d", d, p.DType)
	}
	if p.Backend != CPU {
		return argError(StatusWrongBackend, "Go slices are host memory: the plan must use the CPU backend")
	}
	for _, l := range lens {
		if l.got != l.want {
			return argError(StatusShapeMismatch, "%s has %d elements, expected %d", l.name, l.got, l.want)
		}
	}
	return nil
}

// size multiplies non-negative sizes, returning -1 on overflow (no slice has that length).
func size(a ...int) int {
	r := 1
	for _, v := range a {
		if v < 0 || (v != 0 && r > math.MaxInt/v) {
			return -1
		}
		r *= v
	}
	return r
}

// workspace allocates the scratch that op needs for minibatch n (8-byte aligned).
func workspace(h C.const_bsmm_plan_t, op bsmmOp, n int) ([]uint64, error) {
	var bytes C.size_t
	if err := call(func() C.bs_status_t { return C.bsmm_get_workspace_size(h, C.bsmm_op_t(op), C.int64_t(n), &bytes) }); err != nil {
		return nil, err
	}
	return make([]uint64, (uint64(bytes)+7)/8), nil
}

func xprop[T Element](p *Plan, op bsmmOp, n int, in, w, out []T, inF, outF int, s *Scale) error {
	if n < 0 {
		return argError(StatusInvalidValue, "N must be >= 0 (got %d)", n)
	}
	if err := check[T](p, length{"input", len(in), size(n, inF)}, length{"w", len(w), p.WeightLen()}, length{"output", len(out), size(n, outF)}); err != nil {
		return err
	}
	alpha, beta, gate, err := s.parts(p)
	if err != nil {
		return err
	}
	return p.use(func(h C.const_bsmm_plan_t) error {
		ws, err := workspace(h, op, n)
		if err != nil {
			return err
		}
		wsp, wsb := ptr(ws), C.size_t(8*len(ws))
		return call(func() C.bs_status_t {
			if op == bsmmOpFprop {
				return C.bsmm_fprop(h, C.int64_t(n), ptr(in), ptr(w), ptr(out), alpha, beta, gate, wsp, wsb, nil)
			}
			return C.bsmm_bprop(h, C.int64_t(n), ptr(in), ptr(w), ptr(out), alpha, beta, gate, wsp, wsb, nil)
		})
	})
}

// Fprop computes y = Alpha·(x·W) + Beta·y for minibatch n: x is (n, C) and y (n, K) row-major
// (feature axis 1) or (C, n) and (K, n) (feature axis 0); w is (NNZ, b, b).
func Fprop[T Element](p *Plan, n int, x, w, y []T, s *Scale) error {
	return xprop(p, bsmmOpFprop, n, x, w, y, p.C, p.K, s)
}

// Bprop computes dx = Alpha·(dy·Wᵀ) + Beta·dx: dy has the output's shape, dx the input's.
func Bprop[T Element](p *Plan, n int, dy, w, dx []T, s *Scale) error {
	return xprop(p, bsmmOpBprop, n, dy, w, dx, p.K, p.C, s)
}

// Updat computes the weight gradient on the layout, dW[i] = Alpha·Σ_p x_p[:,c]ᵀ·dy_p[:,k] + Beta·dW[i],
// over nPairs pairs stored one after the other in x (nPairs inputs of n·C elements) and dy
// (nPairs output gradients of n·K elements), as the time steps of an RNN sharing W are.
func Updat[T Element](p *Plan, n, nPairs int, x, dy, dw []T, s *Scale) error {
	if n < 0 || nPairs < 1 || nPairs > math.MaxInt32 {
		return argError(StatusInvalidValue, "need N >= 0 and 1 <= nPairs < 2^31 (got %d, %d)", n, nPairs)
	}
	if err := check[T](p, length{"x", len(x), size(nPairs, n, p.C)}, length{"dy", len(dy), size(nPairs, n, p.K)}, length{"dw", len(dw), p.WeightLen()}); err != nil {
		return err
	}
	alpha, beta, gate, err := s.parts(p)
	if err != nil {
		return err
	}
	esz := C.size_t(unsafe.Sizeof(*new(T)))
	ptrs := C.malloc(C.size_t(2*nPairs) * C.size_t(unsafe.Sizeof(uintptr(0))))
	if ptrs == nil {
		return argError(StatusOutOfMemory, "cannot allocate %d pointers", 2*nPairs)
	}
	defer C.free(ptrs)
	return p.use(func(h C.const_bsmm_plan_t) error {
		ws, err := workspace(h, bsmmOpUpdat, n)
		if err != nil {
			return err
		}
		return call(func() C.bs_status_t {
			return C.bsgo_updat(h, C.int64_t(n), C.int32_t(nPairs), (*C.char)(ptr(x)), C.size_t(n*p.C)*esz,
				(*C.char)(ptr(dy)), C.size_t(n*p.K)*esz, ptr(dw), alpha, beta, gate, ptr(ws),
				C.size_t(8*len(ws)), (*unsafe.Pointer)(ptrs))
		})
	})
}

// IdentityInit sets w to the identity initialisation: block i at (c, k) is scale·I when
// c % KB == k % CB, else 0.
func IdentityInit[T Element](p *Plan, w []T, scale float32) error {
	if err := check[T](p, length{"w", len(w), p.WeightLen()}); err != nil {
		return err
	}
	return p.use(func(h C.const_bsmm_plan_t) error {
		return call(func() C.bs_status_t { return C.bsmm_identity_init(h, ptr(w), C.float(scale), nil) })
	})
}

// L2Normalize writes to y the weights w normalised per output feature (times gain[j] when gain is
// not nil, len K): y[:, j] = w[:, j] / sqrt(max(Σ w[:, j]², epsilon)). y may be w.
func L2Normalize[T Element](p *Plan, w []T, gain []float32, y []T, epsilon float32) error {
	if err := check[T](p, length{"w", len(w), p.WeightLen()}, length{"y", len(y), p.WeightLen()}); err != nil {
		return err
	}
	if gain != nil && len(gain) != p.K {
		return argError(StatusShapeMismatch, "gain has %d entries, K = %d", len(gain), p.K)
	}
	return p.use(func(h C.const_bsmm_plan_t) error {
		ws, err := workspace(h, bsmmOpL2Normalize, 0)
		if err != nil {
			return err
		}
		return call(func() C.bs_status_t {
			return C.bsmm_l2_normalize(h, ptr(w), (*C.float)(ptr(gain)), ptr(y), C.float(epsilon), ptr(ws),
				C.size_t(8*len(ws)), nil)
		})
	})
}

// L2NormalizeGrad is the gradient of L2Normalize: dw from dy and w, and dgain (len K) when gain is
// not nil (dgain must be nil otherwise). dw may be dy.
func L2NormalizeGrad[T Element](p *Plan, dy, w []T, gain []float32, dw []T, dgain []float32, epsilon float32) error {
	lw := p.WeightLen()
	if err := check[T](p, length{"dy", len(dy), lw}, length{"w", len(w), lw}, length{"dw", len(dw), lw}); err != nil {
		return err
	}
	if (gain == nil) != (dgain == nil) || (gain != nil && (len(gain) != p.K || len(dgain) != p.K)) {
		return argError(StatusShapeMismatch, "gain and dgain must both be nil or both have K = %d entries", p.K)
	}
	return p.use(func(h C.const_bsmm_plan_t) error {
		ws, err := workspace(h, bsmmOpL2NormalizeGrad, 0)
		if err != nil {
			return err
		}
		return call(func() C.bs_status_t {
			return C.bsmm_l2_normalize_grad(h, ptr(dy), ptr(w), (*C.float)(ptr(gain)), ptr(dw),
				(*C.float)(ptr(dgain)), C.float(epsilon), ptr(ws), C.size_t(8*len(ws)), nil)
		})
	})
}
