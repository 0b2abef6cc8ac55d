//! The layer every request passes: it gives the request an id, counts and times it for
//! `/metrics`, and writes one log line when it is answered.
//!
//! Labels and log fields are chosen to stay bounded and free of secrets: the route is the
//! matched route's template (never the raw path), and neither headers nor query strings
//! are logged, so `Authorization`, cookies and tokens in URLs never reach the logs.

use super::metrics::{HTTP_DURATION, HTTP_IN_FLIGHT, HTTP_REQUESTS};
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use metrics::{counter, gauge, histogram};
use std::time::Instant;
use tracing::Instrument;

/// The header that carries a request's id, both ways.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The route label of requests no route matched.
pub const UNMATCHED: &str = "unmatched";
/// The route label of every static asset (served by the UI's fallback).
pub const STATIC_ASSETS: &str = "/pkg/{*path}";

/// The longest incoming request id kept; longer ones are replaced.
const MAX_ID_LEN: usize = 128;

/// The request's id, in its extensions for handlers that want it.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// Middleware (`axum::middleware::from_fn`) applied to the whole router.
pub async fn observe(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = route(&req);
    let method = method(req.method());
    let id = incoming_id(req.headers())
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = %route);

    let in_flight = InFlight::start();
    let mut response = next.run(req).instrument(span).await;
    drop(in_flight);

    let latency = started.elapsed();
    let status = response.status().as_u16();
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID.clone(), value);
    }
    counter!(HTTP_REQUESTS, "route" => route.clone(), "method" => method, "status" => status.to_string())
        .increment(1);
    histogram!(HTTP_DURATION, "route" => route.clone(), "method" => method)
        .record(latency.as_secs_f64());
    tracing::info!(
        target: "ferroflow::http",
        route = %route,
        method = %method,
        status,
        latency_ms = (latency.as_secs_f64() * 1e6).round() / 1e3,
        request_id = %id,
        "request"
    );
    response
}

/// The route template the router matched (`/api/2.0/mlflow/runs/log-metric`,
/// `/experiments/{id}`), one label for all static assets, and `unmatched` for the rest,
/// including the API's not-found fallbacks.
fn route(req: &Request) -> String {
    match req.extensions().get::<MatchedPath>() {
        // Nested routers' fallbacks match a private catch-all; they found no route.
        Some(m) if !m.as_str().contains("__private__axum") => m.as_str().to_owned(),
        _ if req.uri().path().starts_with("/pkg/") => STATIC_ASSETS.to_owned(),
        _ => UNMATCHED.to_owned(),
    }
}

/// The method label: the standard methods by name, anything else as `other`.
fn method(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// The caller's request id if it is one we can safely log and echo: at most 128
/// characters of letters, digits and `-_.:+/=@`. Anything else is replaced.
pub fn incoming_id(headers: &HeaderMap) -> Option<&str> {
    let id = headers.get(&REQUEST_ID)?.to_str().ok()?;
    let sane = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:+/=@".contains(&b));
    sane.then_some(id)
}

/// Counts a request in flight until dropped, so a request whose client went away (its
/// future dropped mid-way) is not counted forever. Such a request gets no log line and
/// no `ferroflow_http_requests_total` count: it was never answered.
struct InFlight;

impl InFlight {
    fn start() -> Self {
        gauge!(HTTP_IN_FLIGHT).increment(1.0);
        Self
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        gauge!(HTTP_IN_FLIGHT).decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_id(id: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(REQUEST_ID.clone(), HeaderValue::from_str(id).unwrap());
        h
    }

    #[test]
    fn sane_ids_are_kept() {
        for id in ["abc", "3f2a-11:x", "a+b/c=", "req@host", &"x".repeat(128)] {
            assert_eq!(incoming_id(&with_id(id)), Some(id));
        }
    }

    #[test]
    fn other_ids_are_replaced() {
        for id in ["", "a b", "a\"b", "<script>", "{}", &"x".repeat(129)] {
            assert_eq!(incoming_id(&with_id(id)), None, "{id:?}");
        }
        // Not ASCII: a valid header value, but not text we echo or log.
        let mut h = HeaderMap::new();
        h.insert(
            REQUEST_ID.clone(),
            HeaderValue::from_bytes("é".as_bytes()).unwrap(),
        );
        assert_eq!(incoming_id(&h), None);
        assert_eq!(incoming_id(&HeaderMap::new()), None);
    }
}
