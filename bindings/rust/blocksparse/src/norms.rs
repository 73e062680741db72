//! Batch normalisation and channel-wise linear (`bs_norms.h`, the original's `batch_norm`,
//! `batch_norm_inference` and `cwise_linear`) on host slices. Activations are `(N, C, S)` row-major
//! (S the product of the spatial dimensions, 1 for `(N, C)`); per-channel vectors are `C` fp32.
//! Reductions run in fp32 in a fixed order: deterministic.
use blocksparse_sys as sys;

use crate::error::{check, Result};
use crate::host::{check_lens, flag, i64_of, mut_ptr_of, opt_len, opt_mut_len, opt_mut_ptr, opt_ptr, ptr_of, size};
use crate::host::{Len, HOST};
use crate::types::Element;

/// The shape `(N, C, S)` of the activations of one call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ncs {
    pub n: usize,
    pub c: usize,
    pub s: usize,
}

impl Ncs {
    fn len(self) -> Option<usize> {
        size(&[self.n, self.c, self.s])
    }
    fn args(self) -> Result<(i64, i64, i64)> {
        Ok((i64_of(self.n, "N")?, i64_of(self.c, "C")?, i64_of(self.s, "S")?))
    }
}

fn vec_lens<'a>(c: usize, vecs: &[(&'a str, usize)]) -> Vec<Len<'a>> {
    vecs.iter().map(|&(name, len)| (name, len, Some(c))).collect()
}

/// Batch norm forward in training mode: per channel, the biased batch statistics `mean`, `var`
/// (written, C each) and `y = gain·(x-mean)/sqrt(var+epsilon) + bias` (gain None: ones, bias None:
/// zeros).
#[allow(clippy::too_many_arguments)]
pub fn batchnorm_fprop_train<T: Element>(
    shape: Ncs,
    x: &[T],
    gain: Option<&[f32]>,
    bias: Option<&[f32]>,
    epsilon: f32,
    y: &mut [T],
    mean: &mut [f32],
    var: &mut [f32],
) -> Result<()> {
    let func = "bs_batchnorm_fprop_train";
    let mut lens = vec![("x", x.len(), shape.len()), ("y", y.len(), shape.len())];
    lens.extend(vec_lens(
        shape.c,
        &[
            ("gain", opt_len(&gain, Some(shape.c))),
            ("bias", opt_len(&bias, Some(shape.c))),
            ("mean", mean.len()),
            ("var", var.len()),
        ],
    ));
    check_lens(func, &lens)?;
    let (n, c, s) = shape.args()?;
    check(unsafe {
        sys::bs_batchnorm_fprop_train(
            HOST,
            T::DTYPE as i32,
            n,
            c,
            s,
            ptr_of(x),
            opt_ptr(gain),
            opt_ptr(bias),
            epsilon,
            mut_ptr_of(y),
            mut_ptr_of(mean).cast(),
            mut_ptr_of(var).cast(),
            std::ptr::null_mut(),
        )
    })
}

/// Batch norm forward with given statistics: `y = gain·(x-mean)/sqrt(var+epsilon) + bias`.
#[allow(clippy::too_many_arguments)]
pub fn batchnorm_fprop_infer<T: Element>(
    shape: Ncs,
    x: &[T],
    gain: Option<&[f32]>,
    bias: Option<&[f32]>,
    mean: &[f32],
    var: &[f32],
    epsilon: f32,
    y: &mut [T],
) -> Result<()> {
    let mut lens = vec![("x", x.len(), shape.len()), ("y", y.len(), shape.len())];
    lens.extend(vec_lens(
        shape.c,
        &[
            ("gain", opt_len(&gain, Some(shape.c))),
            ("bias", opt_len(&bias, Some(shape.c))),
            ("mean", mean.len()),
            ("var", var.len()),
        ],
    ));
    check_lens("bs_batchnorm_fprop_infer", &lens)?;
    let (n, c, s) = shape.args()?;
    check(unsafe {
        sys::bs_batchnorm_fprop_infer(
            HOST,
            T::DTYPE as i32,
            n,
            c,
            s,
            ptr_of(x),
            opt_ptr(gain),
            opt_ptr(bias),
            ptr_of(mean).cast(),
            ptr_of(var).cast(),
            epsilon,
            mut_ptr_of(y),
            std::ptr::null_mut(),
        )
    })
}

/// Batch norm backward (of [`batchnorm_fprop_train`] when `training`, else of
/// [`batchnorm_fprop_infer`]): `dx`, and `dgain`, `dbias` (C each) when given.
#[allow(clippy::too_many_arguments)]
pub fn batchnorm_bprop<T: Element>(
    training: bool,
    shape: Ncs,
    dy: &[T],
    x: &[T],
    gain: Option<&[f32]>,
    mean: &[f32],
    var: &[f32],
    epsilon: f32,
    dx: &mut [T],
    dgain: Option<&mut [f32]>,
    dbias: Option<&mut [f32]>,
) -> Result<()> {
    let c = Some(shape.c);
    let mut lens = vec![("dy", dy.len(), shape.len()), ("x", x.len(), shape.len()), ("dx", dx.len(), shape.len())];
    lens.extend(vec_lens(
        shape.c,
        &[
            ("gain", opt_len(&gain, c)),
            ("mean", mean.len()),
            ("var", var.len()),
            ("dgain", opt_mut_len(&dgain, c)),
            ("dbias", opt_mut_len(&dbias, c)),
        ],
    ));
    check_lens("bs_batchnorm_bprop", &lens)?;
    let (n, cc, s) = shape.args()?;
    check(unsafe {
        sys::bs_batchnorm_bprop(
            HOST,
            T::DTYPE as i32,
            flag(training),
            n,
            cc,
            s,
            ptr_of(dy),
            ptr_of(x),
            opt_ptr(gain),
            ptr_of(mean).cast(),
            ptr_of(var).cast(),
            epsilon,
            mut_ptr_of(dx),
            opt_mut_ptr(dgain),
            opt_mut_ptr(dbias),
            std::ptr::null_mut(),
        )
    })
}

/// Channel-wise linear `y = relu?(a·x + b)` (`a·(x + b)` with `bias_first`); a None: ones, b None: zeros.
#[allow(clippy::too_many_arguments)]
pub fn cwise_linear_fprop<T: Element>(
    shape: Ncs,
    x: &[T],
    a: Option<&[f32]>,
    b: Option<&[f32]>,
    relu: bool,
    bias_first: bool,
    y: &mut [T],
) -> Result<()> {
    let c = Some(shape.c);
    let mut lens = vec![("x", x.len(), shape.len()), ("y", y.len(), shape.len())];
    lens.extend(vec_lens(shape.c, &[("a", opt_len(&a, c)), ("b", opt_len(&b, c))]));
    check_lens("bs_cwise_linear_fprop", &lens)?;
    let (n, cc, s) = shape.args()?;
    check(unsafe {
        sys::bs_cwise_linear_fprop(
            HOST,
            T::DTYPE as i32,
            n,
            cc,
            s,
            ptr_of(x),
            opt_ptr(a),
            opt_ptr(b),
            flag(relu),
            flag(bias_first),
            mut_ptr_of(y),
            std::ptr::null_mut(),
        )
    })
}

/// Backward of [`cwise_linear_fprop`]: `dx`, `da`, `db`, each optional.
#[allow(clippy::too_many_arguments)]
pub fn cwise_linear_bprop<T: Element>(
    shape: Ncs,
    dy: &[T],
    x: &[T],
    a: Option<&[f32]>,
    b: Option<&[f32]>,
    relu: bool,
    bias_first: bool,
    dx: Option<&mut [T]>,
    da: Option<&mut [f32]>,
    db: Option<&mut [f32]>,
) -> Result<()> {
    let c = Some(shape.c);
    let mut lens = vec![
        ("dy", dy.len(), shape.len()),
        ("x", x.len(), shape.len()),
        ("dx", opt_mut_len(&dx, shape.len()), shape.len()),
    ];
    lens.extend(vec_lens(
        shape.c,
        &[("a", opt_len(&a, c)), ("b", opt_len(&b, c)), ("da", opt_mut_len(&da, c)), ("db", opt_mut_len(&db, c))],
    ));
    check_lens("bs_cwise_linear_bprop", &lens)?;
    let (n, cc, s) = shape.args()?;
    check(unsafe {
        sys::bs_cwise_linear_bprop(
            HOST,
            T::DTYPE as i32,
            n,
            cc,
            s,
            ptr_of(dy),
            ptr_of(x),
            opt_ptr(a),
            opt_ptr(b),
            flag(relu),
            flag(bias_first),
            opt_mut_ptr(dx).cast(),
            opt_mut_ptr(da),
            opt_mut_ptr(db),
            std::ptr::null_mut(),
        )
    })
}
