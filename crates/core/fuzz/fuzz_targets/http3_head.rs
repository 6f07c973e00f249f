#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    quicbridge_core::fuzzing::http3_head(data);
});
