package blocksparse

// #include <blocksparse/blocksparse.h>
import "C"

// WeightShape is {nnz, b, b}, as the library computes it.
func (p *Plan) WeightShape() (shape [3]int, err error) {
	var s [3]C.int64_t
	err = p.use(func(h C.const_bsmm_plan_t) error {
		return call(func() C.bs_status_t { return C.bsmm_get_weight_shape(h, &s[0]) })
	})
	return [3]int{int(s[0]), int(s[1]), int(s[2])}, err
}

// InputShape is the shape of x for minibatch n: {n, C} (feature axis 1) or {C, n}.
func (p *Plan) InputShape(n int) ([2]int, error) { return p.activationShape(n, true) }

// OutputShape is the shape of y for minibatch n: {n, K} (feature axis 1) or {K, n}.
func (p *Plan) OutputShape(n int) ([2]int, error) { return p.activationShape(n, false) }

func (p *Plan) activationShape(n int, input bool) ([2]int, error) {
	var s [2]C.int64_t
	err := p.use(func(h C.const_bsmm_plan_t) error {
		return call(func() C.bs_status_t {
			if input {
				return C.bsmm_get_input_shape(h, C.int64_t(n), &s[0])
			}
			return C.bsmm_get_output_shape(h, C.int64_t(n), &s[0])
		})
	})
	return [2]int{int(s[0]), int(s[1])}, err
}
