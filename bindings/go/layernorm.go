package blocksparse

// #include <blocksparse/blocksparse.h>
import "C"

import "runtime"

// LayerNormParams are the creation parameters of a LayerNorm (layernorm_params_t, CPU backend).
// Start from DefaultLayerNormParams and set K.
type LayerNormParams struct {
	K             int // features, >= 1
	DType         DType
	FeatureAxis   int32   // 1: activations (N, K), features last; 0: (K, N)
	Segments      int32   // S >= 1 dividing K: each slice of K/S features is normalised on its own
	Epsilon       float32 // added to the variance
	ReLU          bool    // a fused ReLU after the affine step
	Deterministic bool    // bitwise repeatable dgain/dbias
	NumThreads    int32   // CPU threads per call, 0 = the OpenMP default
}

// DefaultLayerNormParams are the library's defaults (K unset).
func DefaultLayerNormParams() LayerNormParams {
	var p C.layernorm_params_t
	C.layernorm_params_init(&p, C.sizeof_layernorm_params_t)
	return LayerNormParams{int(p.K), DType(p.dtype), int32(p.feature_axis), int32(p.segments), float32(p.epsilon),
		p.relu != 0, p.deterministic != 0, int32(p.num_threads)}
}

// LayerNorm is a layer-norm plan over K features (layernorm.h, the original's layer_norm). One
// LayerNorm may be used by several goroutines at once; Close frees it (idempotent, waits for running
// calls; later calls fail with StatusNullPointer), else a finalizer does. The statistics mean and
// rstd are (S, N) fp32; gain, bias and their gradients K fp32 (nil gain: ones, nil bias: zeros).
type LayerNorm struct {
	owned[C.layernorm_plan_t]
	Params LayerNormParams
}

// NewLayerNorm creates a layer-norm plan.
func NewLayerNorm(p LayerNormParams) (*LayerNorm, error) {
	var cp C.layernorm_params_t
	C.layernorm_params_init(&cp, C.sizeof_layernorm_params_t)
	cp.backend, cp.dtype = C.int32_t(CPU), C.int32_t(p.DType)
	cp.feature_axis, cp.segments, cp.K = C.int32_t(p.FeatureAxis), C.int32_t(p.Segments), C.int64_t(p.K)
	cp.epsilon, cp.relu, cp.deterministic = C.float(p.Epsilon), flag(p.ReLU), flag(p.Deterministic)
	cp.num_threads = C.int32_t(p.NumThreads)
	var h C.layernorm_plan_t
	if err := call(func() C.bs_status_t { return C.layernorm_create(&h, &cp) }); err != nil {
		return nil, err
	}
	ln := &LayerNorm{owned[C.layernorm_plan_t]{h: h, what: "LayerNorm",
		destroy: func(h C.layernorm_plan_t) { C.layernorm_destroy(h) }}, p}
	runtime.SetFinalizer(ln, (*LayerNorm).Close)
	return ln, nil
}

// Close frees the plan. It is safe to call more than once and from several goroutines.
func (ln *LayerNorm) Close() error {
	ln.close()
	runtime.SetFinalizer(ln, nil)
	return nil
}

// WorkspaceSize is the scratch in bytes that op needs for minibatch n (the execute functions
// allocate it themselves).
func (ln *LayerNorm) WorkspaceSize(op LayerNormOp, n int) (int, error) {
	var bytes C.size_t
	err := ln.use(func(h C.layernorm_plan_t) error { return ln.workspaceSize(h, op, n, &bytes) })
	return int(bytes), err
}

func (ln *LayerNorm) workspaceSize(h C.layernorm_plan_t, op LayerNormOp, n int, bytes *C.size_t) error {
	return call(func() C.bs_status_t {
		return C.layernorm_get_workspace_size(C.const_layernorm_plan_t(h), C.layernorm_op_t(op), C.int64_t(n), bytes)
	})
}

func (ln *LayerNorm) shapes(n int) (act, stat int) {
	return size(n, ln.Params.K), size(int(ln.Params.Segments), n)
}

// LayerNormFprop computes y = relu?(gain·(x-mean)·rstd + bias) for minibatch n, and saves the
// statistics into mean and rstd unless both are nil.
func LayerNormFprop[T Element](ln *LayerNorm, n int, x []T, gain, bias []float32, y []T, mean, rstd []float32) error {
	const fn = "layernorm_fprop"
	act, stat := ln.shapes(n)
	if err := dtypeIs[T](fn, ln.Params.DType); err != nil {
		return err
	}
	if err := checkLens(fn, length{"x", len(x), act}, length{"y", len(y), act}, opt("gain", gain, ln.Params.K),
		opt("bias", bias, ln.Params.K), opt("mean", mean, stat), opt("rstd", rstd, stat)); err != nil {
		return err
	}
	return ln.use(func(h C.layernorm_plan_t) error {
		var bytes C.size_t
		if err := ln.workspaceSize(h, LayerNormFpropOp, n, &bytes); err != nil {
			return err
		}
		ws := make([]uint64, (uint64(bytes)+7)/8)
		return call(func() C.bs_status_t {
			return C.layernorm_fprop(C.const_layernorm_plan_t(h), C.int64_t(n), ptr(x), fptr(gain), fptr(bias), ptr(y),
				fptr(mean), fptr(rstd), ptr(ws), C.size_t(8*len(ws)), nil)
		})
	})
}

// LayerNormBprop is the backward from the forward's mean and rstd: dx, and dgain and dbias
// (overwritten) unless nil. bias is read only by plans with ReLU.
func LayerNormBprop[T Element](ln *LayerNorm, n int, dy, x []T, gain, bias, mean, rstd []float32, dx []T,
	dgain, dbias []float32) error {
	const fn = "layernorm_bprop"
	act, stat := ln.shapes(n)
	if err := dtypeIs[T](fn, ln.Params.DType); err != nil {
		return err
	}
	k := ln.Params.K
	if err := checkLens(fn, length{"dy", len(dy), act}, length{"x", len(x), act}, length{"dx", len(dx), act},
		opt("gain", gain, k), opt("bias", bias, k), length{"mean", len(mean), stat}, length{"rstd", len(rstd), stat},
		opt("dgain", dgain, k), opt("dbias", dbias, k)); err != nil {
		return err
	}
	return ln.use(func(h C.layernorm_plan_t) error {
		var bytes C.size_t
		if err := ln.workspaceSize(h, LayerNormBpropOp, n, &bytes); err != nil {
			return err
		}
		ws := make([]uint64, (uint64(bytes)+7)/8)
		return call(func() C.bs_status_t {
			return C.layernorm_bprop(C.const_layernorm_plan_t(h), C.int64_t(n), ptr(dy), ptr(x), fptr(gain), fptr(bias),
				fptr(mean), fptr(rstd), ptr(dx), fptr(dgain), fptr(dbias), ptr(ws), C.size_t(8*len(ws)), nil)
		})
	})
}
