package blocksparse

import (
	"fmt"
	"math"
	"sync"
	"testing"
)

type lnRef struct{ y, mean, rstd, dx, dgain, dbias []float64 }

// layerNormRef is layer norm over `segs` slices of the k features, with its backward, in float64.
func layerNormRef(x, dy, gain, bias []float32, n, k, segs, axis int, eps float64, relu bool) lnRef {
	at := func(r, f int) int {
		if axis == 1 {
			return r*k + f
		}
		return f*n + r
	}
	ks := k / segs
	o := lnRef{make([]float64, n*k), make([]float64, segs*n), make([]float64, segs*n), make([]float64, n*k),
		make([]float64, k), make([]float64, k)}
	for r := 0; r < n; r++ {
		for s := 0; s < segs; s++ {
			var mean, v float64
			for f := s * ks; f < (s+1)*ks; f++ {
				mean += float64(x[at(r, f)]) / float64(ks)
			}
			for f := s * ks; f < (s+1)*ks; f++ {
				d := float64(x[at(r, f)]) - mean
				v += d * d / float64(ks)
			}
			rstd := 1 / math.Sqrt(v+eps)
			o.mean[s*n+r], o.rstd[s*n+r] = mean, rstd
			xhat, u := make([]float64, ks), make([]float64, ks)
			var mu, mux float64
			for j := range xhat {
				f := s*ks + j
				xhat[j] = (float64(x[at(r, f)]) - mean) * rstd
				z := float64(gain[f])*xhat[j] + float64(bias[f])
				g := float64(dy[at(r, f)])
				o.y[at(r, f)] = z
				if relu {
					o.y[at(r, f)] = math.Max(z, 0)
					g *= b2f(z > 0)
				}
				o.dbias[f] += g
				o.dgain[f] += g * xhat[j]
				u[j] = g * float64(gain[f])
				mu += u[j] / float64(ks)
				mux += u[j] * xhat[j] / float64(ks)
			}
			for j := range xhat {
				o.dx[at(r, s*ks+j)] = rstd * (u[j] - mu - xhat[j]*mux)
			}
		}
	}
	return o
}

func TestLayerNormMatchesFloat64(t *testing.T) {
	rng := newRand(t)
	n, k := 7, 12
	for _, c := range []struct {
		axis, segs int
		relu       bool
	}{{1, 1, false}, {0, 1, false}, {1, 3, true}, {0, 2, true}} {
		p := DefaultLayerNormParams()
		p.K, p.FeatureAxis, p.Segments, p.Epsilon, p.ReLU, p.NumThreads = k, int32(c.axis), int32(c.segs), 1e-5, c.relu, 2
		ln, err := NewLayerNorm(p)
		must(t, err)
		defer ln.Close()
		x, dy, gain, bias := uniform(rng, n*k), uniform(rng, n*k), uniform(rng, k), uniform(rng, k)
		y, mean, rstd := poisoned(n*k), poisoned(c.segs*n), poisoned(c.segs*n)
		must(t, LayerNormFprop(ln, n, x, gain, bias, y, mean, rstd))
		dx, dg, db := poisoned(n*k), poisoned(k), poisoned(k)
		must(t, LayerNormBprop(ln, n, dy, x, gain, bias, mean, rstd, dx, dg, db))
		r := layerNormRef(x, dy, gain, bias, n, k, c.segs, c.axis, 1e-5, c.relu)
		what := fmt.Sprintf("axis %d segments %d relu %v", c.axis, c.segs, c.relu)
		assertClose(t, what+" y", y, r.y)
		assertClose(t, what+" mean", mean, r.mean)
		assertClose(t, what+" rstd", rstd, r.rstd)
		assertClose(t, what+" dx", dx, r.dx)
		assertClose(t, what+" dgain", dg, r.dgain)
		assertClose(t, what+" dbias", db, r.dbias)
	}
}

func TestLayerNormBFloat16SharedByGoroutines(t *testing.T) {
	rng := newRand(t)
	n, k := 5, 16
	p := DefaultLayerNormParams()
	p.K, p.DType = k, BF16
	ln, err := NewLayerNorm(p)
	must(t, err)
	defer ln.Close()
	x, xr := make([]BFloat16, n*k), make([]float32, n*k)
	for i, v := range uniform(rng, n*k) {
		x[i] = bf16(v)
		xr[i] = math.Float32frombits(uint32(x[i]) << 16)
	}
	ones, zeros := make([]float32, k), make([]float32, k)
	for i := range ones {
		ones[i] = 1
	}
	want := layerNormRef(xr, xr, ones, zeros, n, k, 1, 1, float64(p.Epsilon), false).y
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for g := range errs {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			y := make([]BFloat16, n*k)
			for i := range y {
				y[i] = 0x7fc0
			}
			if errs[g] = LayerNormFprop(ln, n, x, nil, nil, y, nil, nil); errs[g] != nil {
				return
			}
			var num, den float64
			for i, v := range y {
				d := float64(math.Float32frombits(uint32(v)<<16)) - want[i]
				num, den = num+d*d, den+want[i]*want[i]
			}
			if e := math.Sqrt(num / den); !(e <= 1e-2) {
				errs[g] = fmt.Errorf("bf16 relative error %g", e)
			}
		}(g)
	}
	wg.Wait()
	for _, err := range errs {
		must(t, err)
	}
}

func TestLayerNormBadInputFailsAndWritesNothing(t *testing.T) {
	_, err := NewLayerNorm(DefaultLayerNormParams()) // K unset
	assertFails(t, err, StatusInvalidValue, "")
	p := DefaultLayerNormParams()
	p.K, p.Segments = 6, 4
	_, err = NewLayerNorm(p)
	assertFails(t, err, StatusInvalidValue, "segments")
	p.K, p.Segments = 4, 1
	ln, err := NewLayerNorm(p)
	must(t, err)
	if _, err := ln.WorkspaceSize(LayerNormBpropOp, 8); err != nil {
		t.Fatal(err)
	}
	_, err = ln.WorkspaceSize(LayerNormOp(7), 8)
	assertFails(t, err, StatusInvalidValue, "")
	x, y := uniform(newRand(t), 8), poisoned(8)
	assertFails(t, LayerNormFprop(ln, 2, x[:7], nil, nil, y, nil, nil), StatusShapeMismatch, "x has 7", y)
	assertFails(t, LayerNormFprop(ln, 2, x, x[:3], nil, y, nil, nil), StatusShapeMismatch, "gain", y)
	assertFails(t, LayerNormFprop(ln, 2, make([]BFloat16, 8), nil, nil, make([]BFloat16, 8), nil, nil),
		StatusInvalidValue, "dtype")
	dx := poisoned(8)
	assertFails(t, LayerNormBprop(ln, 2, x, x, nil, nil, x[:2], x[:1], dx, nil, nil), StatusShapeMismatch, "rstd", dx)
	ln.Close()
	ln.Close() // idempotent
	assertFails(t, LayerNormFprop(ln, 2, x, nil, nil, y, nil, nil), StatusNullPointer, "closed", y)
}

func TestSparseProjEveryOpMatchesFloat64(t *testing.T) {
	rng := newRand(t)
	nh, n := 9, 4
	lut := []int64{7, 2, 5, 0}
	np := len(lut)
	for _, axis := range []int{0, 1} {
		p := DefaultSparseProjParams()
		p.FeatureAxis = int32(axis)
		sp, err := NewSparseProj(lut, nh, p)
		must(t, err)
		defer sp.Close()
		hid := func(r, f int) int {
			if axis == 1 {
				return r*nh + f
			}
			return f*n + r
		}
		pro := func(r, j int) int {
			if axis == 1 {
				return r*np + j
			}
			return j*n + r
		}
		x, q, dz := uniform(rng, n*nh), uniform(rng, n*np), uniform(rng, n*nh)
		g, s, za, zm := poisoned(n*np), poisoned(n*nh), poisoned(n*nh), poisoned(n*nh)
		must(t, ProjGather(sp, n, x, g))
		must(t, ProjScatter(sp, n, q, s))
		must(t, ProjScatterAdd(sp, n, x, q, za))
		must(t, ProjScatterMul(sp, n, x, q, zm))
		dxa, dya, dxm, dym := poisoned(n*nh), poisoned(n*np), poisoned(n*nh), poisoned(n*np)
		must(t, ProjScatterAddGrad(sp, n, dz, dxa, dya))
		must(t, ProjScatterMulGrad(sp, n, dz, x, q, dxm, dym))
		gr, sr, zar, zmr := make([]float64, n*np), make([]float64, n*nh), f64s(x), f64s(x)
		dyar, dxmr, dymr := make([]float64, n*np), f64s(dz), make([]float64, n*np)
		for r := 0; r < n; r++ {
			for j, f := range lut {
				h, o := hid(r, int(f)), pro(r, j)
				gr[o], sr[h] = float64(x[h]), float64(q[o])
				zar[h] += float64(q[o])
				zmr[h] *= float64(q[o])
				dyar[o] = float64(dz[h])
				dxmr[h] *= float64(q[o])
				dymr[o] = float64(dz[h]) * float64(x[h])
			}
		}
		assertClose(t, "gather", g, gr)
		assertClose(t, "scatter", s, sr)
		assertClose(t, "scatter_add", za, zar)
		assertClose(t, "scatter_mul", zm, zmr)
		assertClose(t, "scatter_add_grad dx", dxa, f64s(dz))
		assertClose(t, "scatter_add_grad dy", dya, dyar)
		assertClose(t, "scatter_mul_grad dx", dxm, dxmr)
		assertClose(t, "scatter_mul_grad dy", dym, dymr)
	}
}

func TestSparseProjBadInputFailsAndWritesNothing(t *testing.T) {
	for _, lut := range [][]int64{{1, 1}, {0, 9}} {
		_, err := NewSparseProj(lut, 4, DefaultSparseProjParams())
		assertFails(t, err, StatusInvalidValue, "")
	}
	sp, err := NewSparseProj([]int64{3, 1}, 4, DefaultSparseProjParams())
	must(t, err)
	x, y, z := uniform(newRand(t), 8), poisoned(4), poisoned(8)
	assertFails(t, ProjGather(sp, 2, x[:7], y), StatusShapeMismatch, "x has 7", y)
	assertFails(t, ProjScatterAdd(sp, 2, x, x[:3], z), StatusShapeMismatch, "y has 3", z)
	assertFails(t, ProjGather(sp, 2, make([]Float16, 8), make([]Float16, 4)), StatusInvalidValue, "dtype")
	sp.Close()
	assertFails(t, ProjGather(sp, 2, x, y), StatusNullPointer, "closed", y)
}
