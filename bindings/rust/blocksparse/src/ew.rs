//! Element-wise ops (`bs_ew.h`, the original's `ewops.py`) on host slices: binary and unary ops with
//! their gradients, bias + activation, float cast and add_n. Arithmetic is fp32, each output is
//! rounded once to the slice type; every op is deterministic. Outputs are distinct `&mut` slices
//! (the C API also allows in-place calls, which Rust's borrows rule out here).
use blocksparse_sys as sys;

use crate::error::{arg_error, check, Result, Status};
use crate::host::{check_lens, i64_of, mut_ptr_of, opt_len, opt_mut_len, opt_mut_ptr, opt_ptr, ptr_of, size, HOST};
use crate::types::Element;

/// Binary ops `z = f(x, y)` (`bs_ew_binary_op_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add = sys::BS_EW_ADD as isize,
    Subtract = sys::BS_EW_SUBTRACT as isize,
    Multiply = sys::BS_EW_MULTIPLY as isize,
    Divide = sys::BS_EW_DIVIDE as isize,
    Maximum = sys::BS_EW_MAXIMUM as isize,
    Minimum = sys::BS_EW_MINIMUM as isize,
}

/// Unary ops `y = f(x)` (`bs_ew_unary_op_t`); ELU, GELU and SWISH use `alpha`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Negative = sys::BS_EW_NEGATIVE as isize,
    Reciprocal = sys::BS_EW_RECIPROCAL as isize,
    Square = sys::BS_EW_SQUARE as isize,
    Sqrt = sys::BS_EW_SQRT as isize,
    Exp = sys::BS_EW_EXP as isize,
    Log = sys::BS_EW_LOG as isize,
    Sigmoid = sys::BS_EW_SIGMOID as isize,
    Tanh = sys::BS_EW_TANH as isize,
    Relu = sys::BS_EW_RELU as isize,
    Elu = sys::BS_EW_ELU as isize,
    Gelu = sys::BS_EW_GELU as isize,
    Swish = sys::BS_EW_SWISH as isize,
}

impl UnaryOp {
    /// The original's `alpha` of the ops that use one (ELU 1, GELU 0.044715, SWISH 1), else 0.
    pub fn default_alpha(self) -> f32 {
        match self {
            UnaryOp::Elu | UnaryOp::Swish => 1.0,
            UnaryOp::Gelu => 0.044715,
            _ => 0.0,
        }
    }
}

/// Activations of [`bias_act`] (`bs_act_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    None = sys::BS_ACT_NONE as isize,
    Relu = sys::BS_ACT_RELU as isize,
    Gelu = sys::BS_ACT_GELU as isize,
    FastGelu = sys::BS_ACT_FAST_GELU as isize,
}

/// Whether `y` (length `len`) is a `(cols)` vector broadcast along the rows, or has x's shape.
fn y_is_vector(func: &str, rows: usize, cols: usize, len: usize) -> Result<bool> {
    match size(&[rows, cols]) {
        Some(n) if n == len => Ok(false),
        _ if len == cols => Ok(true),
        _ => arg_error(Status::SHAPE_MISMATCH, format!("{func}: y has {len} elements: expected rows*cols or cols")),
    }
}

/// `z = op(x, y)` on `(rows, cols)` row-major slices; `y` has either x's `rows*cols` elements or
/// `cols`, then broadcast along the rows (`z[r, c] = op(x[r, c], y[c])`).
pub fn binary<T: Element>(op: BinaryOp, rows: usize, cols: usize, x: &[T], y: &[T], z: &mut [T]) -> Result<()> {
    let func = "bs_ew_binary";
    let n = size(&[rows, cols]);
    check_lens(func, &[("x", x.len(), n), ("z", z.len(), n)])?;
    let vec = y_is_vector(func, rows, cols, y.len())?;
    check(unsafe {
        sys::bs_ew_binary(
            HOST,
            op as i32,
            T::DTYPE as i32,
            i64_of(rows, "rows")?,
            i64_of(cols, "cols")?,
            ptr_of(x),
            ptr_of(y),
            vec as i32,
            mut_ptr_of(z),
            std::ptr::null_mut(),
        )
    })
}

/// Gradients of [`binary`]: `dx = dz·∂z/∂x`, `dy = dz·∂z/∂y` (summed over the rows in a fixed order
/// when y is a vector). Either output may be skipped (None).
#[allow(clippy::too_many_arguments)]
pub fn binary_grad<T: Element>(
    op: BinaryOp,
    rows: usize,
    cols: usize,
    dz: &[T],
    x: &[T],
    y: &[T],
    dx: Option<&mut [T]>,
    dy: Option<&mut [T]>,
) -> Result<()> {
    let func = "bs_ew_binary_grad";
    let n = size(&[rows, cols]);
    let vec = y_is_vector(func, rows, cols, y.len())?;
    check_lens(
        func,
        &[
            ("dz", dz.len(), n),
            ("x", x.len(), n),
            ("dx", opt_mut_len(&dx, n), n),
            ("dy", opt_mut_len(&dy, Some(y.len())), Some(y.len())),
        ],
    )?;
    check(unsafe {
        sys::bs_ew_binary_grad(
            HOST,
            op as i32,
            T::DTYPE as i32,
            i64_of(rows, "rows")?,
            i64_of(cols, "cols")?,
            ptr_of(dz),
            ptr_of(x),
            ptr_of(y),
            vec as i32,
            opt_mut_ptr(dx).cast(),
            opt_mut_ptr(dy).cast(),
            std::ptr::null_mut(),
        )
    })
}

/// `y = op(x)` element by element (`alpha`: see [`UnaryOp::default_alpha`]).
pub fn unary<T: Element>(op: UnaryOp, x: &[T], alpha: f32, y: &mut [T]) -> Result<()> {
    check_lens("bs_ew_unary", &[("y", y.len(), Some(x.len()))])?;
    check(unsafe {
        sys::bs_ew_unary(
            HOST,
            op as i32,
            T::DTYPE as i32,
            i64_of(x.len(), "n")?,
            ptr_of(x),
            alpha,
            mut_ptr_of(y),
            std::ptr::null_mut(),
        )
    })
}

/// Gradient of [`unary`] from the forward's input: `dx = dy·op'(x)`.
pub fn unary_grad<T: Element>(op: UnaryOp, dy: &[T], x: &[T], alpha: f32, dx: &mut [T]) -> Result<()> {
    check_lens("bs_ew_unary_grad", &[("x", x.len(), Some(dy.len())), ("dx", dx.len(), Some(dy.len()))])?;
    check(unsafe {
        sys::bs_ew_unary_grad(
            HOST,
            op as i32,
            T::DTYPE as i32,
            i64_of(dy.len(), "n")?,
            ptr_of(dy),
            ptr_of(x),
            alpha,
            mut_ptr_of(dx),
            std::ptr::null_mut(),
        )
    })
}

/// Fused bias + activation `y = act(x + bias)` (the original's `bias_relu`): x is `(n, k)` for
/// `feature_axis` 1, `(k, n)` for 0; `bias` has k fp32 entries (None: no bias).
#[allow(clippy::too_many_arguments)]
pub fn bias_act<T: Element>(
    act: Activation,
    feature_axis: i32,
    n: usize,
    k: usize,
    x: &[T],
    bias: Option<&[f32]>,
    y: &mut [T],
) -> Result<()> {
    let len = size(&[n, k]);
    check_lens("bs_bias_act", &[("x", x.len(), len), ("y", y.len(), len), ("bias", opt_len(&bias, Some(k)), Some(k))])?;
    check(unsafe {
        sys::bs_bias_act(
            HOST,
            act as i32,
            T::DTYPE as i32,
            feature_axis,
            i64_of(n, "N")?,
            i64_of(k, "K")?,
            ptr_of(x),
            opt_ptr(bias),
            mut_ptr_of(y),
            std::ptr::null_mut(),
        )
    })
}

/// Gradient of [`bias_act`]: `dx = dy·act'(x + bias)` and, when given, `dbias = Σ_n dx` (k fp32).
#[allow(clippy::too_many_arguments)]
pub fn bias_act_grad<T: Element>(
    act: Activation,
    feature_axis: i32,
    n: usize,
    k: usize,
    dy: &[T],
    x: &[T],
    bias: Option<&[f32]>,
    dx: &mut [T],
    dbias: Option<&mut [f32]>,
) -> Result<()> {
    let len = size(&[n, k]);
    check_lens(
        "bs_bias_act_grad",
        &[
            ("dy", dy.len(), len),
            ("x", x.len(), len),
            ("dx", dx.len(), len),
            ("bias", opt_len(&bias, Some(k)), Some(k)),
            ("dbias", opt_mut_len(&dbias, Some(k)), Some(k)),
        ],
    )?;
    check(unsafe {
        sys::bs_bias_act_grad(
            HOST,
            act as i32,
            T::DTYPE as i32,
            feature_axis,
            i64_of(n, "N")?,
            i64_of(k, "K")?,
            ptr_of(dy),
            ptr_of(x),
            opt_ptr(bias),
            mut_ptr_of(dx),
            opt_mut_ptr(dbias),
            std::ptr::null_mut(),
        )
    })
}

/// Converts `x` to the element type of `y`, round-to-nearest-even (NaN stays NaN, overflow gives ±inf).
pub fn float_cast<S: Element, D: Element>(x: &[S], y: &mut [D]) -> Result<()> {
    check_lens("bs_float_cast", &[("y", y.len(), Some(x.len()))])?;
    check(unsafe {
        sys::bs_float_cast(
            HOST,
            S::DTYPE as i32,
            D::DTYPE as i32,
            i64_of(x.len(), "n")?,
            ptr_of(x),
            mut_ptr_of(y),
            std::ptr::null_mut(),
        )
    })
}

/// Most inputs [`add_n`] takes.
pub const ADD_N_MAX_INPUTS: usize = sys::BS_ADD_N_MAX_INPUTS as usize;

/// `y = Σ_i xs[i]` over 1 ..= [`ADD_N_MAX_INPUTS`] slices of y's length, summed in fp32 in order.
pub fn add_n<T: Element>(xs: &[&[T]], y: &mut [T]) -> Result<()> {
    let func = "bs_add_n";
    for x in xs {
        check_lens(func, &[("xs[i]", x.len(), Some(y.len()))])?;
    }
    let count = i32::try_from(xs.len())
        .or_else(|_| arg_error(Status::INVALID_VALUE, format!("{func}: {} inputs is too many", xs.len())))?;
    let ptrs: Vec<_> = xs.iter().map(|x| ptr_of(x)).collect();
    check(unsafe {
        sys::bs_add_n(
            HOST,
            T::DTYPE as i32,
            i64_of(y.len(), "n")?,
            count,
            ptrs.as_ptr(),
            mut_ptr_of(y),
            std::ptr::null_mut(),
        )
    })
}
