//! The scalar type the library is generic over: `f32` for training speed, `f64` for exact teaching
//! and gradient checks.

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

use super::elementwise::{exp_f32_in_place, exp_f64_in_place};

/// The scalar type of a network: `f32` for training speed, `f64` for exact teaching and gradient checks.
pub trait Float:
    num_traits::Float
    + Default
    + Debug
    + Display
    + Send
    + Sync
    + Sum
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + faer::traits::ComplexField
    + 'static
{
    /// Converts from `f64` (rounding to the nearest representable value).
    fn of(x: f64) -> Self;
    /// Converts to `f64` exactly.
    fn f64(self) -> f64;
    /// `xᵢ ← e^{xᵢ}` over a slice, written to vectorise. `f32`: a polynomial (Cephes' expf:
    /// Cody–Waite reduction, degree-5 polynomial, the power of two put in the exponent bits),
    /// within 2 ulp of `exp` and clamped to [−87.3, 88.4] (results ≥ 1.2e-38, never infinite);
    /// `f64`: the standard library's `exp`, so f64 checks against the reference path stay exact.
    /// (The loops: [`exp_f32_in_place`], [`exp_f64_in_place`].)
    fn exp_in_place(x: &mut [Self]);
    /// The slice as what it is, `f32` or `f64`: for the operations written once per type, such as
    /// a sum across processes.
    fn typed(s: &[Self]) -> Floats<'_>;
    /// [`Float::typed`] for a mutable slice.
    fn typed_mut(s: &mut [Self]) -> FloatsMut<'_>;
}

/// A slice of one of the [`Float`] types.
pub enum Floats<'a> {
    /// Single precision.
    F32(&'a [f32]),
    /// Double precision.
    F64(&'a [f64]),
}

/// A mutable slice of one of the [`Float`] types.
pub enum FloatsMut<'a> {
    /// Single precision.
    F32(&'a mut [f32]),
    /// Double precision.
    F64(&'a mut [f64]),
}

impl Float for f32 {
    #[inline(always)]
    fn of(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn exp_in_place(x: &mut [f32]) {
        exp_f32_in_place(x)
    }
    fn typed(s: &[f32]) -> Floats<'_> {
        Floats::F32(s)
    }
    fn typed_mut(s: &mut [f32]) -> FloatsMut<'_> {
        FloatsMut::F32(s)
    }
}

impl Float for f64 {
    #[inline(always)]
    fn of(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn exp_in_place(x: &mut [f64]) {
        exp_f64_in_place(x)
    }
    fn typed(s: &[f64]) -> Floats<'_> {
        Floats::F64(s)
    }
    fn typed_mut(s: &mut [f64]) -> FloatsMut<'_> {
        FloatsMut::F64(s)
    }
}
