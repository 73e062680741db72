//! Library-wide queries of `bs_core.h` beyond the version strings: the version number, device
//! counts, dtype sizes and the calling thread's last status.
use blocksparse_sys as sys;

use crate::error::{check, Result, Status};
use crate::types::{Backend, DType};

/// Version of the loaded library as `major*10000 + minor*100 + patch`.
pub fn version_number() -> i32 {
    unsafe { sys::bs_get_version() }
}

/// Devices a backend can run on: 1 for the CPU; visible GPUs for CUDA (0 without CUDA support).
pub fn device_count(backend: Backend) -> Result<i32> {
    let mut n = 0i32;
    check(unsafe { sys::bs_get_device_count(backend as i32, &mut n) })?;
    Ok(n)
}

/// Bytes of one element of `dtype`.
pub fn dtype_size(dtype: DType) -> Result<usize> {
    let mut n = 0usize;
    check(unsafe { sys::bs_dtype_size(dtype as i32, &mut n) })?;
    Ok(n)
}

/// Status of the calling thread's last failed call (SUCCESS after [`clear_last_error`]).
pub fn last_status() -> Status {
    Status(unsafe { sys::bs_get_last_status() })
}

/// Clears the calling thread's last status and message.
pub fn clear_last_error() {
    unsafe { sys::bs_clear_last_error() };
}
