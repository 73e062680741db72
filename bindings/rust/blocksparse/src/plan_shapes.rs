//! The shape queries of a bsmm [`Plan`] (`bsmm_get_weight_shape`, `bsmm_get_input_shape`,
//! `bsmm_get_output_shape`), as the library computes them.
use blocksparse_sys as sys;

use crate::error::{check, Result};
use crate::host::i64_of;
use crate::plan::Plan;

impl Plan {
    /// `[nnz, b, b]`.
    pub fn weight_shape(&self) -> Result<[usize; 3]> {
        let mut s = [0i64; 3];
        check(unsafe { sys::bsmm_get_weight_shape(self.as_raw(), s.as_mut_ptr()) })?;
        Ok(s.map(|v| v as usize))
    }

    /// Shape of `x` for minibatch `n`: `[n, C]` (feature axis 1) or `[C, n]`.
    pub fn input_shape(&self, n: usize) -> Result<[usize; 2]> {
        let mut s = [0i64; 2];
        check(unsafe { sys::bsmm_get_input_shape(self.as_raw(), i64_of(n, "N")?, s.as_mut_ptr()) })?;
        Ok(s.map(|v| v as usize))
    }

    /// Shape of `y` for minibatch `n`: `[n, K]` (feature axis 1) or `[K, n]`.
    pub fn output_shape(&self, n: usize) -> Result<[usize; 2]> {
        let mut s = [0i64; 2];
        check(unsafe { sys::bsmm_get_output_shape(self.as_raw(), i64_of(n, "N")?, s.as_mut_ptr()) })?;
        Ok(s.map(|v| v as usize))
    }
}
