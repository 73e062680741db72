package blocksparse

// #include <blocksparse/blocksparse.h>
import "C"

import "runtime"

// SparseProjParams are the creation parameters of a SparseProj (CPU backend).
type SparseProjParams struct {
	DType       DType
	FeatureAxis int32 // 0: tensors (features, N), the original's; 1: (N, features)
}

// DefaultSparseProjParams are the library's defaults (fp32, feature axis 0).
func DefaultSparseProjParams() SparseProjParams {
	var p C.bs_sparse_proj_params_t
	C.bs_sparse_proj_params_init(&p, C.sizeof_bs_sparse_proj_params_t)
	return SparseProjParams{DType(p.dtype), int32(p.feature_axis)}
}

// SparseProj is a sparse projection (bs_sparse_proj.h, the original's SparseProj) between NHidden
// features and the NProj = len(lut) of them that lut selects (distinct indices in [0, NHidden)):
// gather, scatter, scatter-add, scatter-multiply and their gradients. Concurrent use, Close and the
// finalizer as for LayerNorm.
type SparseProj struct {
	owned[C.bs_sparse_proj_plan_t]
	NHidden, NProj int
	Params         SparseProjParams
}

// NewSparseProj creates a sparse-projection plan from its index map.
func NewSparseProj(lut []int64, nhidden int, p SparseProjParams) (*SparseProj, error) {
	var cp C.bs_sparse_proj_params_t
	C.bs_sparse_proj_params_init(&cp, C.sizeof_bs_sparse_proj_params_t)
	cp.backend, cp.dtype, cp.feature_axis = C.int32_t(CPU), C.int32_t(p.DType), C.int32_t(p.FeatureAxis)
	cp.nhidden, cp.nproj = C.int64_t(nhidden), C.int64_t(len(lut))
	var h C.bs_sparse_proj_plan_t
	if err := call(func() C.bs_status_t { return C.bs_sparse_proj_create(&h, &cp, (*C.int64_t)(ptr(lut))) }); err != nil {
		return nil, err
	}
	sp := &SparseProj{owned[C.bs_sparse_proj_plan_t]{h: h, what: "SparseProj",
		destroy: func(h C.bs_sparse_proj_plan_t) { C.bs_sparse_proj_destroy(h) }}, nhidden, len(lut), p}
	runtime.SetFinalizer(sp, (*SparseProj).Close)
	return sp, nil
}

// Close frees the plan. It is safe to call more than once and from several goroutines.
func (sp *SparseProj) Close() error {
	sp.close()
	runtime.SetFinalizer(sp, nil)
	return nil
}

// run checks the element type and the slice lengths, then calls f with the plan while it is open.
func projRun[T Element](sp *SparseProj, fn string, lens []length,
	f func(h C.const_bs_sparse_proj_plan_t) C.bs_status_t) error {
	if err := dtypeIs[T](fn, sp.Params.DType); err != nil {
		return err
	}
	if err := checkLens(fn, lens...); err != nil {
		return err
	}
	return sp.use(func(h C.bs_sparse_proj_plan_t) error {
		return call(func() C.bs_status_t { return f(C.const_bs_sparse_proj_plan_t(h)) })
	})
}

// ProjGather computes y (proj) = x (hidden)[lut] along the feature axis, for minibatch n.
func ProjGather[T Element](sp *SparseProj, n int, x, y []T) error {
	return projRun[T](sp, "bs_sparse_proj_gather",
		[]length{{"x", len(x), size(n, sp.NHidden)}, {"y", len(y), size(n, sp.NProj)}},
		func(h C.const_bs_sparse_proj_plan_t) C.bs_status_t {
			return C.bs_sparse_proj_gather(h, C.int64_t(n), ptr(x), ptr(y), nil)
		})
}

// ProjScatter computes y (hidden) = 0, y[lut] = x (proj).
func ProjScatter[T Element](sp *SparseProj, n int, x, y []T) error {
	return projRun[T](sp, "bs_sparse_proj_scatter",
		[]length{{"x", len(x), size(n, sp.NProj)}, {"y", len(y), size(n, sp.NHidden)}},
		func(h C.const_bs_sparse_proj_plan_t) C.bs_status_t {
			return C.bs_sparse_proj_scatter(h, C.int64_t(n), ptr(x), ptr(y), nil)
		})
}

// ProjScatterAdd computes z (hidden) = x, z[lut] += y (proj); z may be x.
func ProjScatterAdd[T Element](sp *SparseProj, n int, x, y, z []T) error {
	hid, proj := size(n, sp.NHidden), size(n, sp.NProj)
	return projRun[T](sp, "bs_sparse_proj_scatter_add",
		[]length{{"x", len(x), hid}, {"y", len(y), proj}, {"z", len(z), hid}},
		func(h C.const_bs_sparse_proj_plan_t) C.bs_status_t {
			return C.bs_sparse_proj_scatter_add(h, C.int64_t(n), ptr(x), ptr(y), ptr(z), nil)
		})
}

// ProjScatterMul computes z (hidden) = x, z[lut] *= y (proj); z may be x.
func ProjScatterMul[T Element](sp *SparseProj, n int, x, y, z []T) error {
	hid, proj := size(n, sp.NHidden), size(n, sp.NProj)
	return projRun[T](sp, "bs_sparse_proj_scatter_mul",
		[]length{{"x", len(x), hid}, {"y", len(y), proj}, {"z", len(z), hid}},
		func(h C.const_bs_sparse_proj_plan_t) C.bs_status_t {
			return C.bs_sparse_proj_scatter_mul(h, C.int64_t(n), ptr(x), ptr(y), ptr(z), nil)
		})
}

// ProjScatterAddGrad is the gradient of ProjScatterAdd: dx (hidden) = dz, dy (proj) = dz[lut];
// a nil dx or dy is skipped.
func ProjScatterAddGrad[T Element](sp *SparseProj, n int, dz, dx, dy []T) error {
	hid, proj := size(n, sp.NHidden), size(n, sp.NProj)
	return projRun[T](sp, "bs_sparse_proj_scatter_add_grad",
		[]length{{"dz", len(dz), hid}, opt("dx", dx, hid), opt("dy", dy, proj)},
		func(h C.const_bs_sparse_proj_plan_t) C.bs_status_t {
			return C.bs_sparse_proj_scatter_add_grad(h, C.int64_t(n), ptr(dz), ptr(dx), ptr(dy), nil)
		})
}

// ProjScatterMulGrad is the gradient of ProjScatterMul: dx = dz with dx[lut] *= y, and
// dy = dz[lut]·x[lut]; a nil dx or dy is skipped.
func ProjScatterMulGrad[T Element](sp *SparseProj, n int, dz, x, y, dx, dy []T) error {
	hid, proj := size(n, sp.NHidden), size(n, sp.NProj)
	return projRun[T](sp, "bs_sparse_proj_scatter_mul_grad",
		[]length{{"dz", len(dz), hid}, {"x", len(x), hid}, {"y", len(y), proj}, opt("dx", dx, hid), opt("dy", dy, proj)},
		func(h C.const_bs_sparse_proj_plan_t) C.bs_status_t {
			return C.bs_sparse_proj_scatter_mul_grad(h, C.int64_t(n), ptr(dz), ptr(x), ptr(y), ptr(dx), ptr(dy), nil)
		})
}
