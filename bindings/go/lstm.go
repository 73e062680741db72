package blocksparse

/*
#include <blocksparse/blocksparse.h>

// bs_split4 and bs_concat4 take arrays of 4 pointers, which Go may not build from Go pointers: C
// builds them from the four arguments during the call.
static bs_status_t bsgo_split4(bs_dtype_t dtype, int64_t N, int64_t K, const void* x, void* o0, void* o1, void* o2,
                               void* o3) {
  void* const out[4] = {o0, o1, o2, o3};
  return bs_split4(BS_BACKEND_CPU, dtype, N, K, x, out, NULL);
}
static bs_status_t bsgo_concat4(bs_dtype_t dtype, int64_t N, int64_t K, const void* i0, const void* i1,
                                const void* i2, const void* i3, void* y) {
  const void* const in[4] = {i0, i1, i2, i3};
  return bs_concat4(BS_BACKEND_CPU, dtype, N, K, in, y, NULL);
}
*/
import "C"

// The fused LSTM cell gates and the 4-way split/concat along axis 1 (bs_lstm.h, the original's
// fused_lstm_gates, split4, concat4): h holds the gate pre-activations (n, 4k) in the order
// [i, u, f, o]; cell states and outputs are (n, k); the bias has 4k fp32 entries or is nil.

// LSTMGates computes c' = σ(f + forgetBias)·c + σ(i)·tanh(u) and h' = σ(o)·tanh(c').
func LSTMGates[T Element](n, k int, c, h []T, bias []float32, forgetBias float32, cNext, hNext []T) error {
	nk, n4k := size(n, k), size(n, 4, k)
	if err := checkLens("bs_lstm_gates_fprop", length{"c", len(c), nk}, length{"h", len(h), n4k},
		opt("bias", bias, size(4, k)), length{"cNext", len(cNext), nk}, length{"hNext", len(hNext), nk}); err != nil {
		return err
	}
	return call(func() C.bs_status_t {
		return C.bs_lstm_gates_fprop(host, cdtype[T](), C.int64_t(n), C.int64_t(k), ptr(c), ptr(h), fptr(bias),
			C.float(forgetBias), ptr(cNext), ptr(hNext), nil)
	})
}

// LSTMGatesGrad is the backward of LSTMGates (gates recomputed from c, h and bias): dc, dh (the gate
// pre-activations' gradient) and dbias unless nil. A nil dcNext or dhNext is zero.
func LSTMGatesGrad[T Element](n, k int, dcNext, dhNext, c, h []T, bias []float32, forgetBias float32, dc, dh []T,
	dbias []float32) error {
	nk, n4k := size(n, k), size(n, 4, k)
	if err := checkLens("bs_lstm_gates_bprop", opt("dcNext", dcNext, nk), opt("dhNext", dhNext, nk),
		length{"c", len(c), nk}, length{"h", len(h), n4k}, opt("bias", bias, size(4, k)), length{"dc", len(dc), nk},
		length{"dh", len(dh), n4k}, opt("dbias", dbias, size(4, k))); err != nil {
		return err
	}
	return call(func() C.bs_status_t {
		return C.bs_lstm_gates_bprop(host, cdtype[T](), C.int64_t(n), C.int64_t(k), ptr(dcNext), ptr(dhNext), ptr(c),
			ptr(h), fptr(bias), C.float(forgetBias), ptr(dc), ptr(dh), fptr(dbias), nil)
	})
}

// Split4 splits x (n, 4k) into four (n, k) slices: out[g][r, j] = x[r, g·k + j].
func Split4[T Element](n, k int, x []T, out [4][]T) error {
	nk := size(n, k)
	if err := checkLens("bs_split4", length{"x", len(x), size(n, 4, k)}, length{"out[0]", len(out[0]), nk},
		length{"out[1]", len(out[1]), nk}, length{"out[2]", len(out[2]), nk}, length{"out[3]", len(out[3]), nk}); err != nil {
		return err
	}
	return call(func() C.bs_status_t {
		return C.bsgo_split4(cdtype[T](), C.int64_t(n), C.int64_t(k), ptr(x), ptr(out[0]), ptr(out[1]), ptr(out[2]),
			ptr(out[3]))
	})
}

// Concat4 concatenates four (n, k) slices into y (n, 4k) along axis 1 (the gradient of Split4).
func Concat4[T Element](n, k int, in [4][]T, y []T) error {
	nk := size(n, k)
	if err := checkLens("bs_concat4", length{"y", len(y), size(n, 4, k)}, length{"in[0]", len(in[0]), nk},
		length{"in[1]", len(in[1]), nk}, length{"in[2]", len(in[2]), nk}, length{"in[3]", len(in[3]), nk}); err != nil {
		return err
	}
	return call(func() C.bs_status_t {
		return C.bsgo_concat4(cdtype[T](), C.int64_t(n), C.int64_t(k), ptr(in[0]), ptr(in[1]), ptr(in[2]), ptr(in[3]),
			ptr(y))
	})
}
