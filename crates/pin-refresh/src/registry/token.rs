//! The Bearer token flow of one registry host: what `Authorization` a request carries, how a
//! 401 challenge is met, and the token request itself. The credentials themselves and the
//! parsing of challenges are in [`super::auth`].

use std::collections::HashMap;

use reqwest::header::{self, HeaderMap};
use reqwest::{StatusCode, Url};

use super::auth::{Challenge, Credentials, env_var_name};
use super::error::{RegistryError, shorten};
use super::options::ClientOptions;
use super::retry;
use super::transport::{Transport, status_error};

/// Largest token response accepted, in bytes.
const TOKEN_RESPONSE_LIMIT: usize = 64 << 10;

/// The tokens of one host: where they come from, and those fetched so far, by scope.
#[derive(Debug)]
pub(super) struct Tokens {
    host: String,
    credentials: Option<Credentials>,
    state: tokio::sync::Mutex<AuthState>,
}

/// Where the Bearer tokens of a host come from, once it has challenged.
#[derive(Debug, Clone)]
struct TokenService {
    realm: String,
    service: Option<String>,
}

#[derive(Debug, Default)]
struct AuthState {
    token_service: Option<TokenService>,
    basic: bool,
    tokens: HashMap<String, String>,
}

impl Tokens {
    /// No token yet for `host`, which is sent `credentials` (if any) as its challenge asks.
    pub(super) fn new(host: &str, credentials: Option<Credentials>) -> Self {
        Self {
            host: host.to_owned(),
            credentials,
            state: tokio::sync::Mutex::new(AuthState::default()),
        }
    }

    /// Why the registry still answers 401 after the challenge was met, and where credentials
    /// for this host go: private repositories give anonymous callers a token without access.
    pub(super) fn refused_after_authenticating(&self) -> String {
        let variable = env_var_name(&self.host);
        match &self.credentials {
            None => format!(
                "anonymous pull was refused; set `{variable}` to user:password, or add {host} \
                 to the Docker config.json",
                host = self.host
            ),
            Some(_) => format!(
                "the configured credentials do not grant pull access; check `{variable}` or the \
                 Docker config.json entry for {host}",
                host = self.host
            ),
        }
    }

    /// The `Authorization` value for a request in `scope`, fetching the scope's token first
    /// when the host is already known to want one (saving a 401 round trip per repository).
    pub(super) async fn authorization_for(
        &self,
        transport: &Transport,
        options: &ClientOptions,
        scope: &str,
        url: &Url,
    ) -> Result<Option<String>, RegistryError> {
        if let Some(Credentials::Token(token)) = &self.credentials {
            return Ok(Some(format!("Bearer {token}")));
        }
        let mut auth = self.state.lock().await;
        if let Some(token) = auth.tokens.get(scope) {
            return Ok(Some(format!("Bearer {token}")));
        }
        if let Some(service) = auth.token_service.clone() {
            let token = self
                .fetch_token(transport, options, &service, scope, url)
                .await?;
            auth.tokens.insert(scope.to_owned(), token.clone());
            return Ok(Some(format!("Bearer {token}")));
        }
        if auth.basic
            && let Some(Credentials::UserPassword { user, password }) = &self.credentials
        {
            return Ok(Some(basic_authorization(user, password)));
        }
        Ok(None)
    }

    /// Records what a 401 challenge asks for, so the next attempt can authenticate.
    pub(super) async fn accept_challenge(
        &self,
        headers: &HeaderMap,
        url: &Url,
        scope: &str,
    ) -> Result<(), RegistryError> {
        // Several header lines are one list of challenges (RFC 9110, section 5.3).
        let header = headers
            .get_all(header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(", ");
        let unauthorized = |challenge: String| RegistryError::Unauthorized {
            url: url.to_string(),
            challenge,
        };
        let mut auth = self.state.lock().await;
        // A token the registry just refused is not offered again.
        auth.tokens.remove(scope);
        match Challenge::parse(&header) {
            Some(Challenge::Bearer { realm, service }) => {
                if matches!(self.credentials, Some(Credentials::Token(_))) {
                    return Err(unauthorized(format!(
                        "the token in `{}` was refused",
                        env_var_name(&self.host)
                    )));
                }
                auth.token_service = Some(TokenService { realm, service });
                Ok(())
            }
            Some(Challenge::Basic) => match &self.credentials {
                Some(Credentials::UserPassword { .. }) if !auth.basic => {
                    auth.basic = true;
                    Ok(())
                }
                _ => Err(unauthorized(format!(
                    "Basic authentication needed; set `{}` to user:password",
                    env_var_name(&self.host)
                ))),
            },
            None => Err(unauthorized(if header.is_empty() {
                "401 without a WWW-Authenticate challenge".to_owned()
            } else {
                format!("unsupported challenge `{}`", shorten(&header))
            })),
        }
    }

    /// Asks the token service for a pull token for `scope`.
    async fn fetch_token(
        &self,
        transport: &Transport,
        options: &ClientOptions,
        service: &TokenService,
        scope: &str,
        url: &Url,
    ) -> Result<String, RegistryError> {
        let mut realm = Url::parse(&service.realm).map_err(|_| RegistryError::Malformed {
            url: url.to_string(),
            what: "WWW-Authenticate realm",
            reason: format!("`{}` is not a URL", shorten(&service.realm)),
        })?;
        if !transport.may_contact(&realm) {
            return Err(RegistryError::UnsafeLink {
                url: url.to_string(),
                target: service.realm.clone(),
                reason: "the token service is not https and the endpoint is not marked insecure",
            });
        }
        let realm_display = realm.to_string();
        {
            let mut query = realm.query_pairs_mut();
            if let Some(name) = &service.service {
                query.append_pair("service", name);
            }
            query.append_pair("scope", scope);
        }
        let basic = match &self.credentials {
            Some(Credentials::UserPassword { user, password }) => {
                Some(basic_authorization(user, password))
            }
            _ => None,
        };
        let who = if basic.is_some() {
            "the configured credentials"
        } else {
            "anonymous access"
        };
        // Token services rate-limit and fail too (Docker Hub's does): retried like the API.
        let (realm_url, basic) = (&realm, basic.as_deref());
        let (status, body) = retry::until_settled(
            transport,
            options,
            &self.host,
            &realm,
            move || transport.send_token_request(realm_url, basic),
            |response| async move {
                let status = response.status();
                if status != StatusCode::OK {
                    return Ok((status, Vec::new()));
                }
                let body = transport
                    .read_body(response, TOKEN_RESPONSE_LIMIT, "token response", realm_url)
                    .await?;
                Ok((status, body))
            },
        )
        .await?;
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(RegistryError::BadCredentials {
                realm: realm_display,
                host: self.host.clone(),
                who,
                status: status.as_u16(),
                env_var: env_var_name(&self.host),
            });
        }
        if status != StatusCode::OK {
            return Err(status_error(status, &realm));
        }
        let answer: TokenAnswer =
            serde_json::from_slice(&body).map_err(|e| RegistryError::Malformed {
                url: realm_display.clone(),
                what: "token response",
                reason: e.to_string(),
            })?;
        answer
            .token
            .or(answer.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| RegistryError::Malformed {
                url: realm_display,
                what: "token response",
                reason: "no `token` or `access_token` field".to_owned(),
            })
    }
}

#[derive(serde::Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

fn basic_authorization(user: &str, password: &str) -> String {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}
