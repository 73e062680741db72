//! What the safe wrappers check before every call, and the raw pointers they pass: the C API
//! cannot see slice lengths, so each wrapper checks them here first and no call reads or writes
//! outside a slice. Every slice is host memory, so the plan-less ops run on the CPU backend.
use std::ffi::c_void;
use std::ptr;

use blocksparse_sys as sys;

use crate::error::{arg_error, Result, Status};

/// The backend of the plan-less ops: Rust slices are host memory.
pub(crate) const HOST: sys::bs_backend_t = sys::BS_BACKEND_CPU;

pub(crate) fn i64_of(v: usize, what: &str) -> Result<i64> {
    i64::try_from(v).or_else(|_| arg_error(Status::OVERFLOW, format!("{what} = {v} does not fit in int64")))
}

/// The address of a slice for the C API, NULL when empty (a size-0 call takes NULL).
pub(crate) fn ptr_of<T>(s: &[T]) -> *const c_void {
    if s.is_empty() {
        ptr::null()
    } else {
        s.as_ptr().cast()
    }
}

pub(crate) fn mut_ptr_of<T>(s: &mut [T]) -> *mut c_void {
    if s.is_empty() {
        ptr::null_mut()
    } else {
        s.as_mut_ptr().cast()
    }
}

/// A typed pointer of an optional slice (NULL for None or an empty slice).
pub(crate) fn opt_ptr<T>(s: Option<&[T]>) -> *const T {
    s.map_or(ptr::null(), |s| ptr_of(s).cast())
}

pub(crate) fn opt_mut_ptr<T>(s: Option<&mut [T]>) -> *mut T {
    s.map_or(ptr::null_mut(), |s| mut_ptr_of(s).cast())
}

/// The product of sizes, None on overflow (no slice has that length).
pub(crate) fn size(dims: &[usize]) -> Option<usize> {
    dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// One slice length to check: its name, its length, and the length the shapes want (None: overflow).
pub(crate) type Len<'a> = (&'a str, usize, Option<usize>);

/// Fails with the name of the C function and of the first slice whose length is wrong.
pub(crate) fn check_lens(func: &str, lens: &[Len]) -> Result<()> {
    for &(name, got, want) in lens {
        match want {
            Some(w) if w == got => {}
            Some(w) => {
                return arg_error(Status::SHAPE_MISMATCH, format!("{func}: {name} has {got} elements, expected {w}"))
            }
            None => return arg_error(Status::OVERFLOW, format!("{func}: the size of {name} overflows")),
        }
    }
    Ok(())
}

/// Length of an optional slice for `check_lens`: an absent one passes.
pub(crate) fn opt_len<T>(s: &Option<&[T]>, want: Option<usize>) -> usize {
    s.map_or(want.unwrap_or(0), |s| s.len())
}

pub(crate) fn opt_mut_len<T>(s: &Option<&mut [T]>, want: Option<usize>) -> usize {
    s.as_ref().map_or(want.unwrap_or(0), |s| s.len())
}

/// A 0/1 flag of the C API.
pub(crate) fn flag(b: bool) -> i32 {
    b as i32
}

/// Scratch of `bytes` bytes, 8-byte aligned (what every workspace needs on the CPU).
pub(crate) fn workspace(bytes: usize) -> Vec<u64> {
    vec![0u64; (bytes + 7) / 8]
}

/// The slices' element type must be the plan's dtype.
pub(crate) fn check_dtype<T: crate::types::Element>(func: &str, plan: crate::types::DType) -> Result<()> {
    if T::DTYPE == plan {
        Ok(())
    } else {
        arg_error(Status::INVALID_VALUE, format!("{func}: {:?} slices given to a {plan:?} plan", T::DTYPE))
    }
}

/// DType of a C dtype value read back from the library.
pub(crate) fn dtype_of(v: i32) -> crate::types::DType {
    use crate::types::DType;
    match v {
        sys::BS_DTYPE_F16 => DType::F16,
        sys::BS_DTYPE_BF16 => DType::BF16,
        _ => DType::F32,
    }
}
