//! Subnormal floats flushed to zero on the threads that train.
//!
//! Late in training, gradients, Adam's moments and the small weights they move underflow below
//! `f32::MIN_POSITIVE` (1.2e-38) into subnormal numbers, which many x86 cores (Intel's among them)
//! handle in microcode at tens to hundreds of cycles each: epochs slow down by half or more while
//! nothing about the model changes. The SSE control register (MXCSR) can flush such results to
//! zero (FTZ) and read such inputs as zero (DAZ), as PyTorch's `set_flush_denormal(True)` does.
//!
//! What it changes: a number that would be subnormal, |x| < 1.2e-38 in f32 (2.2e-308 in f64), is
//! 0 instead. Such numbers are below anything a network's outputs can resolve, so the losses and
//! accuracies are unchanged to the digits printed. Runs stay deterministic, and a resumed run
//! equals an uninterrupted one bit for bit: every thread that trains has the same mode, from the
//! first step, whatever the thread count.
//!
//! Only threads the library owns get the mode for good (its pools, from their start); the caller's
//! own thread gets it for the duration of a training call ([`FlushToZero`]) and its previous
//! mode back after, so an application around the library sees no change. A thread started while
//! the mode is set inherits it (a new thread gets a copy of its creator's control register), so
//! the library starts none during training. On other architectures this does nothing.

/// MXCSR's flush-to-zero (bit 15) and denormals-are-zero (bit 6) bits.
#[cfg(target_arch = "x86_64")]
const FTZ_DAZ: u32 = (1 << 15) | (1 << 6);

/// While alive, this thread flushes subnormal results to zero and reads subnormal inputs as zero;
/// dropped, the thread's previous mode is restored.
#[must_use = "the mode lasts only while the guard is alive"]
pub struct FlushToZero {
    #[cfg(target_arch = "x86_64")]
    saved: u32,
}

impl FlushToZero {
    /// Sets the mode on the calling thread until the guard is dropped.
    pub fn on_this_thread() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            let saved = read_mxcsr();
            write_mxcsr(saved | FTZ_DAZ);
            FlushToZero { saved }
        }
        #[cfg(not(target_arch = "x86_64"))]
        FlushToZero {}
    }
}

impl Drop for FlushToZero {
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        write_mxcsr(self.saved);
    }
}

/// Sets the mode on the calling thread for good: for the start of a pool thread the library owns.
pub fn flush_to_zero_for_good() {
    std::mem::forget(FlushToZero::on_this_thread());
}

/// Whether the calling thread flushes subnormals to zero (and reads them as zero).
pub fn flushing() -> bool {
    #[cfg(target_arch = "x86_64")]
    return read_mxcsr() & FTZ_DAZ == FTZ_DAZ;
    #[cfg(not(target_arch = "x86_64"))]
    false
}

#[cfg(target_arch = "x86_64")]
fn read_mxcsr() -> u32 {
    let mut value = 0u32;
    // SAFETY: `stmxcsr` stores the 4-byte MXCSR to the address given, here a live, aligned,
    // writable u32; SSE is part of x86_64's baseline, so the instruction exists.
    unsafe {
        std::arch::asm!("stmxcsr [{}]", in(reg) &mut value, options(nostack, preserves_flags));
    }
    value
}

#[cfg(target_arch = "x86_64")]
fn write_mxcsr(value: u32) {
    // SAFETY: `ldmxcsr` loads MXCSR from a live, aligned u32. Only the FTZ and DAZ bits ever
    // differ from what the thread had (every value written is a value read, with those bits set);
    // reserved bits are kept as read, so the load cannot fault. The mode changes how subnormal
    // floats round, which no safe code's memory safety depends on.
    unsafe {
        std::arch::asm!("ldmxcsr [{}]", in(reg) &value, options(nostack, readonly, preserves_flags));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn halve(x: f32) -> f32 {
        std::hint::black_box(x) * std::hint::black_box(0.5)
    }

    #[test]
    fn subnormals_are_flushed_while_the_guard_lives_and_the_mode_is_restored_after() {
        let tiny = f32::MIN_POSITIVE;
        assert!(halve(tiny).is_subnormal());
        let before = flushing();
        {
            let _guard = FlushToZero::on_this_thread();
            if cfg!(target_arch = "x86_64") {
                assert!(flushing());
                assert_eq!(halve(tiny), 0.0);
                // Read as zero: a subnormal input counts as 0.
                let sub = f32::from_bits(1);
                assert_eq!(std::hint::black_box(sub) * std::hint::black_box(2.0f32), 0.0);
            }
            // Normal numbers are untouched.
            assert_eq!(halve(1.0), 0.5);
        }
        assert_eq!(flushing(), before);
        assert!(halve(tiny).is_subnormal());
    }

    #[test]
    fn a_thread_set_for_good_keeps_the_mode() {
        let flushed = std::thread::spawn(|| {
            flush_to_zero_for_good();
            (flushing(), halve(f32::MIN_POSITIVE))
        })
        .join()
        .unwrap();
        if cfg!(target_arch = "x86_64") {
            assert_eq!(flushed, (true, 0.0));
        }
        assert!(!flushing());
    }
}
