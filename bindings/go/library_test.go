package blocksparse

import (
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func TestVersionDeviceCountDTypeSize(t *testing.T) {
	parts := strings.Split(Version(), ".")
	if len(parts) != 3 {
		t.Fatalf("version %q", Version())
	}
	want := 0
	for _, p := range parts {
		v, err := strconv.Atoi(p)
		must(t, err)
		want = want*100 + v
	}
	if VersionNumber() != want {
		t.Fatalf("VersionNumber %d, Version %q", VersionNumber(), Version())
	}
	if !strings.Contains(BuildInfo(), "backends=") {
		t.Fatalf("build info %q", BuildInfo())
	}
	if n, err := DeviceCount(CPU); err != nil || n != 1 {
		t.Fatalf("CPU devices %d, %v", n, err)
	}
	if n, err := DeviceCount(CUDA); err != nil || n < 0 {
		t.Fatalf("CUDA devices %d, %v", n, err)
	}
	_, err := DeviceCount(Backend(7))
	assertFails(t, err, StatusInvalidValue, "backend")
	for d, want := range map[DType]int{F32: 4, F16: 2, BF16: 2} {
		if n, err := DTypeSize(d); err != nil || n != want {
			t.Fatalf("%v: size %d, %v", d, n, err)
		}
	}
	_, err = DTypeSize(DType(9))
	assertFails(t, err, StatusInvalidValue, "dtype")
}

func TestLastStatusIsPerFailureAndClears(t *testing.T) {
	runtime.LockOSThread() // the library keeps the last status per OS thread
	defer runtime.UnlockOSThread()
	ClearLastError()
	if s := LastStatus(); s != StatusSuccess {
		t.Fatalf("after clear: %v", s)
	}
	_, err := NewPlan([]byte{0, 0}, 1, 2, DefaultParams())
	assertFails(t, err, StatusInvalidLayout, "")
	if s := LastStatus(); s != StatusInvalidLayout {
		t.Fatalf("last status %v after %v", s, err)
	}
	ClearLastError()
	if s := LastStatus(); s != StatusSuccess {
		t.Fatalf("after clear: %v", s)
	}
}

func TestGeneratedConstantsMatchTheLibrary(t *testing.T) {
	// api_gen.go writes the values out; the library names them.
	for _, s := range []Status{StatusSuccess, StatusShapeMismatch, StatusInternalError} {
		if s.String() != map[Status]string{StatusSuccess: "BS_STATUS_SUCCESS", StatusShapeMismatch: "BS_STATUS_SHAPE_MISMATCH",
			StatusInternalError: "BS_STATUS_INTERNAL_ERROR"}[s] {
			t.Fatalf("status %d is %q in the library", int32(s), s.String())
		}
	}
	if BF16.String() != "BS_DTYPE_BF16" || DType(9).String() != "bs_dtype_t(9)" {
		t.Fatalf("DType strings %q %q", BF16, DType(9))
	}
}

func TestPlanShapes(t *testing.T) {
	params := DefaultParams()
	params.BlockSize = 8
	p, err := NewPlan([]byte{1, 0, 1, 1, 0, 1}, 2, 3, params)
	must(t, err)
	defer p.Close()
	if s, err := p.WeightShape(); err != nil || s != [3]int{4, 8, 8} {
		t.Fatalf("weight shape %v, %v", s, err)
	}
	if s, err := p.InputShape(5); err != nil || s != [2]int{5, 16} {
		t.Fatalf("input shape %v, %v", s, err)
	}
	if s, err := p.OutputShape(5); err != nil || s != [2]int{5, 24} {
		t.Fatalf("output shape %v, %v", s, err)
	}
	_, err = p.InputShape(-1)
	assertFails(t, err, StatusInvalidValue, "")
	params.FeatureAxis = 0
	q, err := NewPlan([]byte{1}, 1, 1, params)
	must(t, err)
	if s, err := q.InputShape(3); err != nil || s != [2]int{8, 3} {
		t.Fatalf("axis 0 input shape %v, %v", s, err)
	}
	q.Close()
	_, err = q.WeightShape()
	assertFails(t, err, StatusNullPointer, "closed")
}
