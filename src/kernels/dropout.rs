//! Inverted dropout's masks for up to 8 rows at once, each row drawing from its own xoshiro256++
//! generator: one generator per 64-bit vector lane on AVX-512 (f32), else one after another.

#[cfg(target_arch = "x86_64")]
use super::cpu::Isa;
use super::float::Float;

/// Rows whose generators advance side by side, one per 64-bit lane of a 512-bit vector.
pub const DROPOUT_LANES: usize = 8;

/// One draw of xoshiro256++ from the raw state `s` (Blackman and Vigna's `next`, as `rand_xoshiro`'s
/// `Xoshiro256PlusPlus::next_u64`, the crate's `Rng`), advancing it.
#[inline(always)]
pub fn xoshiro_step(s: &mut [u64; 4]) -> u64 {
    let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
    let t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = s[3].rotate_left(45);
    result
}

/// Dropout on up to [`DROPOUT_LANES`] rows as [`dropout_rows_vector`] documents it: by that
/// vector form where it applies, else one row's draw after another ([`xoshiro_step`]). The same
/// masks either way.
#[allow(clippy::too_many_arguments)]
pub fn dropout_rows<T: Float>(
    states: &mut [[u64; DROPOUT_LANES]; 4],
    width: usize,
    below: u64,
    keep: T,
    a: &[T],
    mask: &mut [T],
    out: &mut [T],
) {
    if dropout_rows_vector(states, width, below, keep, a, mask, out) {
        return;
    }
    let rows = a.len() / width.max(1);
    for i in 0..width {
        for (r, at) in (0..rows).map(|r| (r, r * width + i)) {
            let mut s = std::array::from_fn(|w| states[w][r]);
            let u = xoshiro_step(&mut s);
            for (w, v) in states.iter_mut().zip(s) {
                w[r] = v;
            }
            let m = if (u >> 11) < below { T::zero() } else { keep };
            mask[at] = m;
            out[at] = a[at] * m;
        }
    }
}

/// Dropout on up to [`DROPOUT_LANES`] rows (`a`, `mask`, `out`: rows × `width`), row `r` drawing
/// from the xoshiro256++ state in lane `r` of `states` (its four words: `states[w][r]`), one draw
/// per unit in order: `mask = 0` where the draw's top 53 bits are below `below`, else `keep`, and
/// `out = a·mask`. The draws and the state update are [`xoshiro_step`]'s, 8 lanes at a time, so
/// each row gets the masks a scalar loop over its own stream gives. Returns `false`, having done nothing,
/// where this vector form does not apply (not f32, or no AVX-512): the caller then runs the
/// scalar loop.
#[allow(clippy::too_many_arguments)]
pub fn dropout_rows_vector<T: Float>(
    states: &mut [[u64; DROPOUT_LANES]; 4],
    width: usize,
    below: u64,
    keep: T,
    a: &[T],
    mask: &mut [T],
    out: &mut [T],
) -> bool {
    let rows = a.len() / width.max(1);
    assert!(
        rows <= DROPOUT_LANES && a.len() == rows * width && mask.len() == a.len() && out.len() == a.len(),
        "dropout_rows_vector: shapes"
    );
    #[cfg(target_arch = "x86_64")]
    if std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>() && Isa::detected() == Isa::Avx512 {
        let n = a.len();
        // SAFETY: T is f32 (checked just above); the slices keep their lengths.
        let (a, mask, out) = unsafe {
            (
                std::slice::from_raw_parts(a.as_ptr().cast::<f32>(), n),
                std::slice::from_raw_parts_mut(mask.as_mut_ptr().cast::<f32>(), n),
                std::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<f32>(), n),
            )
        };
        // SAFETY: the CPU has AVX-512 F and BW (`Isa::Avx512`).
        unsafe { dropout_rows_avx512(states, width, rows, below, keep.f64() as f32, a, mask, out) };
        return true;
    }
    let _ = (states, below, keep, mask, out);
    false
}

/// Units per block of [`dropout_rows_avx512`]: one byte of drop bits per unit (a bit per row)
/// fills one 512-bit vector.
#[cfg(target_arch = "x86_64")]
const BLOCK: usize = 64;

/// The body of [`dropout_rows_vector`] for f32 on AVX-512: per block of 64 units, the 8 lanes'
/// draws, compared with `below`, give a byte of drop bits per unit; then, row by row, one
/// byte-wise bit test turns the block's bytes into the row's 64 drop bits, and the masks and
/// products are written 16 units per vector.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
#[allow(clippy::too_many_arguments)]
fn dropout_rows_avx512(
    states: &mut [[u64; DROPOUT_LANES]; 4],
    width: usize,
    rows: usize,
    below: u64,
    keep: f32,
    a: &[f32],
    mask: &mut [f32],
    out: &mut [f32],
) {
    use std::arch::x86_64::*;
    // SAFETY: each word's 8 lanes are 64 contiguous bytes.
    let mut s: [__m512i; 4] = std::array::from_fn(|w| unsafe { _mm512_loadu_si512(states[w].as_ptr().cast()) });
    let (below, keep) = (_mm512_set1_epi64(below as i64), _mm512_set1_ps(keep));
    let mut dropped = [0u8; BLOCK];
    for i0 in (0..width).step_by(BLOCK) {
        let len = (width - i0).min(BLOCK);
        for d in dropped.iter_mut().take(len) {
            let [s0, s1, s2, s3] = &mut s;
            let draw = _mm512_add_epi64(_mm512_rol_epi64::<23>(_mm512_add_epi64(*s0, *s3)), *s0);
            let t = _mm512_slli_epi64::<17>(*s1);
            *s2 = _mm512_xor_si512(*s2, *s0);
            *s3 = _mm512_xor_si512(*s3, *s1);
            *s1 = _mm512_xor_si512(*s1, *s2);
            *s0 = _mm512_xor_si512(*s0, *s3);
            *s2 = _mm512_xor_si512(*s2, t);
            *s3 = _mm512_rol_epi64::<45>(*s3);
            *d = _mm512_cmplt_epu64_mask(_mm512_srli_epi64::<11>(draw), below);
        }
        // SAFETY: `dropped` holds 64 bytes.
        let bytes = unsafe { _mm512_loadu_si512(dropped.as_ptr().cast()) };
        for r in 0..rows {
            let bits = _mm512_test_epi8_mask(bytes, _mm512_set1_epi8(1 << r));
            for c in 0..len.div_ceil(16) {
                let valid: __mmask16 = if len - 16 * c >= 16 { 0xffff } else { (1 << (len - 16 * c)) - 1 };
                let kept = !((bits >> (16 * c)) as u16);
                let m = _mm512_maskz_mov_ps(kept, keep);
                let at = r * width + i0 + 16 * c;
                // SAFETY: row r < rows holds `width` units; the mask cuts this vector at the
                // block's (and so the row's) end.
                unsafe {
                    let av = _mm512_maskz_loadu_ps(valid, a.as_ptr().add(at));
                    _mm512_mask_storeu_ps(mask.as_mut_ptr().add(at), valid, m);
                    _mm512_mask_storeu_ps(out.as_mut_ptr().add(at), valid, _mm512_mul_ps(av, m));
                }
            }
        }
    }
    for (w, v) in states.iter_mut().zip(s) {
        // SAFETY: as the loads above.
        unsafe { _mm512_storeu_si512(w.as_mut_ptr().cast(), v) };
    }
}
