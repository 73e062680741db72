package blocksparse

// #include <blocksparse/blocksparse.h>
import "C"

import "runtime"

// VersionNumber is the loaded library's version as major*10000 + minor*100 + patch.
func VersionNumber() int { return int(C.bs_get_version()) }

// DeviceCount is the number of devices a backend can run on: 1 for CPU; the visible GPUs for CUDA
// (0 when the library has no CUDA support or finds no GPU).
func DeviceCount(b Backend) (int, error) {
	var n C.int32_t
	err := call(func() C.bs_status_t { return C.bs_get_device_count(C.bs_backend_t(b), &n) })
	return int(n), err
}

// DTypeSize is the size in bytes of one element of d.
func DTypeSize(d DType) (int, error) {
	var n C.size_t
	err := call(func() C.bs_status_t { return C.bs_dtype_size(C.bs_dtype_t(d), &n) })
	return int(n), err
}

// LastStatus is the status of the calling OS thread's last failed call. The library keeps it per
// thread, so it is only meaningful on a goroutine locked to its thread (runtime.LockOSThread) that
// made the failing call; the *Error of every failed call already carries its status.
func LastStatus() Status { return Status(C.bs_get_last_status()) }

// ClearLastError clears the calling OS thread's last status and message (see LastStatus).
func ClearLastError() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	C.bs_clear_last_error()
}
