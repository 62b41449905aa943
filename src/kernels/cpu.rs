//! The CPU's vector instructions, detected once, and the run-time dispatch to them.
//!
//! The binary is built for the target's baseline (SSE2 on x86_64) so that it runs anywhere; the
//! kernels that gain from wider vectors are compiled again inside `#[target_feature]` functions
//! and one of the copies is chosen at run time from [`Isa::detected`].

use std::sync::OnceLock;

/// The instruction sets the kernels are compiled for, widest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// AVX-512 (F, VL, BW and DQ), with AVX2 and FMA.
    Avx512,
    /// AVX2 and FMA.
    Avx2,
    /// The target's baseline (SSE2 on x86_64).
    Baseline,
}

/// Who designed the CPU's cores, from its CPUID vendor string: where the best of several kernels
/// that give the same bits differs between the two vendors' cores (measured), the choice follows
/// this.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vendor {
    /// "GenuineIntel".
    Intel,
    /// "AuthenticAMD".
    Amd,
    /// Any other, or not x86_64.
    Other,
}

/// What the CPU has, as the kernels ask it.
#[derive(Clone, Copy, Debug)]
struct Features {
    /// The widest [`Isa`].
    isa: Isa,
    /// AVX-512F (with POPCNT, which every CPU with AVX-512 has): all that the sparse products
    /// and their listing need.
    avx512f: bool,
    /// The CPUID vendor.
    vendor: Vendor,
}

impl Features {
    fn detect() -> Features {
        #[cfg(target_arch = "x86_64")]
        {
            let avx512f =
                std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("popcnt");
            let isa = if avx512f
                && std::arch::is_x86_feature_detected!("avx512vl")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512dq")
            {
                Isa::Avx512
            } else if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                Isa::Avx2
            } else {
                Isa::Baseline
            };
            // Leaf 0: the vendor string in EBX, EDX, ECX.
            let id = std::arch::x86_64::__cpuid(0);
            let name: Vec<u8> = [id.ebx, id.edx, id.ecx].iter().flat_map(|r| r.to_le_bytes()).collect();
            let vendor = match &name[..] {
                b"GenuineIntel" => Vendor::Intel,
                b"AuthenticAMD" => Vendor::Amd,
                _ => Vendor::Other,
            };
            Features { isa, avx512f, vendor }
        }
        #[cfg(not(target_arch = "x86_64"))]
        Features { isa: Isa::Baseline, avx512f: false, vendor: Vendor::Other }
    }
}

/// Detected on first use, then read.
static FEATURES: OnceLock<Features> = OnceLock::new();

#[inline]
fn features() -> Features {
    *FEATURES.get_or_init(Features::detect)
}

impl Isa {
    /// The widest this CPU has.
    #[inline]
    pub fn detected() -> Isa {
        features().isa
    }

    /// Whether this CPU can run code compiled for `self`.
    pub fn is_available(self) -> bool {
        matches!((Isa::detected(), self), (_, Isa::Baseline) | (Isa::Avx512, _) | (Isa::Avx2, Isa::Avx2))
    }
}

/// Whether this CPU has AVX-512F (and POPCNT, as every CPU with AVX-512 does).
#[inline]
pub fn has_avx512f() -> bool {
    features().avx512f
}

/// This CPU's vendor.
#[inline]
pub fn vendor() -> Vendor {
    features().vendor
}

/// Defines `$name`, which runs the `#[inline(always)]` function `$kernel` compiled for the widest
/// vector instructions this CPU has (AVX-512, else AVX2 + FMA, else the baseline), chosen at run
/// time. Unlike [`simd`], whose closure LLVM may decline to inline when it is large, the kernel is
/// called directly from each `#[target_feature]` copy, so it is always compiled inside it.
///
/// The expansion's one `unsafe` (calling a `#[target_feature]` copy) is written here, and allowed
/// here: it is sound whatever `$kernel` is, since a copy is called only on a CPU that has its
/// instructions.
macro_rules! simd_fn {
    ($(#[$m:meta])* $vis:vis fn $name:ident<T: Float>($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty = $kernel:ident;) => {
        $(#[$m])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name<T: Float>($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            #[allow(unsafe_code)]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn avx512<T: Float>($($arg: $ty),*) -> $ret {
                    $kernel($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn avx2<T: Float>($($arg: $ty),*) -> $ret {
                    $kernel($($arg),*)
                }
                match $crate::kernels::cpu::Isa::detected() {
                    // SAFETY: the CPU has every feature `avx512` enables (`Isa::detected`).
                    $crate::kernels::cpu::Isa::Avx512 => return unsafe { avx512($($arg),*) },
                    // SAFETY: as above, for AVX2 and FMA.
                    $crate::kernels::cpu::Isa::Avx2 => return unsafe { avx2($($arg),*) },
                    $crate::kernels::cpu::Isa::Baseline => {}
                }
            }
            $kernel($($arg),*)
        }
    };
}

pub(crate) use simd_fn;

/// Runs `f` compiled for the widest vector instructions this CPU has (AVX-512, else AVX2 + FMA,
/// else the baseline), chosen at run time so the binary stays portable. `f` should call
/// `#[inline(always)]` loops so they are compiled inside the chosen instruction set.
#[inline(always)]
pub fn simd<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")]
        fn avx512<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        #[target_feature(enable = "avx2,fma")]
        fn avx2<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        match Isa::detected() {
            // SAFETY: the CPU has every feature `avx512` enables (`Isa::detected`).
            Isa::Avx512 => return unsafe { avx512(f) },
            // SAFETY: as above, for AVX2 and FMA.
            Isa::Avx2 => return unsafe { avx2(f) },
            Isa::Baseline => {}
        }
    }
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_detected_instruction_set_is_available_and_so_is_the_baseline() {
        assert!(Isa::detected().is_available());
        assert!(Isa::Baseline.is_available());
        assert_eq!(Isa::detected(), Isa::detected());
        assert_eq!(Isa::detected() == Isa::Avx512, Isa::Avx512.is_available());
        if Isa::detected() == Isa::Avx512 {
            assert!(has_avx512f());
        }
    }

    /// Linux's /proc/cpuinfo names the same CPUID string (elsewhere the test is not compiled).
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    #[test]
    fn the_vendor_is_the_one_the_kernel_reports() {
        let info = std::fs::read_to_string("/proc/cpuinfo").expect("/proc/cpuinfo");
        let line = info.lines().find(|l| l.starts_with("vendor_id")).expect("a vendor_id line");
        let want = match line.split(':').nth(1).map(str::trim) {
            Some("GenuineIntel") => Vendor::Intel,
            Some("AuthenticAMD") => Vendor::Amd,
            _ => Vendor::Other,
        };
        assert_eq!(vendor(), want, "{line}");
    }

    #[test]
    fn simd_runs_the_closure_once() {
        let mut calls = 0;
        assert_eq!(
            simd(|| {
                calls += 1;
                7
            }),
            7
        );
        assert_eq!(calls, 1);
    }
}
