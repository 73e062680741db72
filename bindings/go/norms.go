package blocksparse

// #include <blocksparse/blocksparse.h>
import "C"

// Batch normalisation and channel-wise linear (bs_norms.h, the original's batch_norm,
// batch_norm_inference and cwise_linear) on host slices. Activations are (N, C, S) row-major, S the
// product of the spatial dimensions (1 for (N, C)); per-channel vectors have C fp32 entries; nil
// gain/a means ones, nil bias/b zeros. Reductions are fp32 in a fixed order: deterministic.

// NCS is the shape (N, C, S) of the activations of one call.
type NCS struct{ N, C, S int }

func (s NCS) len() int { return size(s.N, s.C, s.S) }

func (s NCS) args() (C.int64_t, C.int64_t, C.int64_t) {
	return C.int64_t(s.N), C.int64_t(s.C), C.int64_t(s.S)
}

func fptr(s []float32) *C.float { return (*C.float)(ptr(s)) }

// BatchNormTrain is batch norm's forward in training mode: per channel it writes the biased batch
// statistics mean and variance (C each) and y = gain·(x-mean)/sqrt(variance+epsilon) + bias.
func BatchNormTrain[T Element](sh NCS, x []T, gain, bias []float32, epsilon float32, y []T,
	mean, variance []float32) error {
	if err := checkLens("bs_batchnorm_fprop_train", length{"x", len(x), sh.len()}, length{"y", len(y), sh.len()},
		opt("gain", gain, sh.C), opt("bias", bias, sh.C), length{"mean", len(mean), sh.C},
		length{"variance", len(variance), sh.C}); err != nil {
		return err
	}
	n, c, s := sh.args()
	return call(func() C.bs_status_t {
		return C.bs_batchnorm_fprop_train(host, cdtype[T](), n, c, s, ptr(x), fptr(gain), fptr(bias), C.float(epsilon),
			ptr(y), fptr(mean), fptr(variance), nil)
	})
}

// BatchNormInfer is batch norm's forward with given statistics.
func BatchNormInfer[T Element](sh NCS, x []T, gain, bias, mean, variance []float32, epsilon float32, y []T) error {
	if err := checkLens("bs_batchnorm_fprop_infer", length{"x", len(x), sh.len()}, length{"y", len(y), sh.len()},
		opt("gain", gain, sh.C), opt("bias", bias, sh.C), length{"mean", len(mean), sh.C},
		length{"variance", len(variance), sh.C}); err != nil {
		return err
	}
	n, c, s := sh.args()
	return call(func() C.bs_status_t {
		return C.bs_batchnorm_fprop_infer(host, cdtype[T](), n, c, s, ptr(x), fptr(gain), fptr(bias), fptr(mean),
			fptr(variance), C.float(epsilon), ptr(y), nil)
	})
}

// BatchNormGrad is batch norm's backward (of BatchNormTrain when training, else of BatchNormInfer):
// dx, and dgain and dbias (C each) unless nil.
func BatchNormGrad[T Element](training bool, sh NCS, dy, x []T, gain, mean, variance []float32, epsilon float32,
	dx []T, dgain, dbias []float32) error {
	if err := checkLens("bs_batchnorm_bprop", length{"dy", len(dy), sh.len()}, length{"x", len(x), sh.len()},
		length{"dx", len(dx), sh.len()}, opt("gain", gain, sh.C), length{"mean", len(mean), sh.C},
		length{"variance", len(variance), sh.C}, opt("dgain", dgain, sh.C), opt("dbias", dbias, sh.C)); err != nil {
		return err
	}
	n, c, s := sh.args()
	return call(func() C.bs_status_t {
		return C.bs_batchnorm_bprop(host, cdtype[T](), flag(training), n, c, s, ptr(dy), ptr(x), fptr(gain),
			fptr(mean), fptr(variance), C.float(epsilon), ptr(dx), fptr(dgain), fptr(dbias), nil)
	})
}

// CwiseLinear computes y = relu?(a·x + b), or y = relu?(a·(x + b)) with biasFirst.
func CwiseLinear[T Element](sh NCS, x []T, a, b []float32, relu, biasFirst bool, y []T) error {
	if err := checkLens("bs_cwise_linear_fprop", length{"x", len(x), sh.len()}, length{"y", len(y), sh.len()},
		opt("a", a, sh.C), opt("b", b, sh.C)); err != nil {
		return err
	}
	n, c, s := sh.args()
	return call(func() C.bs_status_t {
		return C.bs_cwise_linear_fprop(host, cdtype[T](), n, c, s, ptr(x), fptr(a), fptr(b), flag(relu),
			flag(biasFirst), ptr(y), nil)
	})
}

// CwiseLinearGrad is the backward of CwiseLinear: dx, da and db, each skipped when nil.
func CwiseLinearGrad[T Element](sh NCS, dy, x []T, a, b []float32, relu, biasFirst bool, dx []T,
	da, db []float32) error {
	if err := checkLens("bs_cwise_linear_bprop", length{"dy", len(dy), sh.len()}, length{"x", len(x), sh.len()},
		opt("dx", dx, sh.len()), opt("a", a, sh.C), opt("b", b, sh.C), opt("da", da, sh.C),
		opt("db", db, sh.C)); err != nil {
		return err
	}
	n, c, s := sh.args()
	return call(func() C.bs_status_t {
		return C.bs_cwise_linear_bprop(host, cdtype[T](), n, c, s, ptr(dy), ptr(x), fptr(a), fptr(b), flag(relu),
			flag(biasFirst), ptr(dx), fptr(da), fptr(db), nil)
	})
}
