//! libFuzzer target: arbitrary bytes -> a /dev/shm object -> attach -> reads.
//! The case function (`testkit::attach_case`, in `crates/testkit`) is the
//! one `crates/slick-queue/tests/attach_fuzz.rs` replays the corpus through.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use testkit::attach_case;

fn name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| format!("sqfuzz_attach_{}", std::process::id()))
}

fuzz_target!(|data: &[u8]| {
    attach_case::Case::decode(data).run(name());
});
