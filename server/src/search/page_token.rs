//! Page tokens in MLflow's format: base64 of the JSON `{"offset": N}`, so tokens from an
//! MLflow server keep working here and the other way round.

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use std::fmt;

/// Standard alphabet, padding optional on input (Python's decoder is lenient too).
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A token that is not one this server (or MLflow) hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageTokenError {
    pub token: String,
    pub reason: String,
}

impl fmt::Display for PageTokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Invalid page token '{}': {}", self.token, self.reason)
    }
}

impl std::error::Error for PageTokenError {}

/// The position a page starts at, as carried between requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PageToken {
    pub offset: u64,
}

impl PageToken {
    /// The opaque token, byte-identical to MLflow's (`json.dumps` puts a space after
    /// the colon).
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(format!("{{\"offset\": {}}}", self.offset))
    }

    /// Reads a token; an empty one is the first page.
    ///
    /// Offsets above `i64::MAX` are refused: both databases take signed 64-bit offsets.
    pub fn decode(token: &str) -> Result<Self, PageTokenError> {
        let token = token.trim();
        if token.is_empty() {
            return Ok(Self::default());
        }
        let fail = |reason: &str| PageTokenError {
            token: token.to_owned(),
            reason: reason.to_owned(),
        };
        let bytes = LENIENT
            .decode(token)
            .map_err(|_| fail("it is not valid base64"))?;
        let json: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|_| fail("it does not hold JSON"))?;
        let offset = json
            .as_object()
            .ok_or_else(|| fail("expected a JSON object"))?
            .get("offset")
            .ok_or_else(|| fail("the offset is missing"))?;
        // MLflow reads the offset with int(), so a string of digits is accepted too.
        let offset = match offset {
            serde_json::Value::Number(n) => n.as_i64(),
            serde_json::Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        }
        .ok_or_else(|| fail("the offset is not an integer"))?;
        let offset = u64::try_from(offset).map_err(|_| fail("the offset is negative"))?;
        Ok(Self { offset })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(token: &str) -> Result<u64, PageTokenError> {
        PageToken::decode(token).map(|t| t.offset)
    }

    #[test]
    fn mlflow_token_decodes() {
        assert_eq!(decode("eyJvZmZzZXQiOiAxfQ=="), Ok(1));
        assert_eq!(decode("eyJvZmZzZXQiOiAxfQ"), Ok(1), "padding is optional");
        assert_eq!(PageToken { offset: 1 }.encode(), "eyJvZmZzZXQiOiAxfQ==");
    }

    #[test]
    fn round_trip() {
        for n in [0, 1, 999, 50_000, i64::MAX as u64] {
            assert_eq!(decode(&PageToken { offset: n }.encode()), Ok(n));
        }
    }

    #[test]
    fn empty_is_first_page() {
        assert_eq!(decode(""), Ok(0));
        assert_eq!(decode("  "), Ok(0));
    }

    #[test]
    fn string_offset_accepted() {
        let token = base64::engine::general_purpose::STANDARD.encode(r#"{"offset": "7"}"#);
        assert_eq!(decode(&token), Ok(7));
    }

    #[test]
    fn garbage_is_rejected() {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        for bad in [
            "!!!".to_owned(),
            "bm90IGpzb24=".to_owned(), // "not json"
            b64("[1]"),
            b64("{}"),
            b64(r#"{"offset": -1}"#),
            b64(r#"{"offset": 1.5}"#),
            b64(r#"{"offset": "x"}"#),
            b64(r#"{"offset": 18446744073709551615}"#),
            b64(r#"{"offset": null}"#),
        ] {
            let err = decode(&bad).expect_err(&bad);
            assert!(err.to_string().starts_with("Invalid page token"), "{err}");
        }
    }
}
