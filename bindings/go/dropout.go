package blocksparse

// #include <blocksparse/blocksparse.h>
import "C"

// Dropout from the counter-based Philox4x32-10 generator (bs_dropout.h), with a bit-packed mask
// (element i is bit i%32 of word i/32) that can be regenerated from (seed, offset). The random
// stream is the same on every backend, build and device; a call consumes ceil(n/4) counters.

// MaskWords is the number of uint32 words of the mask of n elements: ceil(n/32).
func MaskWords(n int) int { return (n + 31) / 32 }

// Philox4x32_10 is one Philox4x32-10 block: four random words from a 4-word counter and a 2-word key.
func Philox4x32_10(counter [4]uint32, key [2]uint32) (out [4]uint32, err error) {
	var o [4]C.uint32_t
	c := [4]C.uint32_t{C.uint32_t(counter[0]), C.uint32_t(counter[1]), C.uint32_t(counter[2]), C.uint32_t(counter[3])}
	k := [2]C.uint32_t{C.uint32_t(key[0]), C.uint32_t(key[1])}
	err = call(func() C.bs_status_t { return C.bs_philox4x32_10(&c[0], &k[0], &o[0]) })
	return [4]uint32{uint32(o[0]), uint32(o[1]), uint32(o[2]), uint32(o[3])}, err
}

// DropoutMask writes the keep mask of n elements drawn from (seed, offset) into mask (MaskWords(n) words).
func DropoutMask(n int, keepProb float32, seed, offset uint64, mask []uint32) error {
	if err := checkLens("bs_dropout_mask", length{"mask", len(mask), MaskWords(n)}); err != nil {
		return err
	}
	return call(func() C.bs_status_t {
		return C.bs_dropout_mask(host, C.int64_t(n), C.float(keepProb), C.uint64_t(seed), C.uint64_t(offset),
			(*C.uint32_t)(ptr(mask)), nil)
	})
}

// Dropout computes y = x·mask/keepProb with the mask drawn from (seed, offset), and stores the mask
// unless it is nil.
func Dropout[T Element](x []T, keepProb float32, seed, offset uint64, y []T, mask []uint32) error {
	if err := checkLens("bs_dropout_fprop", length{"y", len(y), len(x)}, opt("mask", mask, MaskWords(len(x)))); err != nil {
		return err
	}
	return call(func() C.bs_status_t {
		return C.bs_dropout_fprop(host, cdtype[T](), C.int64_t(len(x)), ptr(x), C.float(keepProb), C.uint64_t(seed),
			C.uint64_t(offset), ptr(y), (*C.uint32_t)(ptr(mask)), nil)
	})
}

// DropoutApply computes y = x·mask/keepProb with a given mask: dropout's backward (x = dy).
func DropoutApply[T Element](x []T, mask []uint32, keepProb float32, y []T) error {
	if err := checkLens("bs_dropout_apply", length{"y", len(y), len(x)},
		length{"mask", len(mask), MaskWords(len(x))}); err != nil {
		return err
	}
	return call(func() C.bs_status_t {
		return C.bs_dropout_apply(host, cdtype[T](), C.int64_t(len(x)), ptr(x), (*C.uint32_t)(ptr(mask)),
			C.float(keepProb), ptr(y), nil)
	})
}
