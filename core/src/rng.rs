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

    pub(crate) fn mask_key(&mut self) -> [u8; 4] {
        self.0.next_u32().to_ne_bytes()
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
