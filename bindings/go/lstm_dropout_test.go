package blocksparse

import (
	"math"
	"testing"
)

func TestLSTMGatesForwardAndBackward(t *testing.T) {
	rng := newRand(t)
	n, k, fb := 3, 5, float32(1)
	c, h, bias := uniform(rng, n*k), uniform(rng, n*4*k), uniform(rng, 4*k)
	dcn, dhn := uniform(rng, n*k), uniform(rng, n*k)
	cNext, hNext := poisoned(n*k), poisoned(n*k)
	must(t, LSTMGates(n, k, c, h, bias, fb, cNext, hNext))
	dc, dh, dbias := poisoned(n*k), poisoned(n*4*k), poisoned(4*k)
	must(t, LSTMGatesGrad(n, k, dcn, dhn, c, h, bias, fb, dc, dh, dbias))
	cr, hr, dcr, dhr, dbr := make([]float64, n*k), make([]float64, n*k), make([]float64, n*k),
		make([]float64, n*4*k), make([]float64, 4*k)
	for r := 0; r < n; r++ {
		for j := 0; j < k; j++ {
			g := func(gate int) float64 { return float64(h[r*4*k+gate*k+j]) + float64(bias[gate*k+j]) }
			i, u, f, o := sigmoid(g(0)), math.Tanh(g(1)), sigmoid(g(2)+float64(fb)), sigmoid(g(3))
			cv := float64(c[r*k+j])
			cn := f*cv + i*u
			th := math.Tanh(cn)
			cr[r*k+j], hr[r*k+j] = cn, o*th
			dct := float64(dcn[r*k+j]) + float64(dhn[r*k+j])*o*(1-th*th)
			dcr[r*k+j] = dct * f
			grads := [4]float64{dct * u * i * (1 - i), dct * i * (1 - u*u), dct * cv * f * (1 - f),
				float64(dhn[r*k+j]) * th * o * (1 - o)}
			for gate, v := range grads {
				dhr[r*4*k+gate*k+j] = v
				dbr[gate*k+j] += v
			}
		}
	}
	assertClose(t, "cNext", cNext, cr)
	assertClose(t, "hNext", hNext, hr)
	assertClose(t, "dc", dc, dcr)
	assertClose(t, "dh", dh, dhr)
	assertClose(t, "dbias", dbias, dbr)
}

func TestSplit4AndConcat4AreInverse(t *testing.T) {
	rng := newRand(t)
	n, k := 4, 3
	x := uniform(rng, n*4*k)
	parts := [4][]float32{poisoned(n * k), poisoned(n * k), poisoned(n * k), poisoned(n * k)}
	must(t, Split4(n, k, x, parts))
	for g, part := range parts {
		want := make([]float64, n*k)
		for i := range want {
			want[i] = float64(x[(i/k)*4*k+g*k+i%k])
		}
		assertClose(t, "part", part, want)
	}
	y := poisoned(n * 4 * k)
	must(t, Concat4(n, k, parts, y))
	assertClose(t, "concat4", y, f64s(x))
}

func TestLSTMBadInputFailsAndWritesNothing(t *testing.T) {
	c, h := uniform(newRand(t), 6), uniform(newRand(t), 24)
	cn, hn := poisoned(6), poisoned(6)
	assertFails(t, LSTMGates(2, 3, c, h[:23], nil, 1, cn, hn), StatusShapeMismatch, "h has 23", cn, hn)
	assertFails(t, LSTMGates(2, 3, c, h, nil, float32(math.Inf(1)), cn, hn), StatusInvalidValue, "forget_bias", cn, hn)
	y := poisoned(24)
	assertFails(t, Concat4(2, 3, [4][]float32{c, c, c, c[:5]}, y), StatusShapeMismatch, "in[3]", y)
}

func TestPhiloxMatchesRandom123KnownAnswers(t *testing.T) {
	kats := []struct {
		ctr  [4]uint32
		key  [2]uint32
		want [4]uint32
	}{
		{[4]uint32{}, [2]uint32{}, [4]uint32{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
		{[4]uint32{math.MaxUint32, math.MaxUint32, math.MaxUint32, math.MaxUint32},
			[2]uint32{math.MaxUint32, math.MaxUint32}, [4]uint32{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
		{[4]uint32{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, [2]uint32{0xa4093822, 0x299f31d0},
			[4]uint32{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
	}
	for _, kat := range kats {
		got, err := Philox4x32_10(kat.ctr, kat.key)
		if err != nil || got != kat.want {
			t.Fatalf("philox(%x, %x) = %x, %v; want %x", kat.ctr, kat.key, got, err, kat.want)
		}
	}
}

func TestDropoutMaskFpropApplyFollowTheDocumentedStream(t *testing.T) {
	rng := newRand(t)
	n := 1000 + rng.Intn(100)
	keep, seed, offset := float32(0.7), rng.Uint64(), rng.Uint64()>>8
	mask := make([]uint32, MaskWords(n))
	for i := range mask {
		mask[i] = math.MaxUint32
	}
	must(t, DropoutMask(n, keep, seed, offset, mask))
	bit := func(i int) bool { return mask[i/32]>>(i%32)&1 == 1 }
	// Element i is kept iff word i%4 of Philox(counter = offset + i/4, key = seed) < floor(keep·2³²).
	threshold := uint64(math.Floor(float64(keep) * 4294967296))
	for i := 0; i < n; i += 37 {
		c := offset + uint64(i/4)
		r, err := Philox4x32_10([4]uint32{uint32(c), uint32(c >> 32), 0, 0}, [2]uint32{uint32(seed), uint32(seed >> 32)})
		must(t, err)
		if bit(i) != (uint64(r[i%4]) < threshold) {
			t.Fatalf("element %d", i)
		}
	}
	if n%32 != 0 && mask[len(mask)-1]>>(n%32) != 0 {
		t.Fatal("the unused bits of the last word are not 0")
	}
	kept := 0
	for i := 0; i < n; i++ {
		if bit(i) {
			kept++
		}
	}
	if f := float64(kept) / float64(n); math.Abs(f-0.7) > 0.06 {
		t.Fatalf("kept fraction %g", f)
	}
	x := uniform(rng, n)
	y, stored := poisoned(n), make([]uint32, len(mask))
	must(t, Dropout(x, keep, seed, offset, y, stored))
	want := make([]float64, n)
	for i := range want {
		if bit(i) {
			want[i] = float64(x[i]) * float64(1/keep)
		}
	}
	for i := range stored {
		if stored[i] != mask[i] {
			t.Fatalf("stored mask word %d", i)
		}
	}
	assertClose(t, "fprop", y, want)
	z := poisoned(n)
	must(t, DropoutApply(x, mask, keep, z))
	assertClose(t, "apply", z, want)
}

func TestDropoutBadInputFailsAndWritesNothing(t *testing.T) {
	x := uniform(newRand(t), 64)
	y := poisoned(64)
	assertFails(t, Dropout(x, 0, 1, 0, y, nil), StatusInvalidValue, "keep_prob", y)
	assertFails(t, Dropout(x, float32(math.NaN()), 1, 0, y, nil), StatusInvalidValue, "keep_prob", y)
	assertFails(t, Dropout(x, 0.5, 1, 0, y, make([]uint32, 1)), StatusShapeMismatch, "mask", y)
	assertFails(t, DropoutApply(x, make([]uint32, 3), 0.5, y), StatusShapeMismatch, "mask", y)
	assertFails(t, DropoutMask(64, 0.5, 1, 0, make([]uint32, 1)), StatusShapeMismatch, "mask")
}
