package blocksparse

// #include <blocksparse/blocksparse.h>
import "C"

import "sync"

// What the wrappers of the plan-less ops and of the LayerNorm and SparseProj plans share: the
// checks the C API cannot make (slice lengths, element types) and the lifetime of a C plan.

// host is the backend of every call: Go slices are host memory.
const host = C.bs_backend_t(CPU)

// checkLens fails on the first slice whose length is not the one the shapes want (want -1: the
// shapes overflow), naming the C function.
func checkLens(fn string, lens ...length) error {
	for _, l := range lens {
		if l.want < 0 {
			return argError(StatusOverflow, "%s: the size of %s overflows", fn, l.name)
		}
		if l.got != l.want {
			return argError(StatusShapeMismatch, "%s: %s has %d elements, expected %d", fn, l.name, l.got, l.want)
		}
	}
	return nil
}

// opt is the length entry of an optional slice: a nil slice is skipped (it passes).
func opt[T any](name string, s []T, want int) length {
	if s == nil {
		return length{name, want, want}
	}
	return length{name, len(s), want}
}

// dtypeIs fails when the slices' element type is not the plan's dtype.
func dtypeIs[T Element](fn string, plan DType) error {
	if d := dtypeOf[T](); d != plan {
		return argError(StatusInvalidValue, "%s: slices of dtype %d given to a plan of dtype %d", fn, d, plan)
	}
	return nil
}

func cdtype[T Element]() C.bs_dtype_t { return C.bs_dtype_t(dtypeOf[T]()) }

func flag(b bool) C.int32_t {
	if b {
		return 1
	}
	return 0
}

// owned is the lifetime of one C plan held by a Go object: every call holds the read lock while it
// uses the handle and Close takes the write lock, so the plan is never used after it is destroyed
// nor destroyed while a call (on any goroutine) uses it.
type owned[H comparable] struct {
	mu      sync.RWMutex
	h       H
	destroy func(H)
	what    string
}

func (o *owned[H]) use(f func(H) error) error {
	o.mu.RLock()
	defer o.mu.RUnlock()
	var closed H
	if o.h == closed {
		return argError(StatusNullPointer, "the %s is closed", o.what)
	}
	return f(o.h)
}

// close destroys the plan once; later calls fail with StatusNullPointer.
func (o *owned[H]) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	var closed H
	if o.h != closed {
		o.destroy(o.h)
		o.h = closed
	}
}
