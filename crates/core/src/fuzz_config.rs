//! Fuzzing the option parsers on the stable toolchain: every corpus file
//! under `fuzz/corpus/config/` (valid and invalid option JSON, as the
//! bindings pass it) is parsed as it is and then in 50 000 seeded mutations
//! each (byte flips, splices, truncations, extreme numbers), through the
//! same parse-and-validate path the bindings use. Nothing may panic, and
//! every failure must be a typed `ERR_QUIC_INVALID_ARG`. cargo-fuzz needs a
//! nightly toolchain this project does not have; this replay test runs
//! under `cargo test -p quicbridge-core` instead. Set
//! `QUICBRIDGE_FUZZ_ITERATIONS` for a longer run.

use std::path::Path;

use crate::config::{ConnectOptions, EndpointOptions, SocketTraits};
use crate::error::ErrorCode;

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

/// The parse-and-validate path of the bindings, without sockets or TLS keys.
fn exercise(input: &[u8]) -> Vec<ErrorCode> {
    let text = String::from_utf8_lossy(input);
    let mut errors = Vec::new();
    match EndpointOptions::from_json(&text) {
        Ok(options) => {
            if let Some(server) = options.server {
                for r in [
                    server.max_connections().map(|_| ()),
                    server.retry().map(|_| ()),
                    server
                        .transport
                        .to_quinn(SocketTraits {
                            may_fragment: false,
                        })
                        .map(|_| ()),
                ] {
                    if let Err(e) = r {
                        errors.push(e.code());
                    }
                }
            }
        }
        Err(e) => errors.push(e.code()),
    }
    match ConnectOptions::from_json(&text) {
        Ok(options) => {
            for r in [
                options.remote().map(|_| ()),
                options
                    .transport
                    .to_quinn(SocketTraits { may_fragment: true })
                    .map(|_| ()),
            ] {
                if let Err(e) = r {
                    errors.push(e.code());
                }
            }
        }
        Err(e) => errors.push(e.code()),
    }
    if let Err(e) = crate::certs::generate_self_signed_json(&text) {
        errors.push(e.code());
    }
    errors
}

#[test]
fn option_parsers_survive_mutated_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/config");
    let mut corpus: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|entry| std::fs::read(entry.unwrap().path()).unwrap())
        .collect();
    corpus.sort();
    assert!(corpus.len() >= 5, "corpus too small: {}", corpus.len());
    let per_file: usize = std::env::var("QUICBRIDGE_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut inputs = 0usize;
    let mut accepted = 0usize;
    for input in corpus
        .clone()
        .into_iter()
        .chain((0..per_file * corpus.len()).map(|_| mutate(&corpus, &mut rng)))
    {
        inputs += 1;
        let result = std::panic::catch_unwind(|| exercise(&input));
        let codes = result.unwrap_or_else(|_| {
            panic!(
                "panic on input {inputs}: {:?}",
                String::from_utf8_lossy(&input)
            )
        });
        for code in &codes {
            assert!(
                matches!(code, ErrorCode::InvalidArg),
                "input {inputs} ({:?}) failed with {} instead of a typed invalid-argument error",
                String::from_utf8_lossy(&input),
                code.as_str()
            );
        }
        if codes.len() < 3 {
            accepted += 1;
        }
    }
    assert!(accepted > 0, "no input was accepted by any parser");
    corpus.clear();
}
