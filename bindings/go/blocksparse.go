// Package blocksparse is the Go binding of the blocksparse C library: block-sparse weight matrix
// products (bsmm) on a fixed block layout, computed by the library's CPU backend.
//
// The binding is thin: a Plan owns one bsmm_plan_t (freed once, by Close or by the garbage
// collector), slices go to the library without copies, and every failing status becomes an *Error
// carrying the library's own message. Build with the library's headers and shared object visible
// to cgo, for example
//
//	CGO_CFLAGS="-I<src>/include -I<build>/include" CGO_LDFLAGS="-L<build>/lib -Wl,-rpath,<build>/lib" go test
//
// Only host (CPU) plans are usable from Go: the execute functions take Go slices.
package blocksparse

/*
#cgo LDFLAGS: -lblocksparse
#include <blocksparse/blocksparse.h>
*/
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"
)

// Status (api_gen.go) is an error, so errors.Is(err, StatusShapeMismatch) works on the *Error
// values the binding returns.

// String is the library's static name of the status ("BS_STATUS_SHAPE_MISMATCH").
func (s Status) String() string { return C.GoString(C.bs_status_name(C.bs_status_t(s))) }

// Error is the library's one-sentence description of the status.
func (s Status) Error() string { return C.GoString(C.bs_status_description(C.bs_status_t(s))) }

// Error is a failed call: its status and the detailed message of the library (or of the binding,
// for checks the C API cannot make, such as slice lengths).
type Error struct {
	Status  Status
	Message string
}

func (e *Error) Error() string { return "blocksparse: " + e.Status.String() + ": " + e.Message }

// Unwrap exposes the status to errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Status }

// call runs one library call and, when it fails, reads the message of that failure. The last error
// is kept per OS thread, so the goroutine is pinned to its thread across both cgo calls.
func call(f func() C.bs_status_t) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	st := f()
	if Status(st) == StatusSuccess {
		return nil
	}
	var need C.size_t
	C.bs_get_last_error(nil, 0, &need)
	buf := make([]byte, int(need)+1)
	C.bs_get_last_error((*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)), nil)
	return &Error{Status: Status(st), Message: C.GoString((*C.char)(unsafe.Pointer(&buf[0])))}
}

// argError is a failure found by the binding before calling the library.
func argError(s Status, format string, args ...any) error {
	return &Error{Status: s, Message: fmt.Sprintf(format, args...)}
}

// Version is the loaded library's version string ("major.minor.patch").
func Version() string { return C.GoString(C.bs_get_version_string()) }

// BuildInfo is the loaded library's build description (key=value lines).
func BuildInfo() string { return C.GoString(C.bs_get_build_info()) }
