//! Cross-site request forgery: a browser sends the session cookie with requests another
//! site makes it send (a form posted from evil.example). So under `--auth oidc` a request
//! that changes state (any method but GET, HEAD, OPTIONS) and carries no `Authorization`
//! header must show it comes from a page of this server: `Sec-Fetch-Site` (when the
//! browser sends it) must be `same-origin` or `none`, and `Origin`, or failing that
//! `Referer`, must name this server's origin (`--public-url`, else the `Host` the request
//! came to). A request with none of those headers is refused: every browser of the last
//! years sends `Origin` on a POST, and scripts authenticate with tokens, not cookies.
//! Requests with an `Authorization` header, or without the session cookie, are not
//! cookie-authenticated: no check (they get 401 if they lack a credential).

use super::{AuthConfig, OidcConfig};
use crate::error::ApiError;
use app::models::ErrorCode;
use axum::http::{HeaderMap, Method, header, request::Parts};

/// Whether the request must pass the check.
pub fn applies(auth: &AuthConfig, parts: &Parts) -> bool {
    matches!(auth, AuthConfig::Oidc(_))
        && !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS)
        && !parts.headers.contains_key(header::AUTHORIZATION)
        && has_session_cookie(&parts.headers)
}

fn has_session_cookie(headers: &HeaderMap) -> bool {
    let prefix = format!("{}=", super::session::COOKIE);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .any(|c| c.trim_start().starts_with(&prefix))
}

/// `Ok` for a same-origin request, else 403 with MLflow's error JSON.
pub fn check(config: &OidcConfig, headers: &HeaderMap) -> Result<(), ApiError> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = get("sec-fetch-site")
        && site != "same-origin"
        && site != "none"
    {
        return Err(refused(&format!("Sec-Fetch-Site is {site:?}")));
    }
    let claimed = match (get("origin"), get("referer")) {
        (Some(origin), _) => origin.to_owned(),
        (None, Some(referer)) => origin_of(referer)
            .ok_or_else(|| refused("the Referer is not a URL"))?
            .to_owned(),
        (None, None) => return Err(refused("it has neither Origin nor Referer")),
    };
    let claimed = claimed.trim_end_matches('/');
    let ok = match &config.public_url {
        Some(public) => origin_of(public).is_some_and(|o| o.eq_ignore_ascii_case(claimed)),
        None => get("host").is_some_and(|host| {
            claimed.eq_ignore_ascii_case(&format!("http://{host}"))
                || claimed.eq_ignore_ascii_case(&format!("https://{host}"))
        }),
    };
    if ok {
        Ok(())
    } else {
        Err(refused(&format!("it comes from {claimed:?}")))
    }
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme.is_empty() || rest.is_empty() {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&url[..scheme.len() + 3 + end])
}

fn refused(why: &str) -> ApiError {
    ApiError::new(
        ErrorCode::PermissionDenied,
        format!(
            "Cross-site request refused: a browser request that changes something must come \
             from this server's own pages ({why})."
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn config(public_url: Option<&str>) -> OidcConfig {
        OidcConfig {
            issuer: "http://idp".into(),
            client_id: "c".into(),
            client_secret: "s".into(),
            scopes: vec!["openid".into()],
            groups_claim: "groups".into(),
            audiences: vec!["c".into()],
            admin_groups: vec![],
            allowed_groups: vec![],
            public_url: public_url.map(str::to_owned),
            default_permission: crate::auth::Permission::Read,
            session_ttl: std::time::Duration::from_secs(60),
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn same_origin_passes() {
        let c = config(None);
        let host = ("host", "127.0.0.1:5000");
        assert!(check(&c, &headers(&[host, ("origin", "http://127.0.0.1:5000")])).is_ok());
        assert!(
            check(
                &c,
                &headers(&[host, ("referer", "http://127.0.0.1:5000/x?y")])
            )
            .is_ok()
        );
        assert!(
            check(
                &c,
                &headers(&[
                    host,
                    ("origin", "http://127.0.0.1:5000"),
                    ("sec-fetch-site", "same-origin")
                ])
            )
            .is_ok()
        );
        let c = config(Some("https://ml.example.com"));
        assert!(check(&c, &headers(&[("origin", "https://ml.example.com")])).is_ok());
    }

    #[test]
    fn cross_site_is_refused() {
        let c = config(None);
        let host = ("host", "127.0.0.1:5000");
        for bad in [
            headers(&[host, ("origin", "http://evil.example")]),
            headers(&[host, ("origin", "null")]),
            headers(&[host, ("referer", "http://127.0.0.1:5000.evil.example/")]),
            headers(&[host]),
            headers(&[
                host,
                ("origin", "http://127.0.0.1:5000"),
                ("sec-fetch-site", "cross-site"),
            ]),
            headers(&[
                host,
                ("origin", "http://127.0.0.1:5000"),
                ("sec-fetch-site", "same-site"),
            ]),
        ] {
            let e = check(&c, &bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::PermissionDenied);
            assert_eq!(e.status(), 403);
        }
        // Behind a public URL the Host header does not count.
        let c = config(Some("https://ml.example.com"));
        assert!(check(&c, &headers(&[host, ("origin", "http://127.0.0.1:5000")])).is_err());
    }
}
