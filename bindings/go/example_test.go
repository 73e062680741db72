package blocksparse_test

import (
	"fmt"

	"blocksparse"
)

// A 2×2 block layout with its diagonal, b = 8, weights initialised to 2·I: y = 2·x.
func Example() {
	params := blocksparse.DefaultParams()
	params.BlockSize = 8
	plan, err := blocksparse.NewPlan([]byte{1, 0, 0, 1}, 2, 2, params)
	if err != nil {
		panic(err)
	}
	defer plan.Close()

	w := make([]float32, plan.WeightLen()) // (nnz, b, b)
	if err := blocksparse.IdentityInit(plan, w, 2); err != nil {
		panic(err)
	}
	n := 1
	x := make([]float32, n*plan.C) // (N, C)
	for i := range x {
		x[i] = float32(i)
	}
	y := make([]float32, n*plan.K) // (N, K)
	if err := blocksparse.Fprop(plan, n, x, w, y, nil); err != nil {
		panic(err)
	}
	fmt.Println(plan.C, plan.K, plan.NNZ, y[:4])

	_, err = blocksparse.NewPlan([]byte{0}, 1, 1, params)
	fmt.Println(err)
	// Output:
	// 16 16 2 [0 2 4 6]
	// blocksparse: BS_STATUS_INVALID_LAYOUT: bsmm_create: layout has no nonzero block
}
