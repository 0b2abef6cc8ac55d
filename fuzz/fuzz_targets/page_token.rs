//! Page tokens: any string decodes or is refused; a decoded token encodes back to one
//! that decodes to the same offset.
#![no_main]

use ferroflow::search::PageToken;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(token) = PageToken::decode(text) {
        assert!(token.offset <= i64::MAX as u64);
        assert_eq!(PageToken::decode(&token.encode()), Ok(token));
    }
});
