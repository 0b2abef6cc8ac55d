//! One module per page.

pub mod access;
pub mod account;
pub mod admin;
pub mod artifacts;
pub mod compare;
pub mod experiments;
pub mod models;
pub mod plot;
pub mod run;
pub mod runs;

use leptos::prelude::ServerFnError;

/// What pages need from the server while rendering. Each page module declares its own
/// store trait (`<page>::ssr::*Store`); the server crate implements it (`server/src/ui/`)
/// and provides it in the Leptos context, so pages never see SQL.
#[cfg(feature = "ssr")]
pub mod ssr {
    use leptos::prelude::{ServerFnError, use_context};
    use std::{future::Future, pin::Pin, sync::Arc};

    pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

    /// The store of type `S` that the server provided for this request.
    pub fn store<S: ?Sized + Send + Sync + 'static>() -> Result<Arc<S>, ServerFnError> {
        use_context::<Arc<S>>().ok_or_else(|| {
            ServerFnError::new(format!(
                "the UI store {} is not configured",
                std::any::type_name::<S>()
            ))
        })
    }
}

/// The message of a failed server call as the user should read it: the server's own
/// words, without the framework's prefix.
pub fn error_text(e: &ServerFnError) -> String {
    match e {
        ServerFnError::ServerError(message) => message.clone(),
        other => other.to_string(),
    }
}

/// Percent-encodes a URL component (RFC 3986 unreserved characters stay as they are), so
/// run ids, metric keys and artifact paths survive a round trip through a link.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn url_encoding_keeps_unreserved_and_escapes_the_rest() {
        assert_eq!(super::url_encode("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(super::url_encode("dir/x y,z&"), "dir%2Fx%20y%2Cz%26");
        assert_eq!(super::url_encode("é"), "%C3%A9");
    }
}
