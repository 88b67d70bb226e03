#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dhcp_journal::fuzz_parse(data));
