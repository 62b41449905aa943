//! The core's measured single-precision FMA peak, the yardstick of the benchmarks' "share of peak":
//! independent chains of fused multiply-adds in registers only, in the widest vectors the CPU has
//! (AVX-512, else AVX2 + FMA), so that nothing but the FMA units limits the rate.

use std::time::Instant;

/// 16 independent chains of 16-lane FMAs, `iters` times: enough chains to cover two FMA pipes ×
/// four cycles of latency with room to spare.
///
/// # Safety
/// The CPU must have AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fma_loop_avx512(iters: u64) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = [_mm512_set1_ps(0.0); 16];
    let a = _mm512_set1_ps(0.999_999);
    let b = _mm512_set1_ps(1e-7);
    for _ in 0..iters {
        for x in acc.iter_mut() {
            *x = _mm512_fmadd_ps(*x, a, b);
        }
    }
    let mut s = _mm512_setzero_ps();
    for x in acc {
        s = _mm512_add_ps(s, x);
    }
    _mm512_reduce_add_ps(s)
}

/// As [`fma_loop_avx512`] with 8-lane AVX2 FMAs (12 chains: 16 registers in all).
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_loop_avx2(iters: u64) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = [_mm256_set1_ps(0.0); 12];
    let a = _mm256_set1_ps(0.999_999);
    let b = _mm256_set1_ps(1e-7);
    for _ in 0..iters {
        for x in acc.iter_mut() {
            *x = _mm256_fmadd_ps(*x, a, b);
        }
    }
    let mut s = _mm256_setzero_ps();
    for x in acc {
        s = _mm256_add_ps(s, x);
    }
    let mut lanes = [0.0f32; 8];
    // SAFETY: `lanes` has room for the eight floats stored.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), s) };
    lanes.iter().sum()
}

/// GFLOP/s of the calling thread running FMAs back to back (an FMA counts as two FLOPs), about
/// 0.1–0.3 s of work; `None` on a CPU without AVX2 + FMA.
pub fn fma_peak_gflops() -> Option<f64> {
    fma_peak_gflops_over(20_000_000)
}

/// [`fma_peak_gflops`] over `iters` rounds of the loop (each 256 FMAs with AVX-512, 96 with
/// AVX2): a short one (10⁶ rounds: a few milliseconds) can be taken beside each timing of a
/// kernel on a machine whose speed drifts, for a share of the peak measured at the same moment.
pub fn fma_peak_gflops_over(iters: u64) -> Option<f64> {
    #[cfg(target_arch = "x86_64")]
    {
        let (lanes_times_chains, run): (u64, fn(u64) -> f32) = if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F was just detected.
            (16 * 16, |n| unsafe { fma_loop_avx512(n) })
        } else if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: AVX2 and FMA were just detected.
            (8 * 12, |n| unsafe { fma_loop_avx2(n) })
        } else {
            return None;
        };
        let iters = iters.max(1);
        std::hint::black_box(run(iters / 10));
        let t0 = Instant::now();
        std::hint::black_box(run(std::hint::black_box(iters)));
        let dt = t0.elapsed().as_secs_f64();
        Some((iters * lanes_times_chains * 2) as f64 / dt / 1e9)
    }
    #[cfg(not(target_arch = "x86_64"))]
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_peak_is_a_positive_rate_where_measured() {
        if let Some(p) = super::fma_peak_gflops() {
            assert!(p.is_finite() && p > 1.0, "{p}");
        }
    }
}
