//! JWTs issued by the identity provider, used as bearer tokens (a job that got one with
//! the client-credentials grant). Verified with `jsonwebtoken` against the provider's JWKS
//! (from the discovery document's `jwks_uri`), its issuer, the accepted audiences, and
//! `exp`/`nbf` with a small leeway.
//!
//! Only asymmetric algorithms are accepted, and only the one the matching key declares
//! (or, for a key that declares none, the ones of its family): `alg: none` does not parse,
//! HMAC is never accepted (so a token "signed" with the public key as an HMAC secret is
//! refused), and `jsonwebtoken` refuses a key whose family differs from the algorithm.
//!
//! Keys are cached per issuer for the life of the process (keys belong to the issuer, not
//! to one server instance) and fetched again when a token names an unknown `kid`, at most
//! once per [`REFRESH_EVERY`].

use super::{Caller, Via, users};
use crate::error::ApiError;
use crate::state::AppState;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

/// Clock skew allowed on `exp` and `nbf`.
const LEEWAY_S: u64 = 30;
/// An unknown `kid` fetches the JWKS again at most this often.
const REFRESH_EVERY: Duration = Duration::from_secs(30);

/// The asymmetric algorithms a token may use.
const ASYMMETRIC: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// One usable key of the provider.
struct Key {
    kid: Option<String>,
    /// The algorithms this key may verify.
    algorithms: Vec<Algorithm>,
    key: DecodingKey,
}

#[derive(Default)]
struct KeySet {
    /// The `issuer` of the discovery document, which tokens must carry as `iss`.
    issuer: String,
    keys: Vec<Arc<Key>>,
    fetched: Option<Instant>,
}

static CACHE: LazyLock<Mutex<HashMap<String, Arc<KeySet>>>> = LazyLock::new(Default::default);

/// Three base64url segments whose header is a JSON object: worth verifying as a JWT.
pub fn looks_like_jwt(s: &str) -> bool {
    let mut parts = s.split('.');
    matches!((parts.next(), parts.next(), parts.next(), parts.next()), (Some(h), Some(_), Some(_), None) if !h.is_empty())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'='))
}

fn algorithms_of(jwk: &Jwk) -> Vec<Algorithm> {
    let declared = jwk
        .common
        .key_algorithm
        .and_then(|a| a.to_string().parse::<Algorithm>().ok());
    let family: &[Algorithm] = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => &ASYMMETRIC[..6],
        AlgorithmParameters::EllipticCurve(_) => &ASYMMETRIC[6..8],
        AlgorithmParameters::OctetKeyPair(_) => &ASYMMETRIC[8..],
        // Symmetric keys in a JWKS are never used.
        AlgorithmParameters::OctetKey(_) => &[],
    };
    match declared {
        Some(a) if family.contains(&a) => vec![a],
        Some(_) => Vec::new(),
        None => family.to_vec(),
    }
}

async fn fetch(issuer: &str) -> Result<KeySet, String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let discovery: serde_json::Value = client
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| format!("discovery: {e}"))?
        .json()
        .await
        .map_err(|e| format!("discovery: {e}"))?;
    let jwks_uri = discovery["jwks_uri"]
        .as_str()
        .ok_or("discovery has no jwks_uri")?;
    let jwks: serde_json::Value = client
        .get(jwks_uri)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| format!("jwks: {e}"))?
        .json()
        .await
        .map_err(|e| format!("jwks: {e}"))?;
    Ok(key_set(
        discovery["issuer"].as_str().unwrap_or(issuer),
        &jwks,
    ))
}

/// The usable keys of a JWKS document. One key of an unknown kind must not hide the
/// others, so keys are read one by one.
fn key_set(issuer: &str, jwks: &serde_json::Value) -> KeySet {
    let keys = jwks["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
        .filter_map(|jwk| {
            let algorithms = algorithms_of(&jwk);
            let key = DecodingKey::from_jwk(&jwk).ok()?;
            (!algorithms.is_empty()).then(|| {
                Arc::new(Key {
                    kid: jwk.common.key_id.clone(),
                    algorithms,
                    key,
                })
            })
        })
        .collect();
    KeySet {
        issuer: issuer.to_owned(),
        keys,
        fetched: Some(Instant::now()),
    }
}

/// The provider's keys; fetched again if `kid` is unknown (rate-limited).
async fn keys(issuer: &str, kid: Option<&str>) -> Option<Arc<KeySet>> {
    let cached = CACHE.lock().ok()?.get(issuer).cloned();
    let knows = |set: &KeySet| {
        set.keys
            .iter()
            .any(|k| kid.is_none() || k.kid.as_deref() == kid)
    };
    if let Some(set) = &cached {
        let recent = set.fetched.is_some_and(|t| t.elapsed() < REFRESH_EVERY);
        if knows(set) || recent {
            return cached;
        }
    }
    match fetch(issuer).await {
        Ok(set) => {
            let set = Arc::new(set);
            if let Ok(mut cache) = CACHE.lock() {
                cache.insert(issuer.to_owned(), set.clone());
            }
            Some(set)
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the identity provider's keys");
            cached
        }
    }
}

/// The caller a provider JWT names, or 401.
pub async fn caller(state: &AppState, token: &str) -> Result<Caller, ApiError> {
    let Some(oidc) = state.config.auth.oidc() else {
        return Err(super::unauthenticated());
    };
    let claims = verify(&oidc.issuer, &oidc.audiences, token)
        .await
        .ok_or_else(super::unauthenticated)?;
    let sub = claims["sub"].as_str().unwrap_or_default();
    if !sub.is_empty()
        && let Some(user) = users::by_subject(&state.db, sub).await?
    {
        return Ok(user.caller(Via::Jwt));
    }
    let username = ["preferred_username", "client_id", "sub"]
        .iter()
        .find_map(|c| claims[*c].as_str().filter(|s| !s.is_empty()))
        .ok_or_else(super::unauthenticated)?
        .to_owned();
    let groups: Vec<String> = match &claims[&oidc.groups_claim] {
        serde_json::Value::Array(a) => a
            .iter()
            .filter_map(|g| g.as_str().map(str::to_owned))
            .collect(),
        serde_json::Value::String(s) => vec![s.clone()],
        _ => Vec::new(),
    };
    let is_admin = groups.iter().any(|g| oidc.admin_groups.contains(g));
    Ok(Caller {
        user_id: None,
        username,
        groups,
        is_admin,
        via: Via::Jwt,
    })
}

/// The claims of a token that verifies, else `None`.
async fn verify(issuer: &str, audiences: &[String], token: &str) -> Option<serde_json::Value> {
    let header = jsonwebtoken::decode_header(token).ok()?;
    if !ASYMMETRIC.contains(&header.alg) {
        return None;
    }
    let set = keys(issuer, header.kid.as_deref()).await?;
    check(&set, audiences, token)
}

/// Verifies a token against a key set: the header's algorithm must be one the matching
/// key may verify, then signature, `iss`, `aud`, `exp` and `nbf`.
fn check(set: &KeySet, audiences: &[String], token: &str) -> Option<serde_json::Value> {
    let header = jsonwebtoken::decode_header(token).ok()?;
    if !ASYMMETRIC.contains(&header.alg) {
        return None;
    }
    let key = set.keys.iter().find(|k| {
        (header.kid.is_none() || k.kid == header.kid) && k.algorithms.contains(&header.alg)
    })?;
    let mut validation = Validation::new(header.alg);
    validation.algorithms = vec![header.alg];
    validation.leeway = LEEWAY_S;
    validation.validate_nbf = true;
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    validation.set_issuer(&[set.issuer.as_str()]);
    validation.set_audience(audiences);
    jsonwebtoken::decode::<serde_json::Value>(token, &key.key, &validation)
        .map_err(|e| tracing::debug!(error = %e, "provider JWT refused"))
        .ok()
        .map(|d| d.claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use jsonwebtoken::{EncodingKey, Header};
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    use serde_json::json;

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A P-256 key: its JWKS (kid `k1`, ES256) and its signing key.
    fn key() -> (serde_json::Value, EncodingKey, String) {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let public = pair.public_key().as_ref();
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig",
            "x": b64(&public[1..33]), "y": b64(&public[33..]),
        });
        let public_text = jwk.to_string();
        (
            json!({ "keys": [jwk] }),
            EncodingKey::from_ec_der(pkcs8.as_ref()),
            public_text,
        )
    }

    const ISS: &str = "https://idp.example.com";

    fn now() -> i64 {
        crate::store::now_ms() / 1000
    }

    fn claims(exp: i64) -> serde_json::Value {
        json!({ "iss": ISS, "aud": "ferroflow", "sub": "job", "exp": exp, "iat": now() })
    }

    fn sign(enc: &EncodingKey, alg: Algorithm, kid: Option<&str>, c: &serde_json::Value) -> String {
        let mut h = Header::new(alg);
        h.kid = kid.map(str::to_owned);
        jsonwebtoken::encode(&h, c, enc).unwrap()
    }

    #[test]
    fn verifies_signature_issuer_audience_and_times() {
        let (jwks, enc, _) = key();
        let set = key_set(ISS, &jwks);
        let aud = ["ferroflow".to_owned()];
        let good = sign(&enc, Algorithm::ES256, Some("k1"), &claims(now() + 600));
        assert_eq!(check(&set, &aud, &good).unwrap()["sub"], "job");
        // No kid: the key that may verify the algorithm.
        let no_kid = sign(&enc, Algorithm::ES256, None, &claims(now() + 600));
        assert!(check(&set, &aud, &no_kid).is_some());
        // Expired (past the leeway) is refused; just expired, within it, is not.
        let expired = sign(&enc, Algorithm::ES256, Some("k1"), &claims(now() - 120));
        assert!(check(&set, &aud, &expired).is_none());
        let skewed = sign(&enc, Algorithm::ES256, Some("k1"), &claims(now() - 5));
        assert!(check(&set, &aud, &skewed).is_some());
        let mut early = claims(now() + 600);
        early["nbf"] = json!(now() + 300);
        assert!(
            check(
                &set,
                &aud,
                &sign(&enc, Algorithm::ES256, Some("k1"), &early)
            )
            .is_none()
        );
        let mut other_aud = claims(now() + 600);
        other_aud["aud"] = json!("another-api");
        assert!(
            check(
                &set,
                &aud,
                &sign(&enc, Algorithm::ES256, Some("k1"), &other_aud)
            )
            .is_none()
        );
        let mut other_iss = claims(now() + 600);
        other_iss["iss"] = json!("https://evil.example.com");
        assert!(
            check(
                &set,
                &aud,
                &sign(&enc, Algorithm::ES256, Some("k1"), &other_iss)
            )
            .is_none()
        );
        let mut no_exp = claims(0);
        no_exp.as_object_mut().unwrap().remove("exp");
        assert!(
            check(
                &set,
                &aud,
                &sign(&enc, Algorithm::ES256, Some("k1"), &no_exp)
            )
            .is_none()
        );
        // An unknown kid.
        let unknown = sign(&enc, Algorithm::ES256, Some("k2"), &claims(now() + 600));
        assert!(check(&set, &aud, &unknown).is_none());
    }

    #[test]
    fn refuses_none_confusion_and_tampering() {
        let (jwks, enc, public_text) = key();
        let set = key_set(ISS, &jwks);
        let aud = ["ferroflow".to_owned()];
        let payload = b64(claims(now() + 600).to_string().as_bytes());
        // alg none, with and without a signature.
        for alg in ["none", "None", "NONE"] {
            let header = b64(json!({ "alg": alg, "kid": "k1" }).to_string().as_bytes());
            assert!(check(&set, &aud, &format!("{header}.{payload}.")).is_none());
            assert!(check(&set, &aud, &format!("{header}.{payload}.c2ln")).is_none());
        }
        // HS256 "signed" with the public key (as JSON, and as its raw coordinates).
        for secret in [
            public_text.as_bytes().to_vec(),
            jwks["keys"][0]["x"].to_string().into_bytes(),
        ] {
            let forged = sign(
                &EncodingKey::from_secret(&secret),
                Algorithm::HS256,
                Some("k1"),
                &claims(now() + 600),
            );
            assert!(check(&set, &aud, &forged).is_none());
        }
        // The key declares ES256: a header claiming ES384 is refused before any check.
        let good = sign(&enc, Algorithm::ES256, Some("k1"), &claims(now() + 600));
        let (_, rest) = good.split_once('.').unwrap();
        let es384 = b64(json!({ "alg": "ES384", "kid": "k1" })
            .to_string()
            .as_bytes());
        assert!(check(&set, &aud, &format!("{es384}.{rest}")).is_none());
        // A changed payload breaks the signature.
        let mut parts: Vec<&str> = good.split('.').collect();
        let mut c = claims(now() + 600);
        c["sub"] = json!("admin");
        let changed = b64(c.to_string().as_bytes());
        parts[1] = &changed;
        assert!(check(&set, &aud, &parts.join(".")).is_none());
        // Symmetric keys in a JWKS are never used.
        let oct = json!({ "keys": [{ "kty": "oct", "k": b64(b"secret"), "kid": "h" }] });
        assert!(key_set(ISS, &oct).keys.is_empty());
    }

    #[test]
    fn jwt_shape() {
        assert!(looks_like_jwt("eyJhbGciOiJSUzI1NiJ9.e30.c2ln"));
        assert!(looks_like_jwt("eyJhbGciOiJub25lIn0.e30."));
        assert!(!looks_like_jwt("ffp_abc"));
        assert!(!looks_like_jwt("a.b"));
        assert!(!looks_like_jwt("a.b.c.d"));
        assert!(!looks_like_jwt("a b.c.d"));
    }
}
