//! Masking keys and handshake nonces from a caller-seeded generator.
//!
//! The core draws no entropy itself: the caller passes a 32-byte seed (from
//! the OS in production, a constant in tests) and ChaCha8 stretches it, so a
//! transcript is reproducible from its seed while keys stay unpredictable to
//! anyone who does not know the seed.

use alloc::boxed::Box;

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The generator, started on the first draw: a server never draws, and
/// keeps only the seed instead of the generator's state and buffer (about
/// 300 bytes, on every connection it holds).
pub(crate) struct KeyRng {
    seed: [u8; 32],
    started: Option<Box<ChaCha8Rng>>,
}

impl KeyRng {
    pub(crate) fn from_seed(seed: [u8; 32]) -> Self {
        KeyRng {
            seed,
            started: None,
        }
    }

    #[inline]
    fn generator(&mut self) -> &mut ChaCha8Rng {
        let seed = self.seed;
        self.started
            .get_or_insert_with(|| Box::new(ChaCha8Rng::from_seed(seed)))
    }

    /// The next masking key. Little-endian, so that a seed gives the same
    /// keys, and the same transcript, on every target.
    #[inline]
    pub(crate) fn mask_key(&mut self) -> [u8; 4] {
        self.generator().next_u32().to_le_bytes()
    }

    /// Where the generator is: its seed, stream and word position, from
    /// which [`KeyRng::from_state`] continues the same sequence.
    pub(crate) fn state(&self) -> ([u8; 32], u64, u128) {
        match &self.started {
            Some(rng) => (rng.get_seed(), rng.get_stream(), rng.get_word_pos()),
            None => (self.seed, 0, 0),
        }
    }

    /// The generator [`KeyRng::state`] described.
    pub(crate) fn from_state(seed: [u8; 32], stream: u64, word_pos: u128) -> Self {
        if stream == 0 && word_pos == 0 {
            return KeyRng::from_seed(seed);
        }
        let mut rng = ChaCha8Rng::from_seed(seed);
        rng.set_stream(stream);
        rng.set_word_pos(word_pos);
        KeyRng {
            seed,
            started: Some(Box::new(rng)),
        }
    }

    pub(crate) fn nonce(&mut self) -> [u8; 16] {
        let mut nonce = [0; 16];
        self.generator().fill_bytes(&mut nonce);
        nonce
    }
}

impl core::fmt::Debug for KeyRng {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("KeyRng")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys are the generator's bytes in the order `fill_bytes` gives
    /// them, on every target: a transcript recorded on one machine replays
    /// byte for byte on another, big-endian ones included.
    #[test]
    fn keys_from_a_fixed_seed_do_not_depend_on_the_target() {
        let mut rng = KeyRng::from_seed([7; 32]);
        assert_eq!(rng.state(), ([7; 32], 0, 0));
        let keys: [[u8; 4]; 3] = [rng.mask_key(), rng.mask_key(), rng.mask_key()];
        // A generator rebuilt from where this one is continues it.
        let (seed, stream, word_pos) = rng.state();
        let next = KeyRng::from_state(seed, stream, word_pos).mask_key();
        assert_eq!(next, rng.mask_key());
        assert_eq!(
            keys,
            [[228, 208, 203, 89], [63, 188, 30, 57], [230, 67, 129, 218]]
        );

        let mut stream = [0; 12];
        ChaCha8Rng::from_seed([7; 32]).fill_bytes(&mut stream);
        assert_eq!(keys.concat(), stream);
    }
}
