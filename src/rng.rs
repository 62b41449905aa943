//! The seeded generator every random draw comes from (initialisation, shuffling, augmentation,
//! table splits): the same seed gives the same bits on every machine.

use rand::SeedableRng;

/// The library's random number generator: xoshiro256++, small, fast, and serialisable (checkpoints).
pub type Rng = rand_xoshiro::Xoshiro256PlusPlus;

/// A generator seeded from a `u64`.
pub fn rng(seed: u64) -> Rng {
    Rng::seed_from_u64(seed)
}
