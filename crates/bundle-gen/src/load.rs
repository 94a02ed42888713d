//! Reading `bundle.yaml`: strict parsing that names the key path in every error (with the
//! nearest known name for a typo), each overlay's `livekit` delta merged over the top-level
//! `livekit`, then the guards of [`crate::validate`].

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Deserialize;
use serde_norway::{Mapping, Value};

use crate::config::{Config, Livekit, RawConfig, Variant};
use crate::validate::{self, Violation};

/// Why a `bundle.yaml` was not accepted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// The text is not YAML, or not a mapping at its top.
    #[error("not a valid config: {message}{}", near(*.line))]
    Syntax {
        /// What the YAML parser reported.
        message: String,
        /// Line of the problem, when known.
        line: Option<usize>,
    },
    /// A key the model does not know (a typo must never fall back to a default).
    #[error("{}", unknown_key_message(.key, .suggestion.as_deref(), .expected, *.line))]
    UnknownKey {
        /// Full path of the unknown key, e.g. `homeserver.serverNme`.
        key: String,
        /// The known name closest to the unknown one, if any is close.
        suggestion: Option<String>,
        /// Every name allowed at that place.
        expected: Vec<String>,
        /// Line of the key, when known.
        line: Option<usize>,
    },
    /// A required key is absent.
    #[error("missing key `{key}`: it has no default, set it{}", near(*.line))]
    MissingKey {
        /// Full path of the missing key.
        key: String,
        /// Line of the enclosing mapping, when known.
        line: Option<usize>,
    },
    /// A value of the wrong type or form (a malformed digest, a port above 65535...).
    #[error("invalid value at `{key}`: {reason}{}", near(*.line))]
    InvalidValue {
        /// Full path of the key whose value is wrong.
        key: String,
        /// What is wrong with it.
        reason: String,
        /// Line of the value, when known.
        line: Option<usize>,
    },
    /// The config parses but would deploy something broken or unsafe.
    #[error("{}", refused_message(.violations))]
    Refused {
        /// Every violated guard, in a stable order.
        violations: Vec<Violation>,
    },
}

fn at(line: Option<usize>) -> String {
    line.map(|line| format!(" (line {line})"))
        .unwrap_or_default()
}

/// For values and syntax, the parser knows only roughly where: a value rejected after parsing
/// (a digest) or a duplicate key is reported at the start of its enclosing mapping.
fn near(line: Option<usize>) -> String {
    line.map(|line| format!(" (near line {line})"))
        .unwrap_or_default()
}

fn unknown_key_message(
    key: &str,
    suggestion: Option<&str>,
    expected: &[String],
    line: Option<usize>,
) -> String {
    let mut message = format!("unknown key `{key}`");
    match suggestion {
        Some(name) => {
            let _ = write!(message, "; did you mean `{name}`?");
        }
        None if expected.is_empty() => message.push_str("; no keys are allowed here"),
        None => {
            let _ = write!(message, "; allowed here: {}", quoted_list(expected));
        }
    }
    message.push_str(&at(line));
    message
}

fn refused_message(violations: &[Violation]) -> String {
    let mut message = match violations.len() {
        1 => "config refused:".to_owned(),
        count => format!("config refused ({count} problems):"),
    };
    for violation in violations {
        let _ = write!(message, "\n  - {violation}");
    }
    message
}

impl Config {
    /// Parses and checks a `bundle.yaml`. Every error names the key path; a config that would
    /// deploy something broken or unsafe is refused with every violated guard at once.
    pub fn from_yaml(text: &str) -> Result<Config, ConfigError> {
        // Syntax first, so that a YAML error is reported as such rather than at some key path.
        let document: Value = serde_norway::from_str(text).map_err(|error| syntax(&error))?;
        // From the text rather than from `document`, so that errors carry line numbers.
        let raw: RawConfig = deserialize(serde_norway::Deserializer::from_str(text), "")?;
        let top_livekit = document
            .get("livekit")
            .cloned()
            .unwrap_or_else(|| Value::Mapping(Mapping::new()));

        let mut variants = BTreeMap::new();
        for (&name, delta) in &raw.overlays {
            let merged = match &delta.livekit {
                Some(delta) => merge(top_livekit.clone(), delta.clone()),
                None => top_livekit.clone(),
            };
            let prefix = format!("overlays.{}.livekit", name.dir_name());
            let livekit: Livekit = deserialize(merged, &prefix)?;
            variants.insert(name, Variant { name, livekit });
        }

        let mut config = Config { raw, variants };
        let violations = validate::violations(&config);
        if !violations.is_empty() {
            return Err(ConfigError::Refused { violations });
        }
        // The overlay's name decides these; the guards made sure nothing written contradicts it.
        for variant in config.variants.values_mut() {
            variant.livekit.enabled = Some(variant.livekit_bundled());
            variant.livekit.turn.enabled = Some(variant.turn_enabled());
        }
        Ok(config)
    }
}

/// Lays `delta` over `base`: mappings merge key by key, any other value replaces.
fn merge(base: Value, delta: Value) -> Value {
    match (base, delta) {
        (Value::Mapping(mut base), Value::Mapping(delta)) => {
            for (key, value) in delta {
                let merged = match base.get_mut(&key) {
                    Some(slot) => merge(std::mem::take(slot), value),
                    None => value,
                };
                base.insert(key, merged);
            }
            Value::Mapping(base)
        }
        (_, delta) => delta,
    }
}

/// Deserializes `T`, turning serde's error into one that names the full key path (`prefix`
/// followed by the path inside the value).
fn deserialize<'de, D, T>(deserializer: D, prefix: &str) -> Result<T, ConfigError>
where
    D: serde::Deserializer<'de, Error = serde_norway::Error>,
    T: Deserialize<'de>,
{
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let key = join_key(prefix, &path);
        classify(key, error.inner())
    })
}

fn join_key(prefix: &str, path: &str) -> String {
    match (prefix.is_empty(), path == ".") {
        (_, true) => prefix.to_owned(),
        (true, false) => path.to_owned(),
        (false, false) => format!("{prefix}.{path}"),
    }
}

fn classify(key: String, error: &serde_norway::Error) -> ConfigError {
    let line = error.location().map(|location| location.line());
    let message = bare_message(&error.to_string());
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let unknown = rest.split('`').next().unwrap_or_default();
        let expected = backticked_names_after_expected(rest);
        return ConfigError::UnknownKey {
            key,
            suggestion: nearest(unknown, &expected),
            expected,
            line,
        };
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let unknown = rest.split('`').next().unwrap_or_default();
        let expected = backticked_names_after_expected(rest);
        // A variant used as a mapping key (`overlays: {bundeld: ...}`) is a key to the operator.
        if key.rsplit('.').next() == Some(unknown) {
            return ConfigError::UnknownKey {
                suggestion: nearest(unknown, &expected),
                key,
                expected,
                line,
            };
        }
        let hint = match nearest(unknown, &expected) {
            Some(name) => format!("; did you mean `{name}`?"),
            None => format!("; allowed: {}", quoted_list(&expected)),
        };
        return ConfigError::InvalidValue {
            key,
            reason: format!("unknown value `{unknown}`{hint}"),
            line,
        };
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or_default();
        return ConfigError::MissingKey {
            key: join_key(&key, field),
            line,
        };
    }
    if key.is_empty() {
        return ConfigError::Syntax { message, line };
    }
    ConfigError::InvalidValue {
        key,
        reason: message,
        line,
    }
}

fn syntax(error: &serde_norway::Error) -> ConfigError {
    ConfigError::Syntax {
        message: bare_message(&error.to_string()),
        line: error.location().map(|location| location.line()),
    }
}

/// serde_norway's message without the key path it prefixes (we print our own, which also
/// covers overlay deltas) and without the trailing position (we print the line ourselves).
fn bare_message(text: &str) -> String {
    let without_position = match text.rfind(" at line ") {
        Some(index) if text[index..].contains(" column ") => &text[..index],
        _ => text,
    };
    // The prefix is a key path: no spaces before the first ": ".
    match without_position.split_once(": ") {
        Some((path, rest)) if !path.contains(' ') && !path.contains('`') => rest.to_owned(),
        _ => without_position.to_owned(),
    }
}

/// The names serde lists after "expected" (`a`, "`a` or `b`", "one of `a`, `b`, `c`").
fn backticked_names_after_expected(text: &str) -> Vec<String> {
    let Some((_, list)) = text.split_once("expected") else {
        return Vec::new();
    };
    list.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

fn quoted_list(names: &[String]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The expected name closest to `unknown`, if it is close enough to be a likely typo.
fn nearest(unknown: &str, expected: &[String]) -> Option<String> {
    let unknown = unknown.to_lowercase();
    expected
        .iter()
        .map(|name| (strsim::jaro_winkler(&unknown, &name.to_lowercase()), name))
        .filter(|(similarity, _)| *similarity >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, name)| name.clone())
}
