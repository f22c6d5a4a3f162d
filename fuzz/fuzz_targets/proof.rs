#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| certgen_fuzz::proof(data));
