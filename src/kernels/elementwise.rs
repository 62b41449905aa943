//! Element-wise passes over a slice: the exponential, written to vectorise.
//!
//! The other element-wise passes (bias + activation, optimizer updates) are the article's maths and
//! stay beside it, in `activation.rs` and `optimizer.rs`; they are compiled for the CPU's widest
//! vector instructions through `simd` and the `simd_fn!` macro (in `cpu.rs`).

/// `xᵢ ← e^{xᵢ}` in f32: a polynomial (Cephes' expf: Cody–Waite reduction, degree-5 polynomial,
/// the power of two put in the exponent bits), within 2 ulp of `exp` and clamped to
/// [−87.3, 88.4] (results ≥ 1.2e-38, never infinite). Written to vectorise: no branch, no call.
#[inline(always)]
pub fn exp_f32_in_place(x: &mut [f32]) {
    for v in x.iter_mut() {
        let x = v.clamp(-87.336_55, 88.376_26);
        // n = round(x / ln 2) without a rounding instruction: adding 1.5·2²³ rounds to an integer.
        const SHIFT: f32 = 12_582_912.0;
        let n = (x * std::f32::consts::LOG2_E + SHIFT) - SHIFT;
        let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
        let mut p = 1.987_569_1e-4f32;
        p = p * r + 1.398_199_9e-3;
        p = p * r + 8.333_452e-3;
        p = p * r + 4.166_579_6e-2;
        p = p * r + 1.666_666_5e-1;
        p = p * r + 0.5;
        let y = p * r * r + r + 1.0;
        *v = y * f32::from_bits(((n as i32 + 127) as u32) << 23);
    }
}

/// `xᵢ ← e^{xᵢ}` in f64: the standard library's `exp`, so f64 checks against the reference path
/// stay exact.
#[inline(always)]
pub fn exp_f64_in_place(x: &mut [f64]) {
    for v in x.iter_mut() {
        *v = v.exp();
    }
}

/// Asks for `s` to be brought into the cache, one request per 64-byte line (a hint: it reads
/// nothing, cannot fault, and changes no result): for rows read next that do not follow in
/// memory, which the hardware's prefetcher cannot guess.
#[inline(always)]
pub fn prefetch<T>(s: &[T]) {
    #[cfg(target_arch = "x86_64")]
    for line in s.chunks(64 / std::mem::size_of::<T>().max(1)) {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: a prefetch is a hint; it reads nothing and cannot fault. SSE is part of x86_64.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = s;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_exp_is_within_two_ulp() {
        let xs: Vec<f32> = (-8700..=8830).map(|i| i as f32 * 0.01 + 0.003).collect();
        let mut got = xs.clone();
        exp_f32_in_place(&mut got);
        for (&x, &g) in xs.iter().zip(&got) {
            let want = (x as f64).exp();
            let ulp = (want as f32).to_bits().abs_diff(g.to_bits());
            assert!(ulp <= 2, "exp({x}) = {g}, want {want} ({ulp} ulp)");
        }
        let mut ends = [-1000.0f32, -87.4, 88.5, 1000.0, f32::NEG_INFINITY];
        exp_f32_in_place(&mut ends);
        assert!(ends.iter().all(|v| v.is_finite() && *v > 0.0), "{ends:?}");
    }

    #[test]
    fn f64_exp_is_the_standard_library_s() {
        let mut x = [-3.5f64, 0.0, 1.0, 700.0];
        let want = x.map(f64::exp);
        exp_f64_in_place(&mut x);
        assert_eq!(x.map(f64::to_bits), want.map(f64::to_bits));
    }
}
