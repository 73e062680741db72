//! Statuses of the C API as a Rust error carrying the library's detailed message.
use std::ffi::CStr;
use std::fmt;

use blocksparse_sys as sys;

/// A `bs_status_t`. A newtype rather than an enum: a newer library may return values this crate
/// does not know, and those must still be representable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Status(pub i32);

impl Status {
    pub const SUCCESS: Status = Status(sys::BS_STATUS_SUCCESS);
    pub const NULL_POINTER: Status = Status(sys::BS_STATUS_NULL_POINTER);
    pub const INVALID_VALUE: Status = Status(sys::BS_STATUS_INVALID_VALUE);
    pub const SHAPE_MISMATCH: Status = Status(sys::BS_STATUS_SHAPE_MISMATCH);
    pub const OVERFLOW: Status = Status(sys::BS_STATUS_OVERFLOW);
    pub const INVALID_LAYOUT: Status = Status(sys::BS_STATUS_INVALID_LAYOUT);
    pub const WORKSPACE_TOO_SMALL: Status = Status(sys::BS_STATUS_WORKSPACE_TOO_SMALL);
    pub const MISALIGNED_POINTER: Status = Status(sys::BS_STATUS_MISALIGNED_POINTER);
    pub const STRUCT_SIZE_MISMATCH: Status = Status(sys::BS_STATUS_STRUCT_SIZE_MISMATCH);
    pub const WRONG_BACKEND: Status = Status(sys::BS_STATUS_WRONG_BACKEND);
    pub const WRONG_DEVICE: Status = Status(sys::BS_STATUS_WRONG_DEVICE);
    pub const NOT_SUPPORTED: Status = Status(sys::BS_STATUS_NOT_SUPPORTED);
    pub const BACKEND_UNAVAILABLE: Status = Status(sys::BS_STATUS_BACKEND_UNAVAILABLE);
    pub const ARCH_NOT_SUPPORTED: Status = Status(sys::BS_STATUS_ARCH_NOT_SUPPORTED);
    pub const OUT_OF_MEMORY: Status = Status(sys::BS_STATUS_OUT_OF_MEMORY);
    pub const EXECUTION_FAILED: Status = Status(sys::BS_STATUS_EXECUTION_FAILED);
    pub const INTERNAL_ERROR: Status = Status(sys::BS_STATUS_INTERNAL_ERROR);

    /// The library's static name ("BS_STATUS_SHAPE_MISMATCH").
    pub fn name(self) -> &'static str {
        static_str(unsafe { sys::bs_status_name(self.0) })
    }

    /// The library's one-sentence description.
    pub fn description(self) -> &'static str {
        static_str(unsafe { sys::bs_status_description(self.0) })
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failed call: its status and the detailed message (the library's, or the binding's for checks
/// the C API cannot make, such as slice lengths).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub status: Status,
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

/// Turns a status into a Result, reading the calling thread's last-error message on failure (the
/// message is per thread, and this runs on the thread that made the call).
pub(crate) fn check(status: sys::bs_status_t) -> Result<()> {
    if status == sys::BS_STATUS_SUCCESS {
        return Ok(());
    }
    let mut need = 0usize;
    unsafe { sys::bs_get_last_error(std::ptr::null_mut(), 0, &mut need) };
    let mut buf = vec![0u8; need.max(1)];
    unsafe { sys::bs_get_last_error(buf.as_mut_ptr().cast(), buf.len(), std::ptr::null_mut()) };
    let len = buf.iter().position(|&c| c == 0).unwrap_or(buf.len());
    let text = String::from_utf8_lossy(&buf[..len]).into_owned();
    Err(Error { status: Status(status), message: text })
}

/// A failure found by the binding before calling the library.
pub(crate) fn arg_error<T>(status: Status, message: String) -> Result<T> {
    Err(Error { status, message })
}

pub(crate) fn static_str(p: *const std::os::raw::c_char) -> &'static str {
    // The library documents these strings as static and never NULL.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap_or("?")
}
