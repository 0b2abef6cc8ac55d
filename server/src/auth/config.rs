//! Authentication flags (`ferroflow server --auth ...`) and the configuration they resolve to.

use super::Permission;
use clap::{Args, ValueEnum};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    /// Nobody is asked who they are; everyone is an admin. For a laptop.
    None,
    /// Browser login through an OpenID Connect provider; API tokens and provider JWTs.
    Oidc,
}

/// Authentication and permission flags.
#[derive(Args, Clone, Debug)]
pub struct AuthArgs {
    /// `none` (everyone is an anonymous admin) or `oidc`.
    #[arg(long, env = "FERROFLOW_AUTH", value_enum, default_value_t = AuthMode::None)]
    pub auth: AuthMode,
    /// The provider's issuer URL; its discovery document is read at start-up.
    #[arg(long, env = "FERROFLOW_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,
    #[arg(long, env = "FERROFLOW_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,
    /// Prefer the environment variable: flags show up in `ps`.
    #[arg(long, env = "FERROFLOW_OIDC_CLIENT_SECRET", hide_env_values = true)]
    pub oidc_client_secret: Option<String>,
    /// Scopes asked for at login, space- or comma-separated.
    #[arg(
        long,
        env = "FERROFLOW_OIDC_SCOPES",
        default_value = "openid email profile"
    )]
    pub oidc_scopes: String,
    /// The ID-token (or userinfo) claim that lists the user's groups.
    #[arg(long, env = "FERROFLOW_OIDC_GROUPS_CLAIM", default_value = "groups")]
    pub oidc_groups_claim: String,
    /// Audiences accepted in provider-issued JWTs used as bearer tokens (comma-separated);
    /// the client id when not given.
    #[arg(long, env = "FERROFLOW_OIDC_AUDIENCE", value_delimiter = ',')]
    pub oidc_audience: Vec<String>,
    /// Members of these groups are admins (comma-separated).
    #[arg(long, env = "FERROFLOW_ADMIN_GROUPS", value_delimiter = ',')]
    pub admin_groups: Vec<String>,
    /// Only members of these groups may log in (comma-separated); everyone when empty.
    #[arg(long, env = "FERROFLOW_ALLOWED_GROUPS", value_delimiter = ',')]
    pub allowed_groups: Vec<String>,
    /// The address users reach this server at (e.g. https://mlflow.example.com): the login
    /// callback is `<public-url>/auth/callback`, and cookies are Secure when it is https.
    #[arg(long, env = "FERROFLOW_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The permission a caller has on an experiment or model nobody granted them anything on.
    #[arg(long, env = "FERROFLOW_DEFAULT_PERMISSION", default_value = "READ", value_parser = parse_permission)]
    pub default_permission: Permission,
    /// How long a browser session lasts without activity.
    #[arg(long, env = "FERROFLOW_SESSION_TTL", default_value = "7d", value_parser = humantime::parse_duration)]
    pub session_ttl: Duration,
}

fn parse_permission(s: &str) -> Result<Permission, String> {
    Permission::parse(&s.to_ascii_uppercase())
        .ok_or_else(|| format!("{s:?} is not one of READ, EDIT, MANAGE, NO_PERMISSIONS"))
}

/// The resolved authentication configuration.
#[derive(Clone, Debug)]
pub enum AuthConfig {
    None,
    Oidc(Box<OidcConfig>),
}

#[derive(Clone, Debug)]
pub struct OidcConfig {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    pub scopes: Vec<String>,
    pub groups_claim: String,
    pub audiences: Vec<String>,
    pub admin_groups: Vec<String>,
    pub allowed_groups: Vec<String>,
    /// Without a trailing slash; `None` means `http://<host>:<port>` of the listener.
    pub public_url: Option<String>,
    pub default_permission: Permission,
    pub session_ttl: Duration,
}

impl AuthConfig {
    pub fn oidc(&self) -> Option<&OidcConfig> {
        match self {
            Self::None => None,
            Self::Oidc(c) => Some(c),
        }
    }
}

impl TryFrom<AuthArgs> for AuthConfig {
    type Error = String;

    fn try_from(a: AuthArgs) -> Result<Self, String> {
        if a.auth == AuthMode::None {
            return Ok(Self::None);
        }
        let need = |v: Option<String>, flag: &str| {
            v.filter(|s| !s.trim().is_empty())
                .ok_or_else(|| format!("--auth oidc needs {flag}"))
        };
        let issuer = need(a.oidc_issuer, "--oidc-issuer")?;
        let client_id = need(a.oidc_client_id, "--oidc-client-id")?;
        let client_secret = need(a.oidc_client_secret, "--oidc-client-secret")?;
        let scopes: Vec<String> = a
            .oidc_scopes
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if !scopes.iter().any(|s| s == "openid") {
            return Err("--oidc-scopes must include openid".into());
        }
        let clean = |v: Vec<String>| -> Vec<String> {
            v.into_iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        };
        let mut audiences = clean(a.oidc_audience);
        if audiences.is_empty() {
            audiences.push(client_id.clone());
        }
        let public_url = a.public_url.map(|u| u.trim_end_matches('/').to_owned());
        if let Some(u) = &public_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return Err(format!(
                "--public-url {u:?} must start with http:// or https://"
            ));
        }
        Ok(Self::Oidc(Box::new(OidcConfig {
            issuer: issuer.trim_end_matches('/').to_owned(),
            client_id,
            client_secret,
            scopes,
            groups_claim: a.oidc_groups_claim,
            audiences,
            admin_groups: clean(a.admin_groups),
            allowed_groups: clean(a.allowed_groups),
            public_url,
            default_permission: a.default_permission,
            session_ttl: a.session_ttl,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        auth: AuthArgs,
    }

    fn parse(args: &[&str]) -> Result<AuthConfig, String> {
        let cli = Cli::try_parse_from(std::iter::once("ff").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        AuthConfig::try_from(cli.auth)
    }

    const OIDC: [&str; 8] = [
        "--auth",
        "oidc",
        "--oidc-issuer",
        "http://127.0.0.1:9000/",
        "--oidc-client-id",
        "ferroflow",
        "--oidc-client-secret",
        "s3cret",
    ];

    #[test]
    fn none_is_the_default() {
        assert!(matches!(parse(&[]), Ok(AuthConfig::None)));
    }

    #[test]
    fn oidc_needs_issuer_client_and_secret() {
        for missing in [2, 4, 6] {
            let args: Vec<&str> = OIDC
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != missing && *i != missing + 1)
                .map(|(_, a)| *a)
                .collect();
            let err = parse(&args).unwrap_err();
            assert!(err.contains(OIDC[missing]), "{err}");
        }
    }

    #[test]
    fn oidc_defaults() {
        let AuthConfig::Oidc(c) = parse(&OIDC).unwrap() else {
            panic!("oidc expected")
        };
        assert_eq!(c.issuer, "http://127.0.0.1:9000");
        assert_eq!(c.scopes, ["openid", "email", "profile"]);
        assert_eq!(c.audiences, ["ferroflow"]);
        assert_eq!(c.default_permission, Permission::Read);
        assert!(c.admin_groups.is_empty() && c.allowed_groups.is_empty());
    }

    #[test]
    fn oidc_lists_and_checks() {
        let mut args = OIDC.to_vec();
        args.extend([
            "--admin-groups",
            "admins, ops",
            "--default-permission",
            "no_permissions",
            "--public-url",
            "https://ml.example.com/",
        ]);
        let AuthConfig::Oidc(c) = parse(&args).unwrap() else {
            panic!("oidc expected")
        };
        assert_eq!(c.admin_groups, ["admins", "ops"]);
        assert_eq!(c.default_permission, Permission::NoPermissions);
        assert_eq!(c.public_url.as_deref(), Some("https://ml.example.com"));

        let mut bad = OIDC.to_vec();
        bad.extend(["--oidc-scopes", "email profile"]);
        assert!(parse(&bad).unwrap_err().contains("openid"));
        let mut bad = OIDC.to_vec();
        bad.extend(["--public-url", "ml.example.com"]);
        assert!(parse(&bad).unwrap_err().contains("http"));
        let mut bad = OIDC.to_vec();
        bad.extend(["--default-permission", "OWNER"]);
        assert!(parse(&bad).is_err());
    }
}
