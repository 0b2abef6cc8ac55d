//! The real OIDC provider (`end2end/oidc/provider.mjs`, the npm `oidc-provider` package)
//! for login tests, and a browser-like login through its pages with reqwest.

use ferroflow::auth::{AuthConfig, OidcConfig, Permission};
use std::io::BufRead;
use std::process::{Child, Command, Stdio};

pub const CLIENT_ID: &str = "ferroflow";
pub const CLIENT_SECRET: &str = "ferroflow-secret";

/// How long a starting provider may take to print `READY` (it takes well under a second).
const READY_WITHIN: std::time::Duration = std::time::Duration::from_secs(60);

/// The provider process; stopped when dropped.
pub struct Provider {
    child: Child,
    pub issuer: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Provider {
    /// Starts the provider on a free loopback port and waits for its `READY` line.
    pub fn start() -> Self {
        Self::start_on(0)
    }

    /// Starts the provider on a free port with `env` added (`OIDC_AUDIENCE`,
    /// `OIDC_ACCESS_TOKEN_TTL`, ...: see the fixture's header).
    pub fn start_with(env: &[(&str, &str)]) -> Self {
        Self::spawn(0, env)
    }

    /// Starts the provider on `port` (0: a free one).
    pub fn start_on(port: u16) -> Self {
        Self::spawn(port, &[])
    }

    /// Starts the provider and waits for its `READY` line. A start that prints nothing for
    /// a minute is killed and tried again (CI once waited 80 minutes on a provider that
    /// never printed READY); the third failure panics with what the provider wrote.
    fn spawn(port: u16, env: &[(&str, &str)]) -> Self {
        let mut failures = Vec::new();
        for _ in 0..3 {
            match Self::try_spawn(port, env, READY_WITHIN) {
                Ok(provider) => return provider,
                Err(why) => failures.push(why),
            }
        }
        panic!(
            "the OIDC provider did not start:\n{}",
            failures.join("\n---\n")
        );
    }

    fn try_spawn(
        port: u16,
        env: &[(&str, &str)],
        within: std::time::Duration,
    ) -> Result<Self, String> {
        let end2end = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../end2end");
        assert!(
            end2end.join("node_modules/oidc-provider").exists(),
            "the OIDC provider needs `npm ci` in end2end (scripts/setup.sh does it)"
        );
        let mut child = Command::new("node")
            .arg("oidc/provider.mjs")
            .current_dir(&end2end)
            .env("OIDC_PORT", port.to_string())
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("node runs the OIDC provider");
        // Both pipes are drained for the provider's whole life so that it never blocks on
        // a full pipe; stdout's lines come here until READY, stderr is kept for errors.
        let (lines_tx, lines_rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = lines_tx.send(line);
            }
        });
        let stderr_text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = stderr_text.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut text = sink.lock().unwrap();
                if text.len() < 64 * 1024 {
                    text.push_str(&line);
                    text.push('\n');
                }
            }
        });
        let deadline = std::time::Instant::now() + within;
        let outcome = loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match lines_rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(issuer) = line.strip_prefix("READY ") {
                        break Ok(issuer.trim().to_owned());
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    break Err(format!("no READY line within {within:?}"));
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    break Err(format!("it exited: {:?}", child.wait().ok()));
                }
            }
        };
        match outcome {
            Ok(issuer) => Ok(Self { child, issuer }),
            Err(why) => {
                let _ = child.kill();
                let _ = child.wait();
                // The stderr thread ends once the process is gone; give it a moment to
                // collect the last lines.
                std::thread::sleep(std::time::Duration::from_millis(100));
                Err(format!("{why}; stderr:\n{}", stderr_text.lock().unwrap()))
            }
        }
    }

    /// A client-credentials access token (a JWT) for the job client.
    pub async fn job_token(&self) -> String {
        let r = reqwest::Client::new()
            .post(format!("{}/token", self.issuer))
            .basic_auth("ferroflow-job", Some("ferroflow-job-secret"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials")
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(status.is_success(), "token endpoint: {status} {body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// `--auth oidc` against this provider, admins in `ferroflow-admins`.
    pub fn auth(&self, allowed_groups: &[&str]) -> AuthConfig {
        AuthConfig::Oidc(Box::new(OidcConfig {
            issuer: self.issuer.clone(),
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            scopes: vec!["openid".into(), "email".into(), "profile".into()],
            groups_claim: "groups".into(),
            audiences: vec![CLIENT_ID.into()],
            admin_groups: vec!["ferroflow-admins".into()],
            allowed_groups: allowed_groups.iter().map(|g| (*g).to_owned()).collect(),
            public_url: None,
            default_permission: Permission::Read,
            session_ttl: std::time::Duration::from_secs(3600),
        }))
    }

    /// The same as command-line flags, for `start_process`.
    pub fn flags(&self) -> Vec<String> {
        flags(&self.issuer)
    }
}

/// `--auth oidc` flags for a provider at `issuer`, admins in `ferroflow-admins`.
pub fn flags(issuer: &str) -> Vec<String> {
    [
        "--auth",
        "oidc",
        "--oidc-issuer",
        issuer,
        "--oidc-client-id",
        CLIENT_ID,
        "--oidc-client-secret",
        CLIENT_SECRET,
        "--admin-groups",
        "ferroflow-admins",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect()
}

/// A client that keeps cookies, as a browser does (and follows redirects), and its jar.
pub fn browser() -> (reqwest::Client, std::sync::Arc<reqwest::cookie::Jar>) {
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .build()
        .unwrap();
    (client, jar)
}

/// Starts a login at `base` and returns the provider's login form it leads to. Discovery
/// runs in the background at start-up (slower when the machine is busy), so this retries
/// until login is offered, for up to a minute.
pub async fn login_form(browser: &reqwest::Client, base: &str, next: &str) -> reqwest::Response {
    for _ in 0..600 {
        let r = browser
            .get(format!("{base}/auth/login"))
            .query(&[("next", next)])
            .send()
            .await
            .unwrap();
        if r.url().path().starts_with("/interaction/") {
            return r;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("ferroflow never sent the browser to the provider's login form");
}

/// Logs in through ferroflow's `/auth/login` and the provider's login form, as a browser
/// would; returns the final response (the page ferroflow sent the browser to, or the
/// refusal page).
pub async fn login(
    browser: &reqwest::Client,
    base: &str,
    next: &str,
    user: &str,
    password: &str,
) -> reqwest::Response {
    let form_page = login_form(browser, base, next).await;
    let form_url = form_page.url().clone();
    let html = form_page.text().await.unwrap();
    let action = html
        .split("action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the login form has an action");
    browser
        .post(form_url.join(action).unwrap())
        .form(&[("prompt", "login"), ("login", user), ("password", password)])
        .send()
        .await
        .unwrap()
}

/// The session cookie's value in a client's cookie store, if any.
pub fn session_cookie(jar: &reqwest::cookie::Jar, base: &str) -> Option<String> {
    use reqwest::cookie::CookieStore;
    let header = jar.cookies(&base.parse().unwrap())?;
    header
        .to_str()
        .ok()?
        .split("; ")
        .find_map(|c| c.strip_prefix("ferroflow_session=").map(str::to_owned))
}
