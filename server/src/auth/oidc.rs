//! The OpenID Connect side of browser login, through the `openidconnect` crate: provider
//! discovery (retried in the background while the provider is down, so ferroflow starts
//! anyway and says why login is unavailable), the authorization request (code flow, PKCE,
//! state, nonce) and the verification of what comes back (ID-token signature, issuer,
//! audience, expiry, nonce; groups from the ID token or else from userinfo).

use super::OidcConfig;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IdToken, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, UserInfoClaims, reqwest,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Every claim the provider sent besides the standard ones; the groups claim is read from
/// here by its configured name.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct OtherClaims {
    #[serde(flatten)]
    claims: HashMap<String, serde_json::Value>,
}
impl AdditionalClaims for OtherClaims {}

type OurIdToken = IdToken<
    OtherClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// The login flow's provider: discovered once, then shared.
#[derive(Clone)]
pub struct Oidc {
    config: Arc<OidcConfig>,
    client: Arc<RwLock<Option<Client>>>,
    http: reqwest::Client,
}

/// What the browser carries through the provider and back, kept in the session.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Pending {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub redirect_uri: String,
    /// Where to go after login (a same-origin path).
    pub next: String,
}

/// Who logged in, as the provider says.
#[derive(Clone, Debug)]
pub struct Identity {
    pub subject: String,
    pub email: Option<String>,
    pub preferred_username: Option<String>,
    pub name: Option<String>,
    pub groups: Vec<String>,
}

/// A login that did not complete; the message is for the login page.
#[derive(Debug)]
pub struct LoginError(pub String);

impl Oidc {
    /// Starts discovery in the background: retried every few seconds (a warning each time)
    /// until the provider answers.
    pub fn start(config: OidcConfig) -> Self {
        let http = reqwest::ClientBuilder::new()
            // The crate's advice: following redirects would open SSRF holes.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .build()
            .expect("a reqwest client with rustls builds");
        let oidc = Self {
            config: Arc::new(config),
            client: Arc::new(RwLock::new(None)),
            http,
        };
        let background = oidc.clone();
        tokio::spawn(async move { background.discover_until_found().await });
        oidc
    }

    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// The provider's name for the login button: its issuer's host.
    pub fn provider_name(&self) -> String {
        let issuer = &self.config.issuer;
        issuer
            .split("://")
            .nth(1)
            .unwrap_or(issuer)
            .split('/')
            .next()
            .unwrap_or(issuer)
            .to_owned()
    }

    async fn discover_until_found(&self) {
        let mut wait = Duration::from_secs(1);
        loop {
            match self.discover().await {
                Ok(client) => {
                    tracing::info!(issuer = %self.config.issuer, "OIDC provider discovered");
                    *self.client.write().expect("lock") = Some(client);
                    return;
                }
                Err(e) => {
                    tracing::warn!(
                        issuer = %self.config.issuer,
                        error = %e,
                        retry_in_s = wait.as_secs(),
                        "cannot read the OIDC provider's discovery document; browser login is \
                         unavailable until it answers"
                    );
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(10));
                }
            }
        }
    }

    async fn discover(&self) -> Result<Client, String> {
        let issuer = IssuerUrl::new(self.config.issuer.clone()).map_err(|e| e.to_string())?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| error_chain(&e))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            Some(ClientSecret::new(self.config.client_secret.clone())),
        ))
    }

    fn client(&self) -> Result<Client, LoginError> {
        self.client.read().expect("lock").clone().ok_or_else(|| {
            LoginError(format!(
                "The identity provider ({}) has not answered yet; try again in a moment.",
                self.config.issuer
            ))
        })
    }

    /// The provider URL to send the browser to, and what to remember until it comes back.
    pub fn begin(
        &self,
        redirect_uri: String,
        next: String,
    ) -> Result<(String, Pending), LoginError> {
        let client = self.client()?;
        let redirect = RedirectUrl::new(redirect_uri.clone())
            .map_err(|e| LoginError(format!("bad callback URL {redirect_uri:?}: {e}")))?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge)
            .set_redirect_uri(std::borrow::Cow::Owned(redirect));
        for scope in self.config.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.url();
        Ok((
            url.to_string(),
            Pending {
                state: state.secret().clone(),
                nonce: nonce.secret().clone(),
                pkce_verifier: verifier.secret().clone(),
                redirect_uri,
                next,
            },
        ))
    }

    /// Exchanges the code and verifies the ID token; reads groups from it or userinfo.
    pub async fn finish(&self, pending: &Pending, code: String) -> Result<Identity, LoginError> {
        let client = self.client()?;
        let redirect = RedirectUrl::new(pending.redirect_uri.clone())
            .map_err(|e| LoginError(e.to_string()))?;
        let tokens = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| LoginError(format!("the provider has no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .set_redirect_uri(std::borrow::Cow::Owned(redirect))
            .request_async(&self.http)
            .await
            .map_err(|e| {
                tracing::warn!(error = %error_chain(&e), "OIDC code exchange failed");
                LoginError("The identity provider refused the login code.".into())
            })?;
        let raw = tokens
            .id_token()
            .ok_or_else(|| LoginError("The identity provider sent no ID token.".into()))?
            .to_string();
        let id_token: OurIdToken = raw
            .parse()
            .map_err(|e| LoginError(format!("The ID token is malformed: {e}")))?;
        let verifier = client.id_token_verifier();
        let claims = id_token
            .claims(&verifier, &Nonce::new(pending.nonce.clone()))
            .map_err(|e| {
                tracing::warn!(error = %e, "ID token refused");
                LoginError(format!("The ID token did not verify: {e}"))
            })?;
        let subject = claims.subject().to_string();
        let groups_claim = &self.config.groups_claim;
        let groups = match claims.additional_claims().claims.get(groups_claim) {
            Some(v) => groups_of(v),
            None => {
                // Some providers put groups only in userinfo.
                let userinfo: Option<UserInfoClaims<OtherClaims, CoreGenderClaim>> = match client
                    .user_info(
                        tokens.access_token().clone(),
                        Some(claims.subject().clone()),
                    ) {
                    Ok(request) => request.request_async(&self.http).await.ok(),
                    Err(_) => None,
                };
                userinfo
                    .and_then(|u| {
                        u.additional_claims()
                            .claims
                            .get(groups_claim)
                            .map(groups_of)
                    })
                    .unwrap_or_default()
            }
        };
        Ok(Identity {
            subject,
            email: claims.email().map(|e| e.to_string()),
            preferred_username: claims.preferred_username().map(|u| u.to_string()),
            name: claims
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.to_string()),
            groups,
        })
    }
}

/// A groups claim: a list of strings, or one string of names separated by commas or spaces.
fn groups_of(v: &serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        serde_json::Value::String(s) => s
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// An error with its causes, for the log.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::groups_of;
    use serde_json::json;

    #[test]
    fn groups_from_a_list_or_a_string() {
        assert_eq!(groups_of(&json!(["a", "b", 3])), ["a", "b"]);
        assert_eq!(groups_of(&json!("a, b c")), ["a", "b", "c"]);
        assert!(groups_of(&json!({"a": 1})).is_empty());
    }
}
