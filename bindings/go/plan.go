package blocksparse

// #include <blocksparse/blocksparse.h>
import "C"

import (
	"runtime"
	"sync"
	"unsafe"
)

// Plan is a bsmm plan: a fixed block layout with its lookup tables, made once and then executed any
// number of times. A Plan may be used by several goroutines at once. Close frees it; a Plan that
// is garbage collected without Close is freed by a finalizer. Close waits for running calls.
type Plan struct {
	mu sync.RWMutex // read-held by every call using h, write-held by Close
	h  C.bsmm_plan_t

	// Properties read once at creation (plans are immutable).
	C, K, CB, KB, BlockSize, NNZ int
	FeatureAxis                  int
	DType                        DType
	Backend                      Backend
}

// NewPlan creates a plan from a dense CB×KB 0/1 layout given row-major (layout[c*KB+k] = 1 connects
// input block c to output block k).
func NewPlan(layout []byte, cb, kb int, params Params) (*Plan, error) {
	if cb < 0 || kb < 0 || (cb > 0 && kb > 0 && len(layout)/kb < cb) || len(layout) != cb*kb {
		return nil, argError(StatusShapeMismatch, "layout has %d entries, CB*KB = %d*%d", len(layout), cb, kb)
	}
	cp := params.toC()
	var h C.bsmm_plan_t
	err := call(func() C.bs_status_t {
		return C.bsmm_create(&h, &cp, (*C.uint8_t)(ptr(layout)), C.int64_t(cb), C.int64_t(kb))
	})
	if err != nil {
		return nil, err
	}
	return wrap(h)
}

// NewPlanBSR creates a plan from a layout in BSR form: input block row c connects to the output
// blocks colIdx[rowPtr[c]:rowPtr[c+1]]; block i of W is the i-th entry of colIdx.
func NewPlanBSR(cb, kb int, rowPtr, colIdx []int64, params Params) (*Plan, error) {
	if cb < 0 || len(rowPtr) != cb+1 {
		return nil, argError(StatusShapeMismatch, "rowPtr has %d entries, CB+1 = %d", len(rowPtr), cb+1)
	}
	if rowPtr[cb] != int64(len(colIdx)) {
		return nil, argError(StatusShapeMismatch, "colIdx has %d entries, rowPtr[CB] = %d", len(colIdx), rowPtr[cb])
	}
	cp := params.toC()
	var h C.bsmm_plan_t
	err := call(func() C.bs_status_t {
		return C.bsmm_create_bsr(&h, &cp, C.int64_t(cb), C.int64_t(kb), (*C.int64_t)(ptr(rowPtr)),
			(*C.int64_t)(ptr(colIdx)))
	})
	if err != nil {
		return nil, err
	}
	return wrap(h)
}

func wrap(h C.bsmm_plan_t) (*Plan, error) {
	p := &Plan{h: h}
	attr := func(a bsmmAttr) int {
		var v C.int64_t
		C.bsmm_get_attr(C.const_bsmm_plan_t(h), C.bsmm_attr_t(a), &v) // cannot fail: valid plan and attribute
		return int(v)
	}
	p.C, p.K = attr(bsmmAttrC), attr(bsmmAttrK)
	p.CB, p.KB = attr(bsmmAttrCb), attr(bsmmAttrKb)
	p.BlockSize, p.NNZ = attr(bsmmAttrBlockSize), attr(bsmmAttrNnzBlocks)
	p.FeatureAxis = attr(bsmmAttrFeatureAxis)
	p.DType, p.Backend = DType(attr(bsmmAttrDtype)), Backend(attr(bsmmAttrBackend))
	runtime.SetFinalizer(p, (*Plan).Close)
	return p, nil
}

// Close frees the plan. It is safe to call more than once and from several goroutines; calls made
// after Close fail with StatusNullPointer.
func (p *Plan) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.h == nil {
		return nil
	}
	C.bsmm_destroy(p.h) // always succeeds
	p.h = nil
	runtime.SetFinalizer(p, nil)
	return nil
}

// use runs f with the plan handle while holding the read lock, so Close cannot free it meanwhile.
func (p *Plan) use(f func(h C.const_bsmm_plan_t) error) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.h == nil {
		return argError(StatusNullPointer, "the plan is closed")
	}
	return f(C.const_bsmm_plan_t(p.h))
}

// WeightLen is the number of elements of W: NNZ*b*b.
func (p *Plan) WeightLen() int { return p.NNZ * p.BlockSize * p.BlockSize }

// BlockCoord returns the layout coordinates (input block c, output block k) of weight block i.
func (p *Plan) BlockCoord(i int) (c, k int, err error) {
	err = p.use(func(h C.const_bsmm_plan_t) error {
		var cc, kk C.int64_t
		e := call(func() C.bs_status_t { return C.bsmm_block_coord(h, C.int64_t(i), &cc, &kk) })
		c, k = int(cc), int(kk)
		return e
	})
	return c, k, err
}

// Layout returns the plan's dense CB×KB 0/1 layout, row-major.
func (p *Plan) Layout() ([]byte, error) {
	out := make([]byte, p.CB*p.KB)
	err := p.use(func(h C.const_bsmm_plan_t) error {
		return call(func() C.bs_status_t {
			return C.bsmm_get_layout(h, (*C.uint8_t)(ptr(out)), C.int64_t(len(out)))
		})
	})
	return out, err
}

// ptr is the address of a slice's first element, or nil for an empty slice.
func ptr[T any](s []T) unsafe.Pointer {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Pointer(&s[0])
}
