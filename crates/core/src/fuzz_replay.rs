//! The fuzz targets' corpora on the stable toolchain: every file under
//! `fuzz/corpus/<target>/` is run through the target's property check
//! (`fuzzing.rs`) as it is and then in seeded mutations (byte flips,
//! splices, truncations, extreme JSON values), under `cargo test -p
//! quicbridge-core`. This is not coverage-guided like the cargo-fuzz
//! targets (`scripts/fuzz.sh`), but it needs no extra tools and keeps the
//! checked-in seeds honest. Set `QUICBRIDGE_FUZZ_ITERATIONS` (mutations per
//! corpus file) for a longer run.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

/// xorshift64*: deterministic, so a failure names a reproducible case.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&str] = &[
    "0",
    "-1",
    "1e308",
    "-1e308",
    "18446744073709551616",
    "4294967296",
    "65536",
    "1.5",
    "NaN",
    "null",
    "true",
    "\"\"",
    "[]",
    "{}",
    "\"always\"",
    "\"auto\"",
    "\"never\"",
    "\"bbr\"",
    "\"TLS_CHACHA20_POLY1305_SHA256\"",
    "\"\\u0000\"",
    "\"::1\"",
    "\"999.1.1.1\"",
];

fn mutate(corpus: &[Vec<u8>], rng: &mut Rng) -> Vec<u8> {
    let mut out = corpus[rng.below(corpus.len())].clone();
    for _ in 0..1 + rng.below(3) {
        match rng.below(5) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 => {
                let cut = rng.below(out.len() + 1);
                out.truncate(cut);
            }
            2 => {
                let other = &corpus[rng.below(corpus.len())];
                let at = rng.below(out.len() + 1);
                let from = rng.below(other.len() + 1);
                out.splice(at..at, other[from..].iter().copied());
            }
            _ => {
                // Replace a number or a string value with an extreme token.
                let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                let positions: Vec<usize> = out
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| **b == b':')
                    .map(|(i, _)| i + 1)
                    .collect();
                if let Some(&at) = positions.get(rng.below(positions.len().max(1))) {
                    let end = out[at..]
                        .iter()
                        .position(|b| *b == b',' || *b == b'}')
                        .map_or(out.len(), |p| at + p);
                    out.splice(at..end, token.iter().copied());
                }
            }
        }
    }
    out
}

/// Runs `check` on the corpus of `target` and on `default_per_file`
/// mutations of each of its files; a panic names the input.
fn replay(target: &str, default_per_file: usize, check: impl Fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut corpus: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .collect();
    corpus.sort();
    assert!(
        corpus.len() >= 5,
        "{target} corpus too small: {}",
        corpus.len()
    );
    let per_file: usize = std::env::var("QUICBRIDGE_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_per_file);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mutations = (0..per_file * corpus.len()).map(|_| mutate(&corpus, &mut rng));
    for (n, input) in corpus.clone().into_iter().chain(mutations).enumerate() {
        if catch_unwind(AssertUnwindSafe(|| check(&input))).is_err() {
            panic!(
                "{target}: input {n} failed its property check: {:?}",
                String::from_utf8_lossy(&input)
            );
        }
    }
}

#[test]
fn option_parsers_survive_mutated_corpus() {
    let accepted = Cell::new(0);
    replay("config", 50_000, |input| {
        if crate::fuzzing::config(input) > 0 {
            accepted.set(accepted.get() + 1);
        }
    });
    assert!(accepted.get() > 0, "no input was accepted by any parser");
}

#[test]
fn message_framing_survives_mutated_corpus() {
    replay("message", 20_000, crate::fuzzing::message);
}

#[test]
fn http3_heads_survive_mutated_corpus() {
    replay("http3_head", 20_000, crate::fuzzing::http3_head);
}
