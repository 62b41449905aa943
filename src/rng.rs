//! The seeded generator every random draw comes from (initialisation, shuffling, augmentation,
//! table splits): the same seed gives the same bits on every machine.

use rand::SeedableRng;

/// The library's random number generator: xoshiro256++, small, fast, and serialisable (checkpoints).
pub type Rng = rand_xoshiro::Xoshiro256PlusPlus;

/// A generator seeded from a `u64`.
pub fn rng(seed: u64) -> Rng {
    Rng::seed_from_u64(seed)
}

/// One step of SplitMix64: a bijective mix of all 64 bits, so that nearby keys give unrelated
/// outputs.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A generator of its own for one item of a run, such as one row's dropout masks in one epoch:
/// its draws depend on `seed` and `keys` alone, not on which thread or process draws them, nor in
/// what order.
pub fn stream(seed: u64, keys: &[u64]) -> Rng {
    rng(keys.iter().fold(mix(seed), |h, &k| mix(h ^ k)))
}

/// The generator of [`stream`]`(seed, keys)` as its raw xoshiro256++ state, for loops that run
/// several streams side by side in vector lanes (`kernels::dropout_rows`, whose
/// `kernels::xoshiro_step` is the `Rng`'s step); its draws are those of the [`Rng`].
pub(crate) fn stream_state(seed: u64, keys: &[u64]) -> [u64; 4] {
    // `Rng::seed_from_u64(h)`: SplitMix64 from `h` fills the four words in turn (SplitMix64's
    // step is `mix` after adding its increment; an all-zero state cannot come out of it).
    let mut h = keys.iter().fold(mix(seed), |h, &k| mix(h ^ k));
    std::array::from_fn(|_| {
        let z = mix(h);
        h = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::xoshiro_step;
    use rand::Rng as _;

    #[test]
    fn the_raw_state_draws_what_the_stream_draws() {
        for (seed, keys) in [(0u64, &[][..]), (1, &[2, 3]), (u64::MAX, &[7, 0, 9, 1])] {
            let (mut g, mut s) = (stream(seed, keys), stream_state(seed, keys));
            for _ in 0..100 {
                assert_eq!(xoshiro_step(&mut s), g.random::<u64>());
            }
        }
    }

    #[test]
    fn streams_differ_by_every_key_and_repeat_for_the_same_keys() {
        let first = |s: u64, k: &[u64]| stream(s, k).random::<u64>();
        assert_eq!(first(1, &[2, 3]), first(1, &[2, 3]));
        let all = [first(1, &[2, 3]), first(2, &[2, 3]), first(1, &[3, 2]), first(1, &[2, 4]), first(1, &[2])];
        for (i, a) in all.iter().enumerate() {
            assert!(all[i + 1..].iter().all(|b| b != a), "{all:?}");
        }
    }
}
