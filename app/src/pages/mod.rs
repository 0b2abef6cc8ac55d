//! One module per page.

pub mod experiments;

use leptos::prelude::ServerFnError;

/// The message of a failed server call as the user should read it: the server's own
/// words, without the framework's prefix.
pub fn error_text(e: &ServerFnError) -> String {
    match e {
        ServerFnError::ServerError(message) => message.clone(),
        other => other.to_string(),
    }
}
