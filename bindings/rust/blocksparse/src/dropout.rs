//! Dropout from the counter-based Philox4x32-10 generator (`bs_dropout.h`), with a bit-packed mask
//! (element i is bit `i % 32` of word `i / 32`) that can be regenerated from `(seed, offset)`. The
//! random stream is the same on every backend, build and device; one call consumes `ceil(n/4)`
//! counters of `offset`.
use blocksparse_sys as sys;

use crate::error::{check, Result};
use crate::host::{check_lens, i64_of, mut_ptr_of, opt_mut_len, opt_mut_ptr, ptr_of, HOST};
use crate::types::Element;

/// Words of the mask of `n` elements: `ceil(n/32)`.
pub fn mask_words(n: usize) -> usize {
    (n + 31) / 32
}

/// One Philox4x32-10 block: 4 random words from a 4-word counter and a 2-word key.
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> Result<[u32; 4]> {
    let mut out = [0u32; 4];
    check(unsafe { sys::bs_philox4x32_10(counter.as_ptr(), key.as_ptr(), out.as_mut_ptr()) })?;
    Ok(out)
}

/// Writes into `mask` (`mask_words(n)` words) the keep mask of `n` elements drawn from `(seed, offset)`.
pub fn mask(n: usize, keep_prob: f32, seed: u64, offset: u64, mask: &mut [u32]) -> Result<()> {
    check_lens("bs_dropout_mask", &[("mask", mask.len(), Some(mask_words(n)))])?;
    check(unsafe {
        sys::bs_dropout_mask(
            HOST,
            i64_of(n, "n")?,
            keep_prob,
            seed,
            offset,
            mut_ptr_of(mask).cast(),
            std::ptr::null_mut(),
        )
    })
}

/// `y = x·mask/keep_prob` with the mask drawn from `(seed, offset)`; stores the mask when given.
pub fn fprop<T: Element>(
    x: &[T],
    keep_prob: f32,
    seed: u64,
    offset: u64,
    y: &mut [T],
    mask: Option<&mut [u32]>,
) -> Result<()> {
    let words = Some(mask_words(x.len()));
    check_lens("bs_dropout_fprop", &[("y", y.len(), Some(x.len())), ("mask", opt_mut_len(&mask, words), words)])?;
    check(unsafe {
        sys::bs_dropout_fprop(
            HOST,
            T::DTYPE as i32,
            i64_of(x.len(), "n")?,
            ptr_of(x),
            keep_prob,
            seed,
            offset,
            mut_ptr_of(y),
            opt_mut_ptr(mask),
            std::ptr::null_mut(),
        )
    })
}

/// `y = x·mask/keep_prob` with a given mask: dropout's backward (x = dy) or a forward reusing a mask.
pub fn apply<T: Element>(x: &[T], mask: &[u32], keep_prob: f32, y: &mut [T]) -> Result<()> {
    check_lens("bs_dropout_apply", &[("y", y.len(), Some(x.len())), ("mask", mask.len(), Some(mask_words(x.len())))])?;
    check(unsafe {
        sys::bs_dropout_apply(
            HOST,
            T::DTYPE as i32,
            i64_of(x.len(), "n")?,
            ptr_of(x),
            ptr_of(mask).cast(),
            keep_prob,
            mut_ptr_of(y),
            std::ptr::null_mut(),
        )
    })
}
