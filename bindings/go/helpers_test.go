package blocksparse

import (
	"errors"
	"math"
	"math/rand"
	"strings"
	"testing"
	"time"
)

// Helpers of the family tests: fresh random data (the seed is logged), the float64-reference check
// and the check that a failed call names its status and writes nothing.

func newRand(t *testing.T) *rand.Rand {
	t.Helper()
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	return rand.New(rand.NewSource(seed))
}

// uniform is n values uniform in [-1, 1).
func uniform(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = 2*rng.Float32() - 1
	}
	return s
}

// awayFromZero is n values of magnitude in [0.5, 2), with a random sign when signed (safe for 1/x,
// log and sqrt).
func awayFromZero(rng *rand.Rand, n int, signed bool) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = 0.5 + 1.5*rng.Float32()
		if signed && rng.Intn(2) == 1 {
			s[i] = -s[i]
		}
	}
	return s
}

func f64s(s []float32) []float64 {
	out := make([]float64, len(s))
	for i, v := range s {
		out[i] = float64(v)
	}
	return out
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// assertClose fails unless ‖got − want‖/‖want‖ <= 1e-5 (fp32); a NaN left in got (poison not
// overwritten) never passes, nor does any error against an all-zero reference.
func assertClose(t *testing.T, what string, got []float32, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, reference has %d", what, len(got), len(want))
	}
	var num, den float64
	for i, g := range got {
		if math.IsNaN(float64(g)) {
			t.Fatalf("%s: element %d is NaN (not written)", what, i)
		}
		d := float64(g) - want[i]
		num += d * d
		den += want[i] * want[i]
	}
	if e := math.Sqrt(num / den); !(e <= 1e-5) && !(num == 0 && den == 0) {
		t.Fatalf("%s: relative error %g > 1e-5", what, e)
	}
}

// assertFails checks that err is an *Error of status whose message names needle, and that every
// output slice is still all NaN.
func assertFails(t *testing.T, err error, status Status, needle string, untouched ...[]float32) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("expected a %v failure, got %v", status, err)
	}
	if e.Status != status || !errors.Is(err, status) {
		t.Fatalf("status %v, expected %v (%v)", e.Status, status, err)
	}
	if !strings.Contains(e.Message, needle) {
		t.Fatalf("message %q does not name %q", e.Message, needle)
	}
	for _, s := range untouched {
		for i, v := range s {
			if !math.IsNaN(float64(v)) {
				t.Fatalf("a failed call wrote element %d of an output", i)
			}
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
