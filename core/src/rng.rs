//! Masking keys and handshake nonces from a caller-seeded generator.
//!
//! The core draws no entropy itself: the caller passes a 32-byte seed (from
//! the OS in production, a constant in tests) and ChaCha8 stretches it, so a
//! transcript is reproducible from its seed while keys stay unpredictable to
//! anyone who does not know the seed.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub(crate) struct KeyRng(ChaCha8Rng);

impl KeyRng {
    pub(crate) fn from_seed(seed: [u8; 32]) -> Self {
        KeyRng(ChaCha8Rng::from_seed(seed))
    }

    /// The next masking key. Little-endian, so that a seed gives the same
    /// keys, and the same transcript, on every target.
    pub(crate) fn mask_key(&mut self) -> [u8; 4] {
        self.0.next_u32().to_le_bytes()
    }

    /// Where the generator is: its seed, stream and word position, from
    /// which [`KeyRng::from_state`] continues the same sequence.
    pub(crate) fn state(&self) -> ([u8; 32], u64, u128) {
        (
            self.0.get_seed(),
            self.0.get_stream(),
            self.0.get_word_pos(),
        )
    }

    /// The generator [`KeyRng::state`] described.
    pub(crate) fn from_state(seed: [u8; 32], stream: u64, word_pos: u128) -> Self {
        let mut rng = ChaCha8Rng::from_seed(seed);
        rng.set_stream(stream);
        rng.set_word_pos(word_pos);
        KeyRng(rng)
    }

    pub(crate) fn nonce(&mut self) -> [u8; 16] {
        let mut nonce = [0; 16];
        self.0.fill_bytes(&mut nonce);
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
        let keys: [[u8; 4]; 3] = [rng.mask_key(), rng.mask_key(), rng.mask_key()];
        assert_eq!(
            keys,
            [[228, 208, 203, 89], [63, 188, 30, 57], [230, 67, 129, 218]]
        );

        let mut stream = [0; 12];
        ChaCha8Rng::from_seed([7; 32]).fill_bytes(&mut stream);
        assert_eq!(keys.concat(), stream);
    }
}
