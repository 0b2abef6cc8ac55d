//! One module per page.

pub mod experiments;
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
