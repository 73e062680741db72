package blocksparse

import (
	"errors"
	"math"
	"math/rand"
	"strings"
	"sync"
	"testing"
	"time"
)

// problem is a random layout with fresh random data and its dense float64 weights.
type problem struct {
	p     *Plan
	dense []float64 // (C, K) row-major
	w     []float32
}

func newProblem(t *testing.T, rng *rand.Rand, cb, kb, b, axis int) problem {
	t.Helper()
	layout := make([]byte, cb*kb)
	for i := range layout {
		if rng.Intn(3) == 0 {
			layout[i] = 1
		}
	}
	layout[rng.Intn(len(layout))] = 1
	params := DefaultParams()
	params.BlockSize, params.FeatureAxis, params.NumThreads = int32(b), int32(axis), 2
	p, err := NewPlan(layout, cb, kb, params)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	pr := problem{p: p, dense: make([]float64, p.C*p.K), w: randSlice(rng, p.WeightLen())}
	for i := 0; i < p.NNZ; i++ {
		c, k, err := p.BlockCoord(i)
		if err != nil || layout[c*kb+k] != 1 {
			t.Fatalf("block %d at (%d, %d): %v", i, c, k, err)
		}
		for r := 0; r < b; r++ {
			for s := 0; s < b; s++ {
				pr.dense[(c*b+r)*p.K+k*b+s] = float64(pr.w[(i*b+r)*b+s])
			}
		}
	}
	return pr
}

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

func poisoned(n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(math.NaN())
	}
	return s
}

// at reads element (row r, feature f) of an activation with `feat` features, minibatch n.
func at(a []float32, axis, n, feat, r, f int) float64 {
	if axis == 1 {
		return float64(a[r*feat+f])
	}
	return float64(a[f*n+r])
}

// relErr is ‖got − ref‖ / ‖ref‖; NaN in got gives +Inf.
func relErr(got []float32, ref []float64) float64 {
	var num, den float64
	for i, g := range got {
		if math.IsNaN(float64(g)) {
			return math.Inf(1)
		}
		d := float64(g) - ref[i]
		num += d * d
		den += ref[i] * ref[i]
	}
	return math.Sqrt(num / den)
}

func TestProductsMatchFloat64Reference(t *testing.T) {
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	for _, axis := range []int{1, 0} {
		for _, n := range []int{1, 7} {
			pr := newProblem(t, rng, 3, 4, 8, axis)
			p := pr.p
			x, dy := randSlice(rng, n*p.C), randSlice(rng, n*p.K)
			y, dx, dw := poisoned(n*p.K), poisoned(n*p.C), poisoned(p.WeightLen())
			if err := Fprop(p, n, x, pr.w, y, nil); err != nil {
				t.Fatal(err)
			}
			if err := Bprop(p, n, dy, pr.w, dx, nil); err != nil {
				t.Fatal(err)
			}
			// Two stacked pairs: (x, dy) and (dy-derived second input, dy).
			x2 := append(append([]float32{}, x...), randSlice(rng, n*p.C)...)
			dy2 := append(append([]float32{}, dy...), randSlice(rng, n*p.K)...)
			if err := Updat(p, n, 2, x2, dy2, dw, nil); err != nil {
				t.Fatal(err)
			}
			yRef, dxRef := make([]float64, len(y)), make([]float64, len(dx))
			for r := 0; r < n; r++ {
				for k := 0; k < p.K; k++ {
					var s float64
					for c := 0; c < p.C; c++ {
						s += at(x, axis, n, p.C, r, c) * pr.dense[c*p.K+k]
					}
					yRef[idx(axis, n, p.K, r, k)] = s
				}
				for c := 0; c < p.C; c++ {
					var s float64
					for k := 0; k < p.K; k++ {
						s += at(dy, axis, n, p.K, r, k) * pr.dense[c*p.K+k]
					}
					dxRef[idx(axis, n, p.C, r, c)] = s
				}
			}
			b := p.BlockSize
			dwRef := make([]float64, len(dw))
			for i := 0; i < p.NNZ; i++ {
				cb, kb, _ := p.BlockCoord(i)
				for u := 0; u < b; u++ {
					for v := 0; v < b; v++ {
						var s float64
						for q := 0; q < 2; q++ {
							xs, ds := x2[q*n*p.C:(q+1)*n*p.C], dy2[q*n*p.K:(q+1)*n*p.K]
							for r := 0; r < n; r++ {
								s += at(xs, axis, n, p.C, r, cb*b+u) * at(ds, axis, n, p.K, r, kb*b+v)
							}
						}
						dwRef[(i*b+u)*b+v] = s
					}
				}
			}
			for name, e := range map[string]float64{"y": relErr(y, yRef), "dx": relErr(dx, dxRef), "dw": relErr(dw, dwRef)} {
				if !(e <= 1e-5) {
					t.Errorf("axis %d N %d: %s relative error %g > 1e-5", axis, n, name, e)
				}
			}
		}
	}
}

func idx(axis, n, feat, r, f int) int {
	if axis == 1 {
		return r*feat + f
	}
	return f*n + r
}

func TestScaleAndGates(t *testing.T) {
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	pr := newProblem(t, rng, 2, 2, 8, 1)
	p, n := pr.p, 3
	x := randSlice(rng, n*p.C)
	y1 := poisoned(n * p.K)
	if err := Fprop(p, n, x, pr.w, y1, nil); err != nil {
		t.Fatal(err)
	}
	y2 := randSlice(rng, n*p.K)
	prev := append([]float32{}, y2...)
	gate := make([]float32, p.NNZ)
	for i := range gate {
		gate[i] = 2
	}
	if err := Fprop(p, n, x, pr.w, y2, &Scale{Alpha: 0.5, Beta: 1, Gate: gate}); err != nil {
		t.Fatal(err)
	}
	for i := range y2 {
		if want := y1[i] + prev[i]; math.Abs(float64(y2[i]-want)) > 1e-5*(1+math.Abs(float64(want))) {
			t.Fatalf("y[%d] = %g, want %g", i, y2[i], want)
		}
	}
}

// bf16 rounds to nearest even (inputs here are finite).
func bf16(f float32) BFloat16 {
	u := math.Float32bits(f)
	return BFloat16((u + 0x7fff + (u>>16)&1) >> 16)
}

func TestBFloat16Fprop(t *testing.T) {
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	params := DefaultParams()
	params.BlockSize, params.DType = 16, BF16
	p, err := NewPlan([]byte{1, 0, 1, 1}, 2, 2, params)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	n := 5
	xf, wf := randSlice(rng, n*p.C), randSlice(rng, p.WeightLen())
	x, w, y := make([]BFloat16, len(xf)), make([]BFloat16, len(wf)), make([]BFloat16, n*p.K)
	for i := range xf {
		x[i] = bf16(xf[i])
	}
	for i := range wf {
		w[i] = bf16(wf[i])
	}
	for i := range y {
		y[i] = 0x7fc0 // NaN
	}
	if err := Fprop(p, n, x, w, y, nil); err != nil {
		t.Fatal(err)
	}
	// Reference: fp32 plan on the bf16-rounded values.
	params.DType = F32
	q, _ := NewPlan([]byte{1, 0, 1, 1}, 2, 2, params)
	defer q.Close()
	up := func(s []BFloat16) []float32 {
		o := make([]float32, len(s))
		for i, v := range s {
			o[i] = math.Float32frombits(uint32(v) << 16)
		}
		return o
	}
	ref := poisoned(n * p.K)
	if err := Fprop(q, n, up(x), up(w), ref, nil); err != nil {
		t.Fatal(err)
	}
	ref64 := make([]float64, len(ref))
	for i, v := range ref {
		ref64[i] = float64(v)
	}
	if e := relErr(up(y), ref64); !(e <= 1e-2) {
		t.Fatalf("bf16 relative error %g > 1e-2", e)
	}
	if err := Fprop(p, n, xf, wf, make([]float32, n*p.K), nil); !errors.Is(err, StatusInvalidValue) {
		t.Fatalf("float32 slices on a bf16 plan: got %v", err)
	}
}

func TestErrorsCarryTheLibraryMessage(t *testing.T) {
	_, err := NewPlan([]byte{0, 0, 0, 0}, 2, 2, DefaultParams())
	var e *Error
	if !errors.As(err, &e) || e.Status != StatusInvalidLayout || !errors.Is(err, StatusInvalidLayout) {
		t.Fatalf("empty layout: got %v", err)
	}
	if e.Message == "" || !strings.Contains(err.Error(), "BS_STATUS_INVALID_LAYOUT") {
		t.Fatalf("no library message: %q", err.Error())
	}
	params := DefaultParams()
	params.BlockSize = 12
	if _, err := NewPlan([]byte{1}, 1, 1, params); !errors.Is(err, StatusInvalidValue) || !strings.Contains(err.Error(), "block_size") {
		t.Fatalf("block size 12: got %v", err)
	}
	if _, err := NewPlanBSR(2, 2, []int64{0, 1, 1}, []int64{5}, DefaultParams()); !errors.Is(err, StatusInvalidLayout) {
		t.Fatalf("column index out of range: got %v", err)
	}
	params.BlockSize = 8
	p, err := NewPlan([]byte{1, 1}, 1, 2, params)
	if err != nil {
		t.Fatal(err)
	}
	y := poisoned(2 * p.K)
	if err := Fprop(p, 2, make([]float32, 2*p.C-1), make([]float32, p.WeightLen()), y, nil); !errors.Is(err, StatusShapeMismatch) {
		t.Fatalf("short x: got %v", err)
	}
	if err := Fprop(p, 2, make([]float32, 2*p.C), make([]float32, p.WeightLen()), y, &Scale{Alpha: float32(math.Inf(1))}); !errors.Is(err, StatusInvalidValue) || !strings.Contains(err.Error(), "alpha") {
		t.Fatalf("infinite alpha: got %v", err)
	}
	for i, v := range y {
		if !math.IsNaN(float64(v)) {
			t.Fatalf("y[%d] written by a failed call", i)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil { // second Close is a no-op
		t.Fatal(err)
	}
	if err := Fprop(p, 2, make([]float32, 2*p.C), make([]float32, p.WeightLen()), y, nil); !errors.Is(err, StatusNullPointer) {
		t.Fatalf("closed plan: got %v", err)
	}
}

func TestConcurrentUseOfOnePlan(t *testing.T) {
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	pr := newProblem(t, rng, 4, 4, 8, 1)
	p, n := pr.p, 9
	x := randSlice(rng, n*p.C)
	want := poisoned(n * p.K)
	if err := Fprop(p, n, x, pr.w, want, nil); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := 0; it < 20; it++ {
				y := poisoned(n * p.K)
				if err := Fprop(p, n, x, pr.w, y, nil); err != nil {
					errs <- err
					return
				}
				for i := range y {
					if y[i] != want[i] { // deterministic: bitwise equal
						errs <- argError(StatusInternalError, "y[%d] differs between goroutines", i)
						return
					}
				}
				// A failing call on this goroutine must report its own message, not another's.
				if err := Fprop(p, -1, x, pr.w, y, nil); err == nil || !strings.Contains(err.Error(), "N must be") {
					errs <- argError(StatusInternalError, "wrong error for N = -1: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestL2NormalizeAndIdentity(t *testing.T) {
	params := DefaultParams()
	params.BlockSize = 8
	p, err := NewPlan([]byte{1, 0, 0, 1}, 2, 2, params)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	w := poisoned(p.WeightLen())
	if err := IdentityInit(p, w, 3); err != nil {
		t.Fatal(err)
	}
	x := randSlice(rand.New(rand.NewSource(time.Now().UnixNano())), 4*p.C)
	y := poisoned(4 * p.K)
	if err := Fprop(p, 4, x, w, y, nil); err != nil {
		t.Fatal(err)
	}
	for i := range y {
		if math.Abs(float64(y[i]-3*x[i])) > 1e-5*(1+math.Abs(float64(x[i]))) {
			t.Fatalf("identity: y[%d] = %g, want %g", i, y[i], 3*x[i])
		}
	}
	wn := poisoned(len(w))
	if err := L2Normalize(p, w, nil, wn, 0); err != nil {
		t.Fatal(err)
	}
	for i, v := range wn { // every column of 3·I has norm 3
		if want := w[i] / 3; math.Abs(float64(v-want)) > 1e-6 {
			t.Fatalf("l2_normalize: [%d] = %g, want %g", i, v, want)
		}
	}
	gain, dgain, dw := []float32{}, []float32(nil), poisoned(len(w))
	if err := L2NormalizeGrad(p, w, w, gain, dw, dgain, 0); !errors.Is(err, StatusShapeMismatch) {
		t.Fatalf("gain without dgain: got %v", err)
	}
}
