//! Seeded randomness for crash tests: kill points drawn from a printed seed, so a
//! failing run can be replayed.

use std::time::{SystemTime, UNIX_EPOCH};

/// A small deterministic generator (SplitMix64), so a failing run can be replayed from
/// its printed seed (`REFOLD_CRASH_SEED`).
pub struct SplitMix(pub u64);

impl SplitMix {
    /// A generator seeded from `REFOLD_CRASH_SEED`, or the clock (printed, so a failing
    /// run can be replayed).
    pub fn seeded() -> SplitMix {
        let seed = std::env::var("REFOLD_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        eprintln!("crash test seed: {seed} (rerun with REFOLD_CRASH_SEED={seed})");
        SplitMix(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}
