//! Who may do what: the access rules of the token server, as pure functions over the request's
//! credentials and scopes.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// A user name and password, sent to the token server with HTTP Basic auth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password (or access token).
    pub password: String,
}

impl Credentials {
    /// Credentials from their parts.
    pub fn new(username: &str, password: &str) -> Self {
        Self {
            username: username.to_owned(),
            password: password.to_owned(),
        }
    }

    /// The `Authorization` header value for these credentials.
    pub fn basic_authorization(&self) -> String {
        format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", self.username, self.password))
        )
    }
}

/// The access rules: anyone may pull, except from repositories that require credentials;
/// only the pusher (the harness itself) may push.
#[derive(Debug, Clone)]
pub(crate) struct AccessRules {
    pusher: Credentials,
    pull_credentials: BTreeMap<String, Credentials>,
    /// Access tokens by repository, accepted as the Basic password with any user name.
    pull_tokens: BTreeMap<String, String>,
}

/// Who a token request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Caller {
    Anonymous,
    Pusher,
    /// Someone with credentials registered for pulling a protected repository.
    Reader(Credentials),
}

/// A requested `repository:<name>:<actions>` scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RepositoryScope {
    pub(crate) name: String,
    pub(crate) actions: Vec<String>,
}

impl AccessRules {
    pub(crate) fn new(pusher: Credentials) -> Self {
        Self {
            pusher,
            pull_credentials: BTreeMap::new(),
            pull_tokens: BTreeMap::new(),
        }
    }

    pub(crate) fn require_pull_credentials(&mut self, repository: &str, credentials: Credentials) {
        self.pull_credentials
            .insert(repository.to_owned(), credentials);
    }

    pub(crate) fn require_pull_token(&mut self, repository: &str, token: &str) {
        self.pull_tokens
            .insert(repository.to_owned(), token.to_owned());
    }

    /// The caller behind an `Authorization` header, or `None` when the header carries
    /// credentials nobody registered (the token server then answers 401).
    pub(crate) fn authenticate(&self, authorization: Option<&str>) -> Option<Caller> {
        let Some(header) = authorization else {
            return Some(Caller::Anonymous);
        };
        let presented = parse_basic(header)?;
        if presented == self.pusher {
            return Some(Caller::Pusher);
        }
        let registered = self
            .pull_credentials
            .values()
            .any(|registered| *registered == presented)
            || self
                .pull_tokens
                .values()
                .any(|token| *token == presented.password);
        registered.then_some(Caller::Reader(presented))
    }

    /// The actions granted to `caller` out of those requested in `scope`.
    pub(crate) fn grant(&self, caller: &Caller, scope: &RepositoryScope) -> Vec<String> {
        let credentials = self.pull_credentials.get(&scope.name);
        let token = self.pull_tokens.get(&scope.name);
        let may_pull = match caller {
            Caller::Pusher => true,
            _ if credentials.is_none() && token.is_none() => true,
            Caller::Reader(presented) => {
                credentials == Some(presented) || token == Some(&presented.password)
            }
            Caller::Anonymous => false,
        };
        let may_push = *caller == Caller::Pusher;
        scope
            .actions
            .iter()
            .filter(|action| match action.as_str() {
                "pull" => may_pull,
                _ => may_push,
            })
            .cloned()
            .collect()
    }
}

/// Parses a `scope` parameter of the form `repository:<name>:<action>[,<action>...]`; other
/// resource types (`registry:catalog:*`) are ignored.
pub(crate) fn parse_repository_scope(scope: &str) -> Option<RepositoryScope> {
    let rest = scope.strip_prefix("repository:")?;
    let (name, actions) = rest.rsplit_once(':')?;
    Some(RepositoryScope {
        name: name.to_owned(),
        actions: actions
            .split(',')
            .filter(|action| !action.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

fn parse_basic(header: &str) -> Option<Credentials> {
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (username, password) = decoded.split_once(':')?;
    Some(Credentials::new(username, password))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> AccessRules {
        let mut rules = AccessRules::new(Credentials::new("pusher", "push-secret"));
        rules.require_pull_credentials("private/app", Credentials::new("reader", "read-secret"));
        rules
    }

    fn scope(text: &str) -> RepositoryScope {
        parse_repository_scope(text).expect("a repository scope")
    }

    #[test]
    fn anonymous_callers_may_pull_public_repositories_but_not_push() {
        let granted = rules().grant(&Caller::Anonymous, &scope("repository:a/b:pull,push"));
        assert_eq!(granted, vec!["pull"]);
    }

    #[test]
    fn protected_repositories_need_their_credentials_to_pull() {
        let rules = rules();
        let wanted = scope("repository:private/app:pull");
        assert!(rules.grant(&Caller::Anonymous, &wanted).is_empty());
        let reader = rules
            .authenticate(Some(
                &Credentials::new("reader", "read-secret").basic_authorization(),
            ))
            .expect("registered reader");
        assert_eq!(rules.grant(&reader, &wanted), vec!["pull"]);
    }

    #[test]
    fn a_token_protected_repository_takes_the_token_with_any_user_name_and_nothing_else() {
        let mut rules = rules();
        rules.require_pull_token("ghcr/app", "ghp_token");
        let wanted = scope("repository:ghcr/app:pull");
        for user in ["someone", "x-access-token"] {
            let header = Credentials::new(user, "ghp_token").basic_authorization();
            let caller = rules.authenticate(Some(&header)).expect("token holder");
            assert_eq!(rules.grant(&caller, &wanted), vec!["pull"], "{user}");
        }
        assert_eq!(rules.authenticate(Some("Bearer ghp_token")), None);
        assert!(rules.grant(&Caller::Anonymous, &wanted).is_empty());
        let reader = rules
            .authenticate(Some(
                &Credentials::new("reader", "read-secret").basic_authorization(),
            ))
            .expect("registered reader");
        assert!(rules.grant(&reader, &wanted).is_empty());
    }

    #[test]
    fn unknown_credentials_are_refused() {
        let header = Credentials::new("reader", "wrong").basic_authorization();
        assert_eq!(rules().authenticate(Some(&header)), None);
    }

    #[test]
    fn the_pusher_gets_every_requested_action() {
        let header = Credentials::new("pusher", "push-secret").basic_authorization();
        let rules = rules();
        let pusher = rules.authenticate(Some(&header)).expect("pusher");
        assert_eq!(
            rules.grant(&pusher, &scope("repository:private/app:pull,push")),
            vec!["pull", "push"]
        );
    }

    #[test]
    fn scope_names_may_contain_slashes() {
        assert_eq!(
            parse_repository_scope("repository:element-hq/lk-jwt-service:pull"),
            Some(RepositoryScope {
                name: "element-hq/lk-jwt-service".to_owned(),
                actions: vec!["pull".to_owned()],
            })
        );
    }
}
