//! Fused LSTM cell gates and the 4-way split/concat along axis 1 (`bs_lstm.h`, the original's
//! `fused_lstm_gates`, `split4`, `concat4`). `h` holds the gate pre-activations `(N, 4K)` in the
//! order `[i, u, f, o]`; cell states and outputs are `(N, K)`; the bias is `4K` fp32.
use blocksparse_sys as sys;

use crate::error::{check, Result};
use crate::host::{check_lens, i64_of, mut_ptr_of, opt_len, opt_mut_len, opt_mut_ptr, opt_ptr, ptr_of, size, HOST};
use crate::types::Element;

fn lens(n: usize, k: usize) -> (Option<usize>, Option<usize>) {
    (size(&[n, k]), size(&[n, 4, k]))
}

/// `c' = σ(f + forget_bias)·c + σ(i)·tanh(u)`, `h' = σ(o)·tanh(c')` (bias added to h first).
#[allow(clippy::too_many_arguments)]
pub fn gates_fprop<T: Element>(
    n: usize,
    k: usize,
    c: &[T],
    h: &[T],
    bias: Option<&[f32]>,
    forget_bias: f32,
    c_next: &mut [T],
    h_next: &mut [T],
) -> Result<()> {
    let (nk, n4k) = lens(n, k);
    let k4 = k.checked_mul(4);
    check_lens(
        "bs_lstm_gates_fprop",
        &[
            ("c", c.len(), nk),
            ("h", h.len(), n4k),
            ("bias", opt_len(&bias, k4), k4),
            ("c_next", c_next.len(), nk),
            ("h_next", h_next.len(), nk),
        ],
    )?;
    check(unsafe {
        sys::bs_lstm_gates_fprop(
            HOST,
            T::DTYPE as i32,
            i64_of(n, "N")?,
            i64_of(k, "K")?,
            ptr_of(c),
            ptr_of(h),
            opt_ptr(bias),
            forget_bias,
            mut_ptr_of(c_next),
            mut_ptr_of(h_next),
            std::ptr::null_mut(),
        )
    })
}

/// Backward of [`gates_fprop`] (gates recomputed from c, h, bias): `dc`, `dh` (the gate
/// pre-activations' gradient) and, when given, `dbias`. `dc_next`/`dh_next` None mean zero.
#[allow(clippy::too_many_arguments)]
pub fn gates_bprop<T: Element>(
    n: usize,
    k: usize,
    dc_next: Option<&[T]>,
    dh_next: Option<&[T]>,
    c: &[T],
    h: &[T],
    bias: Option<&[f32]>,
    forget_bias: f32,
    dc: &mut [T],
    dh: &mut [T],
    dbias: Option<&mut [f32]>,
) -> Result<()> {
    let (nk, n4k) = lens(n, k);
    let k4 = k.checked_mul(4);
    check_lens(
        "bs_lstm_gates_bprop",
        &[
            ("dc_next", opt_len(&dc_next, nk), nk),
            ("dh_next", opt_len(&dh_next, nk), nk),
            ("c", c.len(), nk),
            ("h", h.len(), n4k),
            ("bias", opt_len(&bias, k4), k4),
            ("dc", dc.len(), nk),
            ("dh", dh.len(), n4k),
            ("dbias", opt_mut_len(&dbias, k4), k4),
        ],
    )?;
    check(unsafe {
        sys::bs_lstm_gates_bprop(
            HOST,
            T::DTYPE as i32,
            i64_of(n, "N")?,
            i64_of(k, "K")?,
            opt_ptr(dc_next).cast(),
            opt_ptr(dh_next).cast(),
            ptr_of(c),
            ptr_of(h),
            opt_ptr(bias),
            forget_bias,
            mut_ptr_of(dc),
            mut_ptr_of(dh),
            opt_mut_ptr(dbias),
            std::ptr::null_mut(),
        )
    })
}

/// Splits `x (n, 4k)` into four `(n, k)` slices: `out[g][r, j] = x[r, g·k + j]`.
pub fn split4<T: Element>(n: usize, k: usize, x: &[T], out: [&mut [T]; 4]) -> Result<()> {
    let (nk, n4k) = lens(n, k);
    check_lens(
        "bs_split4",
        &[
            ("x", x.len(), n4k),
            ("out[0]", out[0].len(), nk),
            ("out[1]", out[1].len(), nk),
            ("out[2]", out[2].len(), nk),
            ("out[3]", out[3].len(), nk),
        ],
    )?;
    let [o0, o1, o2, o3] = out;
    let ptrs = [mut_ptr_of(o0), mut_ptr_of(o1), mut_ptr_of(o2), mut_ptr_of(o3)];
    check(unsafe {
        sys::bs_split4(
            HOST,
            T::DTYPE as i32,
            i64_of(n, "N")?,
            i64_of(k, "K")?,
            ptr_of(x),
            ptrs.as_ptr(),
            std::ptr::null_mut(),
        )
    })
}

/// Concatenates four `(n, k)` slices into `y (n, 4k)` along axis 1 (the gradient of [`split4`]).
pub fn concat4<T: Element>(n: usize, k: usize, inputs: [&[T]; 4], y: &mut [T]) -> Result<()> {
    let (nk, n4k) = lens(n, k);
    check_lens(
        "bs_concat4",
        &[
            ("y", y.len(), n4k),
            ("in[0]", inputs[0].len(), nk),
            ("in[1]", inputs[1].len(), nk),
            ("in[2]", inputs[2].len(), nk),
            ("in[3]", inputs[3].len(), nk),
        ],
    )?;
    let ptrs = inputs.map(|s| ptr_of(s));
    check(unsafe {
        sys::bs_concat4(
            HOST,
            T::DTYPE as i32,
            i64_of(n, "N")?,
            i64_of(k, "K")?,
            ptrs.as_ptr(),
            mut_ptr_of(y),
            std::ptr::null_mut(),
        )
    })
}
