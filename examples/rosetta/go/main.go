// The Rosetta example, Go version (see ../README.md): prints the same checksum line as rosetta.c.
package main

import (
	"fmt"
	"os"

	"blocksparse"
)

const (
	seed       = 2024
	b          = 16
	cb, kb, nb = 6, 5, 7
)

func hash(s, i uint32) uint32 {
	x := i*0x9E3779B1 + s
	x ^= x >> 16
	x *= 0x7FEB352D
	x ^= x >> 15
	x *= 0x846CA68B
	x ^= x >> 16
	return x
}

func value(stream, i uint32) float32 {
	return float32(int((hash(seed*4+stream, i)>>8)%17)-8) / 8
}

func main() {
	layout := make([]byte, cb*kb)
	for c := uint32(0); c < cb; c++ {
		for k := uint32(0); k < kb; k++ {
			if hash(seed*4, c*kb+k)%3 == 0 || c%kb == k%cb {
				layout[c*kb+k] = 1
			}
		}
	}
	params := blocksparse.DefaultParams()
	params.BlockSize = b
	plan, err := blocksparse.NewPlan(layout, cb, kb, params)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer plan.Close()
	w := make([]float32, plan.WeightLen())
	for j := range w {
		w[j] = value(1, uint32(j))
	}
	x := make([]float32, nb*plan.C)
	for j := range x {
		x[j] = value(2, uint32(j))
	}
	y := make([]float32, nb*plan.K)
	if err := blocksparse.Fprop(plan, nb, x, w, y, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	checksum := 0.0
	for i, v := range y {
		checksum += float64(v) * float64(i%7+1)
	}
	fmt.Printf("rosetta N=%d C=%d K=%d nnz=%d checksum=%.6f\n", nb, plan.C, plan.K, plan.NNZ, checksum)
}
