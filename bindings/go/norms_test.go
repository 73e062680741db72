package blocksparse

import (
	"fmt"
	"math"
	"testing"
)

func TestBatchNormTrainInferAndBothBackwards(t *testing.T) {
	rng := newRand(t)
	sh := NCS{N: 4, C: 3, S: 5}
	l := sh.N * sh.C * sh.S
	ch := func(i int) int { return (i / sh.S) % sh.C }
	const eps = 1e-5
	x, dy, gain, bias := uniform(rng, l), uniform(rng, l), uniform(rng, sh.C), uniform(rng, sh.C)
	y, mean, variance := poisoned(l), poisoned(sh.C), poisoned(sh.C)
	must(t, BatchNormTrain(sh, x, gain, bias, eps, y, mean, variance))
	m := float64(sh.N * sh.S)
	mr, vr := make([]float64, sh.C), make([]float64, sh.C)
	for i, v := range x {
		mr[ch(i)] += float64(v) / m
	}
	for i, v := range x {
		vr[ch(i)] += (float64(v) - mr[ch(i)]) * (float64(v) - mr[ch(i)]) / m
	}
	xhat, yr := make([]float64, l), make([]float64, l)
	for i, v := range x {
		c := ch(i)
		xhat[i] = (float64(v) - mr[c]) / math.Sqrt(vr[c]+eps)
		yr[i] = float64(gain[c])*xhat[i] + float64(bias[c])
	}
	assertClose(t, "train y", y, yr)
	assertClose(t, "mean", mean, mr)
	assertClose(t, "variance", variance, vr)
	yi := poisoned(l)
	must(t, BatchNormInfer(sh, x, gain, bias, mean, variance, eps, yi))
	assertClose(t, "infer y", yi, yr)

	dbr, dgr := make([]float64, sh.C), make([]float64, sh.C)
	for i, g := range dy {
		dbr[ch(i)] += float64(g)
		dgr[ch(i)] += float64(g) * xhat[i]
	}
	for _, training := range []bool{true, false} {
		dx, dg, db := poisoned(l), poisoned(sh.C), poisoned(sh.C)
		must(t, BatchNormGrad(training, sh, dy, x, gain, mean, variance, eps, dx, dg, db))
		dxr := make([]float64, l)
		for i := range dxr {
			c := ch(i)
			g := float64(gain[c]) / math.Sqrt(vr[c]+eps)
			dxr[i] = g * float64(dy[i])
			if training {
				dxr[i] = g * (float64(dy[i]) - dbr[c]/m - xhat[i]*dgr[c]/m)
			}
		}
		assertClose(t, fmt.Sprintf("training=%v dx", training), dx, dxr)
		assertClose(t, "dgain", dg, dgr)
		assertClose(t, "dbias", db, dbr)
	}
}

func TestCwiseLinearWithReluAndBiasFirst(t *testing.T) {
	rng := newRand(t)
	sh := NCS{N: 3, C: 4, S: 6}
	l := sh.N * sh.C * sh.S
	for _, relu := range []bool{false, true} {
		for _, biasFirst := range []bool{false, true} {
			x, dy, a, b := uniform(rng, l), uniform(rng, l), uniform(rng, sh.C), uniform(rng, sh.C)
			y, dx, da, db := poisoned(l), poisoned(l), poisoned(sh.C), poisoned(sh.C)
			must(t, CwiseLinear(sh, x, a, b, relu, biasFirst, y))
			must(t, CwiseLinearGrad(sh, dy, x, a, b, relu, biasFirst, dx, da, db))
			yr, dxr, dar, dbr := make([]float64, l), make([]float64, l), make([]float64, sh.C), make([]float64, sh.C)
			for i := range x {
				c := (i / sh.S) % sh.C
				xv, av, bv := float64(x[i]), float64(a[c]), float64(b[c])
				pre, in := av*xv+bv, xv
				if biasFirst {
					pre, in = av*(xv+bv), xv+bv
				}
				yr[i] = pre
				g := float64(dy[i])
				if relu {
					yr[i] = math.Max(pre, 0)
					g *= b2f(pre > 0)
				}
				dxr[i] = av * g
				dar[c] += g * in
				if biasFirst {
					dbr[c] += av * g
				} else {
					dbr[c] += g
				}
			}
			what := fmt.Sprintf("relu=%v biasFirst=%v", relu, biasFirst)
			assertClose(t, what+" y", y, yr)
			assertClose(t, what+" dx", dx, dxr)
			assertClose(t, what+" da", da, dar)
			assertClose(t, what+" db", db, dbr)
		}
	}
}

func TestNormsBadInputFailsAndWritesNothing(t *testing.T) {
	sh := NCS{N: 2, C: 3, S: 2}
	x := uniform(newRand(t), 12)
	y, mean, variance := poisoned(12), poisoned(3), poisoned(3)
	assertFails(t, BatchNormTrain(sh, x, nil, nil, -1, y, mean, variance), StatusInvalidValue, "epsilon", y, mean, variance)
	assertFails(t, BatchNormTrain(sh, x, nil, nil, 1e-5, y, mean[:2], variance), StatusShapeMismatch, "mean", y)
	assertFails(t, BatchNormTrain[float32](NCS{0, 3, 2}, nil, nil, nil, 1e-5, nil, mean, variance),
		StatusInvalidValue, "", mean, variance)
	assertFails(t, CwiseLinear(sh, x[:11], nil, nil, false, false, y), StatusShapeMismatch, "x has 11", y)
	dx := poisoned(12)
	assertFails(t, BatchNormGrad(true, sh, x, x, nil, x[:3], x[:2], 1e-5, dx, nil, nil), StatusShapeMismatch,
		"variance", dx)
}
