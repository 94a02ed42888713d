//! Credentials and the Bearer challenge: where a registry's credentials come from, and what a
//! `WWW-Authenticate` header asks for. Everything here is pure except the loaders, which read
//! the environment and a Docker `config.json` and run the credential helper it names.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use http_auth::ChallengeRef;

/// Credentials for one registry host.
///
/// They are only ever sent over https (or plain http to an endpoint configured `insecure`),
/// and only to the registry endpoint itself (a static token) or to the token service its
/// `WWW-Authenticate` challenge names (user and password); never along a redirect to another
/// host.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// User and password (or personal access token), exchanged at the registry's token
    /// service for a short-lived Bearer token (HTTP Basic on the token request).
    UserPassword {
        /// The user name.
        user: String,
        /// The password or access token.
        password: String,
    },
    /// A registry Bearer token used as is, without asking the token service.
    Token(String),
}

impl fmt::Debug for Credentials {
    // Secrets never reach logs or error messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::UserPassword { user, .. } => f
                .debug_struct("UserPassword")
                .field("user", user)
                .field("password", &"<redacted>")
                .finish(),
            Credentials::Token(_) => f.write_str("Token(<redacted>)"),
        }
    }
}

impl Credentials {
    /// Parses the value of a `BUNDLE_REGISTRY_AUTH_<HOST>` variable: `user:password` (split at
    /// the first `:`) gives [`Credentials::UserPassword`]; a GitHub token alone (see
    /// `is_github_token`) gives [`Credentials::UserPassword`] with the user
    /// `x-access-token`, since ghcr.io's token service takes a GitHub token as the Basic
    /// password under any user name and its registry API refuses it as a Bearer token; any
    /// other value without `:` is taken as a ready registry token ([`Credentials::Token`]). An
    /// empty value means no credentials.
    pub fn from_env_value(value: &str) -> Option<Self> {
        let value = value.trim();
        if value.is_empty() {
            return None;
        }
        Some(match value.split_once(':') {
            Some((user, password)) => Credentials::UserPassword {
                user: user.to_owned(),
                password: password.to_owned(),
            },
            None if is_github_token(value) => Credentials::UserPassword {
                user: GITHUB_TOKEN_USER.to_owned(),
                password: value.to_owned(),
            },
            None => Credentials::Token(value.to_owned()),
        })
    }
}

/// The user name sent with a GitHub token given alone: ghcr.io ignores it, and GitHub uses this
/// one wherever a token stands in for a user's password.
pub const GITHUB_TOKEN_USER: &str = "x-access-token";

/// Whether `value` has the shape of a GitHub token: a personal access token (`ghp_`,
/// fine-grained `github_pat_`), an OAuth or app user token (`gho_`, `ghu_`), an app
/// installation token such as Actions' `GITHUB_TOKEN` (`ghs_`), or a refresh token (`ghr_`).
pub fn is_github_token(value: &str) -> bool {
    ["ghp_", "github_pat_", "gho_", "ghu_", "ghs_", "ghr_"]
        .iter()
        .any(|prefix| value.len() > prefix.len() && value.starts_with(prefix))
}

/// Where credentials for registry hosts are looked up.
#[derive(Debug, Clone, Default)]
pub enum CredentialSource {
    /// `BUNDLE_REGISTRY_AUTH_<HOST>` first (see [`env_var_name`]), then the Docker
    /// `config.json` (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`), else none
    /// (anonymous pulls, the default for public images).
    #[default]
    Environment,
    /// Exactly these credentials, by registry host; nothing is read from the environment.
    /// Tests use this so that the machine's own credentials never leak in.
    Explicit(BTreeMap<String, Credentials>),
}

impl CredentialSource {
    /// The credentials for `host` (a registry host as written in `bundle.yaml`, e.g.
    /// `ghcr.io`), if any.
    pub fn lookup(&self, host: &str) -> Option<Credentials> {
        match self {
            CredentialSource::Explicit(map) => map.get(host).cloned(),
            CredentialSource::Environment => {
                if let Ok(value) = std::env::var(env_var_name(host)) {
                    return Credentials::from_env_value(&value);
                }
                let path = docker_config_path()?;
                let text = std::fs::read_to_string(path).ok()?;
                docker_config_credentials(&text, host).or_else(|| {
                    let helper = docker_credential_helper(&text, host)?;
                    run_credential_helper(&helper, &helper_server_url(host))
                })
            }
        }
    }
}

/// The environment variable holding credentials for `host`: `BUNDLE_REGISTRY_AUTH_` followed
/// by the host upper-cased with every character other than a letter or digit replaced by `_`
/// (`ghcr.io` -> `BUNDLE_REGISTRY_AUTH_GHCR_IO`, `127.0.0.1:5000` ->
/// `BUNDLE_REGISTRY_AUTH_127_0_0_1_5000`).
pub fn env_var_name(host: &str) -> String {
    let suffix: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("BUNDLE_REGISTRY_AUTH_{suffix}")
}

fn docker_config_path() -> Option<PathBuf> {
    let dir = match std::env::var_os("DOCKER_CONFIG") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(&std::env::var_os("HOME")?).join(".docker"),
    };
    Some(dir.join("config.json"))
}

/// The keys a Docker `config.json` may file `host` under, in the order they are tried: the
/// host, its https URL, and for Docker Hub the names the Docker CLI writes (its old index URL
/// `https://index.docker.io/v1/` first, then `index.docker.io` and `registry-1.docker.io`).
fn docker_config_keys(host: &str) -> Vec<String> {
    let hub = ["docker.io", "index.docker.io", "registry-1.docker.io"];
    let mut keys = Vec::new();
    if hub.contains(&host) {
        keys.push("https://index.docker.io/v1/".to_owned());
        for name in hub {
            keys.extend([name.to_owned(), format!("https://{name}")]);
        }
    } else {
        keys.extend([host.to_owned(), format!("https://{host}")]);
    }
    keys
}

/// Reads `auths.<key>.auth` (base64 of `user:password`) from the text of a Docker
/// `config.json`, under the first of [`docker_config_keys`] it holds. Credential helpers are
/// [`docker_credential_helper`]'s.
pub fn docker_config_credentials(config_json: &str, host: &str) -> Option<Credentials> {
    let config: serde_json::Value = serde_json::from_str(config_json).ok()?;
    let auths = config.get("auths")?.as_object()?;
    let encoded = docker_config_keys(host)
        .iter()
        .find_map(|key| auths.get(key)?.get("auth")?.as_str())?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let (user, password) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    Some(Credentials::UserPassword {
        user: user.to_owned(),
        password: password.to_owned(),
    })
}

/// The credential helper a Docker `config.json` names for `host`: `credHelpers.<key>` under the
/// first of [`docker_config_keys`] it holds, else `credsStore` (Docker Desktop's default keeps
/// every login there). Only plain names are
/// accepted, since the helper runs as the program `docker-credential-<name>` from `PATH`.
pub fn docker_credential_helper(config_json: &str, host: &str) -> Option<String> {
    let config: serde_json::Value = serde_json::from_str(config_json).ok()?;
    let per_host = config.get("credHelpers").and_then(|helpers| {
        docker_config_keys(host)
            .iter()
            .find_map(|key| helpers.get(key)?.as_str())
    });
    let name = per_host.or_else(|| config.get("credsStore")?.as_str())?;
    let plain = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !name.starts_with('.');
    plain.then(|| name.to_owned())
}

/// The server name Docker hands a credential helper for `host` (Docker Hub's logins are stored
/// under its old index URL).
fn helper_server_url(host: &str) -> String {
    if host == "docker.io" {
        "https://index.docker.io/v1/".to_owned()
    } else {
        host.to_owned()
    }
}

/// Runs `docker-credential-<helper> get` with `server` on stdin (the credential-helper
/// protocol). A helper that is missing, fails, or has no entry means no credentials: the pull
/// is then tried anonymously, and a refusal names where credentials go.
fn run_credential_helper(helper: &str, server: &str) -> Option<Credentials> {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut child = Command::new(format!("docker-credential-{helper}"))
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(server.as_bytes()).ok()?;
    let output = child.wait_with_output().ok()?;
    if !output.status.success() {
        return None;
    }
    credentials_from_helper_output(&output.stdout)
}

/// Parses a credential helper's answer, `{"Username": ..., "Secret": ...}`. A `<token>` user
/// marks an OAuth identity token, which needs a token-service exchange we do not do: none.
pub fn credentials_from_helper_output(stdout: &[u8]) -> Option<Credentials> {
    let answer: serde_json::Value = serde_json::from_slice(stdout).ok()?;
    let user = answer.get("Username")?.as_str()?;
    let secret = answer.get("Secret")?.as_str()?;
    if user.is_empty() || secret.is_empty() || user == "<token>" {
        return None;
    }
    Some(Credentials::UserPassword {
        user: user.to_owned(),
        password: secret.to_owned(),
    })
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// `Bearer realm="...",service="...",scope="..."`: get a token from `realm`. The
    /// challenge's `scope` is not kept: the client asks for pull on the repository it requests.
    Bearer {
        /// The token service URL.
        realm: String,
        /// The `service` parameter to pass back, if given.
        service: Option<String>,
    },
    /// `Basic realm="..."`: send user and password to the registry itself.
    Basic,
}

impl Challenge {
    /// The challenge to answer among those of a `WWW-Authenticate` header value. The value
    /// is a comma-separated list of challenges whose parameters may be quoted and hold
    /// commas (RFC 9110, section 11.6.1), so it is parsed by `http-auth` rather than split by
    /// hand. Bearer (with a realm) wins over Basic, as a token is what the API wants; other
    /// schemes are passed over. The challenges read before a syntax error still count (the
    /// one the error falls in does not). `None`: neither scheme is offered.
    pub fn parse(header: &str) -> Option<Self> {
        let challenges: Vec<ChallengeRef<'_>> = http_auth::ChallengeParser::new(header)
            .map_while(Result::ok)
            .collect();
        let has_scheme = |challenge: &ChallengeRef<'_>, scheme: &str| {
            challenge.scheme.eq_ignore_ascii_case(scheme)
        };
        let bearer = challenges
            .iter()
            .filter(|challenge| has_scheme(challenge, "bearer"))
            .find_map(|challenge| {
                Some(Challenge::Bearer {
                    realm: param(challenge, "realm")?,
                    service: param(challenge, "service"),
                })
            });
        bearer.or_else(|| {
            challenges
                .iter()
                .any(|challenge| has_scheme(challenge, "basic"))
                .then_some(Challenge::Basic)
        })
    }
}

/// The unescaped value of the parameter `name` (compared case-insensitively, as RFC 9110
/// says) of `challenge`.
fn param(challenge: &ChallengeRef<'_>, name: &str) -> Option<String> {
    challenge
        .params
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.to_unescaped())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenge_keeps_commas_inside_quoted_scope() {
        // A split at the comma inside the scope would turn `push"` into a parameter and lose
        // the service after it.
        let header = r#"Bearer realm="https://auth.docker.io/token",scope="repository:a/b:pull,push",service="registry.docker.io""#;
        assert_eq!(
            Challenge::parse(header),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".to_owned(),
                service: Some("registry.docker.io".to_owned()),
            })
        );
    }

    #[test]
    fn bearer_is_read_from_a_header_that_offers_basic_first() {
        let header = r#"Basic realm="registry", Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:a/b:pull""#;
        assert_eq!(
            Challenge::parse(header),
            Some(Challenge::Bearer {
                realm: "https://ghcr.io/token".to_owned(),
                service: Some("ghcr.io".to_owned()),
            })
        );
    }

    #[test]
    fn a_header_offering_only_basic_asks_for_basic() {
        assert_eq!(
            Challenge::parse(r#"Basic realm="registry", Negotiate"#),
            Some(Challenge::Basic)
        );
    }

    #[test]
    fn scheme_and_parameter_names_are_case_insensitive_and_escapes_are_undone() {
        assert_eq!(
            Challenge::parse(r#"bearer REALM="https://a/t\"x",Service=s"#),
            Some(Challenge::Bearer {
                realm: r#"https://a/t"x"#.to_owned(),
                service: Some("s".to_owned()),
            })
        );
    }

    #[test]
    fn challenges_read_before_a_syntax_error_still_count() {
        assert_eq!(
            Challenge::parse(r#"Bearer realm="https://a/t", Basic realm="x", ==="#),
            Some(Challenge::Bearer {
                realm: "https://a/t".to_owned(),
                service: None,
            })
        );
    }

    #[test]
    fn bearer_challenge_without_realm_is_not_usable() {
        assert_eq!(Challenge::parse(r#"Bearer service="x""#), None);
        assert_eq!(Challenge::parse("Negotiate abc"), None);
        assert_eq!(
            Challenge::parse(r#"Basic realm="r""#),
            Some(Challenge::Basic)
        );
    }

    #[test]
    fn env_var_name_upper_cases_and_replaces_non_alphanumerics() {
        assert_eq!(env_var_name("ghcr.io"), "BUNDLE_REGISTRY_AUTH_GHCR_IO");
        assert_eq!(
            env_var_name("127.0.0.1:5000"),
            "BUNDLE_REGISTRY_AUTH_127_0_0_1_5000"
        );
    }

    #[test]
    fn env_value_with_colon_is_user_and_password_otherwise_a_token() {
        assert_eq!(
            Credentials::from_env_value("bot:ghp_a:b"),
            Some(Credentials::UserPassword {
                user: "bot".to_owned(),
                password: "ghp_a:b".to_owned()
            })
        );
        assert_eq!(
            Credentials::from_env_value("tok"),
            Some(Credentials::Token("tok".to_owned()))
        );
        assert_eq!(Credentials::from_env_value("  "), None);
    }

    #[test]
    fn docker_config_auth_is_base64_user_colon_password() {
        let auth = base64::engine::general_purpose::STANDARD.encode("me:secret");
        let config = format!(
            r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{auth}"}},"ghcr.io":{{"auth":"{auth}"}}}}}}"#
        );
        let expected = Some(Credentials::UserPassword {
            user: "me".to_owned(),
            password: "secret".to_owned(),
        });
        assert_eq!(docker_config_credentials(&config, "docker.io"), expected);
        assert_eq!(docker_config_credentials(&config, "ghcr.io"), expected);
        assert_eq!(docker_config_credentials(&config, "quay.io"), None);
    }

    #[test]
    fn docker_hub_auth_is_found_under_each_key_the_docker_cli_writes() {
        let auth = base64::engine::general_purpose::STANDARD.encode("me:secret");
        let expected = Some(Credentials::UserPassword {
            user: "me".to_owned(),
            password: "secret".to_owned(),
        });
        for key in [
            "https://index.docker.io/v1/",
            "docker.io",
            "index.docker.io",
            "registry-1.docker.io",
            "https://index.docker.io",
        ] {
            let config = serde_json::json!({"auths": {key: {"auth": auth}}}).to_string();
            assert_eq!(
                docker_config_credentials(&config, "docker.io"),
                expected,
                "{key}"
            );
            assert_eq!(docker_config_credentials(&config, "ghcr.io"), None, "{key}");
        }
    }

    #[test]
    fn docker_hub_credential_helper_is_found_under_each_key_the_docker_cli_writes() {
        for key in [
            "https://index.docker.io/v1/",
            "docker.io",
            "index.docker.io",
            "registry-1.docker.io",
        ] {
            let config = serde_json::json!({"credHelpers": {key: "hub"}}).to_string();
            assert_eq!(
                docker_credential_helper(&config, "docker.io").as_deref(),
                Some("hub"),
                "{key}"
            );
            assert_eq!(docker_credential_helper(&config, "ghcr.io"), None, "{key}");
        }
    }

    #[test]
    fn a_bare_github_token_is_a_password_for_the_token_service() {
        for token in [
            "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
            "ghs_16C7e42F292c6912E7710c838347Ae178B4a",
        ] {
            assert_eq!(
                Credentials::from_env_value(token),
                Some(Credentials::UserPassword {
                    user: GITHUB_TOKEN_USER.to_owned(),
                    password: token.to_owned(),
                }),
                "{token}"
            );
        }
        assert_eq!(
            Credentials::from_env_value("ghp_"),
            Some(Credentials::Token("ghp_".to_owned()))
        );
    }

    #[test]
    fn docker_config_names_the_host_helper_before_the_store() {
        let config = r#"{"credsStore":"desktop","credHelpers":{"ghcr.io":"gh"}}"#;
        assert_eq!(
            docker_credential_helper(config, "ghcr.io").as_deref(),
            Some("gh")
        );
        assert_eq!(
            docker_credential_helper(config, "docker.io").as_deref(),
            Some("desktop")
        );
        assert_eq!(docker_credential_helper(r#"{"auths":{}}"#, "ghcr.io"), None);
    }

    #[test]
    fn a_helper_name_that_is_not_a_plain_name_is_ignored() {
        for name in ["../evil", "a/b", "", ".hidden", "x y"] {
            let config = serde_json::json!({ "credsStore": name }).to_string();
            assert_eq!(docker_credential_helper(&config, "ghcr.io"), None, "{name}");
        }
    }

    #[test]
    fn helper_output_gives_user_and_secret_but_not_identity_tokens() {
        assert_eq!(
            credentials_from_helper_output(
                br#"{"ServerURL":"ghcr.io","Username":"me","Secret":"s3cret"}"#
            ),
            Some(Credentials::UserPassword {
                user: "me".to_owned(),
                password: "s3cret".to_owned(),
            })
        );
        assert_eq!(
            credentials_from_helper_output(br#"{"Username":"<token>","Secret":"refresh"}"#),
            None
        );
        assert_eq!(
            credentials_from_helper_output(b"credentials not found"),
            None
        );
    }

    #[test]
    fn credentials_debug_hides_secrets() {
        let shown = format!(
            "{:?}",
            Credentials::UserPassword {
                user: "me".to_owned(),
                password: "hunter2".to_owned()
            }
        );
        assert!(!shown.contains("hunter2"), "{shown}");
        let shown = format!("{:?}", Credentials::Token("ghp_secret".to_owned()));
        assert!(!shown.contains("ghp_secret"), "{shown}");
    }
}
