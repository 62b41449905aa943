//! Element-wise passes over a slice: the exponential, written to vectorise, and short softmax
//! rows sixteen at a time (the same operations as the generic pass, laid across rows).
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
        let x = v.clamp(EXP_MIN, EXP_MAX);
        // n = round(x / ln 2) without a rounding instruction: adding 1.5·2²³ rounds to an integer.
        let n = (x * std::f32::consts::LOG2_E + EXP_SHIFT) - EXP_SHIFT;
        let r = x - n * EXP_LN2_HI - n * EXP_LN2_LO;
        let mut p = EXP_POLY[0];
        for &c in &EXP_POLY[1..] {
            p = p * r + c;
        }
        let y = p * r * r + r + 1.0;
        *v = y * f32::from_bits(((n as i32 + 127) as u32) << 23);
    }
}

/// [`exp_f32_in_place`]'s clamp, rounding shift, ln 2 in two parts and polynomial, shared with
/// [`softmax_rows_short`]'s copy of it in vector registers (the same constants, the same bits).
const EXP_MIN: f32 = -87.336_55;
const EXP_MAX: f32 = 88.376_26;
const EXP_SHIFT: f32 = 12_582_912.0;
const EXP_LN2_HI: f32 = 0.693_359_4;
const EXP_LN2_LO: f32 = -2.121_944_4e-4;
const EXP_POLY: [f32; 6] = [1.987_569_1e-4, 1.398_199_9e-3, 8.333_452e-3, 4.166_579_6e-2, 1.666_666_5e-1, 0.5];

/// `zᵣ ← zᵣ + b`, `aᵣ ← softmax(zᵣ)` for rows of up to 16 f32 entries (`bias.len()` wide; MNIST's
/// 10 classes), 16 rows at a time with a row in each vector lane (AVX-512F): a row's steps form
/// one long chain (maximum, `exp`, the sum entry by entry, a division), which the generic pass
/// runs a row at a time (100 ns a row of 10 on the Intel Xeon). Every entry goes through the same
/// operations as in `Activation::Softmax`'s pass (`softmax_row`), in the same order: the bias
/// added, the row's maximum (NaN entries skipped) subtracted, [`exp_f32_in_place`]'s steps, the
/// sum entry by entry from the first, one division, one multiply each: the same bits. Returns
/// `false`, having done nothing, for rows wider than 16 or without AVX-512F.
pub fn softmax_rows_short(z: &mut [f32], bias: &[f32], a: &mut [f32]) -> bool {
    let width = bias.len();
    if width == 0 || width > 16 || !super::cpu::has_avx512f() {
        return false;
    }
    assert!(z.len() == a.len() && z.len().is_multiple_of(width), "softmax_rows_short: shapes");
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the CPU has AVX-512F (checked above).
    unsafe {
        softmax_rows_short_avx512(z, bias, a)
    };
    true
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn softmax_rows_short_avx512(z: &mut [f32], bias: &[f32], a: &mut [f32]) {
    use std::arch::x86_64::*;
    let width = bias.len();
    let rows = z.len() / width;
    let splat = _mm512_set1_ps;
    // Lane l reads and writes row r0 + l: entry j at (r0 + l)·width + j.
    let lanes = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32(width as i32),
    );
    for r0 in (0..rows).step_by(16) {
        let k: __mmask16 = if rows - r0 >= 16 { 0xffff } else { (1u16 << (rows - r0)) - 1 };
        let (zp, ap) = (z.as_mut_ptr().wrapping_add(r0 * width), a.as_mut_ptr().wrapping_add(r0 * width));
        let mut e = [_mm512_setzero_ps(); 16];
        let mut max = splat(f32::NEG_INFINITY);
        for (j, ej) in e.iter_mut().enumerate().take(width) {
            let at = _mm512_add_epi32(lanes, _mm512_set1_epi32(j as i32));
            // SAFETY: the lanes under k are rows r0.. < rows, entry j < width of each.
            let v = unsafe {
                let v = _mm512_add_ps(_mm512_mask_i32gather_ps::<4>(splat(0.0), k, at, zp.cast()), splat(bias[j]));
                _mm512_mask_i32scatter_ps::<4>(zp.cast(), k, at, v);
                v
            };
            // `max(v, m)` gives m where v is NaN, as `f32::max` skips a NaN.
            max = _mm512_max_ps(v, max);
            *ej = v;
        }
        let mut sum = splat(-0.0);
        for ej in e.iter_mut().take(width) {
            // exp(z − max), as exp_f32_in_place: `max(lo, x)` then `min(hi, ·)` keep a NaN, as
            // the clamp does.
            let x = _mm512_min_ps(splat(EXP_MAX), _mm512_max_ps(splat(EXP_MIN), _mm512_sub_ps(*ej, max)));
            let shift = splat(EXP_SHIFT);
            let n = _mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(x, splat(std::f32::consts::LOG2_E)), shift), shift);
            let r = _mm512_sub_ps(
                _mm512_sub_ps(x, _mm512_mul_ps(n, splat(EXP_LN2_HI))),
                _mm512_mul_ps(n, splat(EXP_LN2_LO)),
            );
            let mut p = splat(EXP_POLY[0]);
            for &c in &EXP_POLY[1..] {
                p = _mm512_add_ps(_mm512_mul_ps(p, r), splat(c));
            }
            let y = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(_mm512_mul_ps(p, r), r), r), splat(1.0));
            let scale = _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_add_epi32(
                _mm512_cvttps_epi32(n),
                _mm512_set1_epi32(127),
            )));
            *ej = _mm512_mul_ps(y, scale);
            // Σ e entry by entry from the first, as `softmax_row` sums (`Sum` starts from −0,
            // which adds nothing to a positive or NaN first term).
            sum = _mm512_add_ps(sum, *ej);
        }
        let inv = _mm512_div_ps(splat(1.0), sum);
        for (j, ej) in e.iter().enumerate().take(width) {
            let at = _mm512_add_epi32(lanes, _mm512_set1_epi32(j as i32));
            // SAFETY: as the gathers above, into `a`.
            unsafe { _mm512_mask_i32scatter_ps::<4>(ap.cast(), k, at, _mm512_mul_ps(*ej, inv)) };
        }
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
