package blocksparse

// #include <blocksparse/blocksparse.h>
import "C"

// Float16 holds the bits of an IEEE binary16 value; BFloat16 those of a bfloat16. Go has neither
// type: the binding only moves the bits, and the element type of a slice selects the plan dtype.
type (
	Float16  uint16
	BFloat16 uint16
)

// Element is an element type the library stores: float32 (F32), Float16 (F16), BFloat16 (BF16).
type Element interface {
	float32 | Float16 | BFloat16
}

func dtypeOf[T Element]() DType {
	var zero T
	switch any(zero).(type) {
	case Float16:
		return F16
	case BFloat16:
		return BF16
	default:
		return F32
	}
}

// Params are the creation parameters of a plan (bsmm_params_t). Start from DefaultParams.
type Params struct {
	Backend     Backend
	Device      int32
	BlockSize   int32 // 8, 16, 32, 64 or 128
	FeatureAxis int32 // 1: activations (N, features); 0: (features, N)
	DType       DType
	MathMode    MathMode
	NumThreads  int32 // CPU threads per call, 0 = one per hardware thread
}

// DefaultParams are the library's defaults (CPU, b = 32, feature axis 1, fp32, exact math).
func DefaultParams() Params {
	var p C.bsmm_params_t
	C.bsmm_params_init(&p, C.sizeof_bsmm_params_t)
	return Params{Backend(p.backend), int32(p.device), int32(p.block_size), int32(p.feature_axis),
		DType(p.dtype), MathMode(p.math_mode), int32(p.num_threads)}
}

func (p Params) toC() C.bsmm_params_t {
	var c C.bsmm_params_t
	C.bsmm_params_init(&c, C.sizeof_bsmm_params_t)
	c.backend = C.int32_t(p.Backend)
	c.device = C.int32_t(p.Device)
	c.block_size = C.int32_t(p.BlockSize)
	c.feature_axis = C.int32_t(p.FeatureAxis)
	c.dtype = C.int32_t(p.DType)
	c.math_mode = C.int32_t(p.MathMode)
	c.num_threads = C.int32_t(p.NumThreads)
	return c
}
