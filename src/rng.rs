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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng as _;

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
