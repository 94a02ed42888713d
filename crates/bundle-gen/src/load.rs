//! Reading `bundle.yaml`: strict parsing that names the key path in every error (with the
//! nearest known name for a typo) and the line and column of that key, each overlay's
//! `livekit` delta merged over the top-level `livekit`, then the guards of [`crate::validate`].

mod key_index;

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::Path;

use serde::Deserialize;
use serde_norway::{Mapping, Value};

use crate::config::{Config, Livekit, OverlayName, RawConfig, Variant};
use crate::images::{BareMultiarchPolicy, CommitPolicy, ManualPolicy, SemverPolicy};
use crate::validate::{self, Violation};
use key_index::KeyIndex;

/// A place in the text of `bundle.yaml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1, in characters.
    pub column: usize,
}

/// A violated guard and where the key it names is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocatedViolation {
    /// The guard and its message.
    pub violation: Violation,
    /// Where the key the violation names is written or, for a key that is not written (a
    /// missing setting), where its nearest written parent is. `None` when neither is.
    pub location: Option<Location>,
}

impl fmt::Display for LocatedViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.violation.fmt(f)
    }
}

/// Why a `bundle.yaml` was not accepted. The message (`Display`) ends with the line when it is
/// known; [`ConfigError::with_file`] gives the `file:line:column:` form editors and CI parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// The text is not YAML, or not a mapping at its top.
    Syntax {
        /// What is wrong.
        message: String,
        /// Where the parser found the problem, when known.
        location: Option<Location>,
    },
    /// A key written twice in one mapping (YAML forbids it, and one value would be lost).
    DuplicateKey {
        /// Full path of the key.
        key: String,
        /// The second occurrence.
        location: Location,
        /// The first occurrence.
        first: Location,
    },
    /// A key the model does not know (a typo must never fall back to a default).
    UnknownKey {
        /// Full path of the unknown key, e.g. `homeserver.serverNme`.
        key: String,
        /// The known name closest to the unknown one, if any is close.
        suggestion: Option<String>,
        /// Every name allowed at that place.
        expected: Vec<String>,
        /// Where the key is written, when known.
        location: Option<Location>,
    },
    /// A required key is absent.
    MissingKey {
        /// Full path of the missing key.
        key: String,
        /// Where the mapping that lacks it is written, when known.
        location: Option<Location>,
    },
    /// A value of the wrong type or form (a malformed digest, a port above 65535...).
    InvalidValue {
        /// Full path of the key whose value is wrong.
        key: String,
        /// What is wrong with it.
        reason: String,
        /// Where the key is written, when known.
        location: Option<Location>,
    },
    /// The config parses but would deploy something broken or unsafe.
    Refused {
        /// Every violated guard, in a stable order.
        violations: Vec<LocatedViolation>,
    },
}

impl ConfigError {
    /// Where the problem is. `None` when unknown, and for [`ConfigError::Refused`], whose
    /// violations each carry their own.
    pub fn location(&self) -> Option<Location> {
        match self {
            ConfigError::Syntax { location, .. }
            | ConfigError::UnknownKey { location, .. }
            | ConfigError::MissingKey { location, .. }
            | ConfigError::InvalidValue { location, .. } => *location,
            ConfigError::DuplicateKey { location, .. } => Some(*location),
            ConfigError::Refused { .. } => None,
        }
    }

    /// The error as compilers print theirs, which editors and CI problem matchers parse:
    /// `<file>:<line>:<column>: <message>` (`<file>: <message>` without a location). A refusal
    /// is a `<file>:` header line followed by one such line per violation.
    pub fn with_file<'a>(&'a self, file: &'a Path) -> impl fmt::Display + 'a {
        WithFile { error: self, file }
    }

    /// The message without the location.
    fn message(&self) -> String {
        match self {
            ConfigError::Syntax { message, .. } => format!("not a valid config: {message}"),
            ConfigError::DuplicateKey { key, first, .. } => format!(
                "duplicate key `{key}`: it is already set at line {}, and YAML allows a key \
                 once per mapping (one of the values would be lost). Fix: keep one of the two \
                 and delete the other",
                first.line
            ),
            ConfigError::UnknownKey {
                key,
                suggestion,
                expected,
                ..
            } => unknown_key_message(key, suggestion.as_deref(), expected),
            ConfigError::MissingKey { key, .. } => {
                format!("missing key `{key}`: it has no default, set it")
            }
            ConfigError::InvalidValue { key, reason, .. } => {
                format!("invalid value at `{key}`: {reason}")
            }
            ConfigError::Refused { violations } => match violations.len() {
                1 => "config refused:".to_owned(),
                count => format!("config refused ({count} problems):"),
            },
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())?;
        if let ConfigError::Refused { violations } = self {
            for violation in violations {
                write!(f, "\n  - {violation}{}", at(violation.location))?;
            }
        }
        f.write_str(&at(self.location()))
    }
}

struct WithFile<'a> {
    error: &'a ConfigError,
    file: &'a Path,
}

impl fmt::Display for WithFile<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display();
        let prefix = |location: Option<Location>| match location {
            Some(Location { line, column }) => format!("{file}:{line}:{column}:"),
            None => format!("{file}:"),
        };
        write!(
            f,
            "{} {}",
            prefix(self.error.location()),
            self.error.message()
        )?;
        if let ConfigError::Refused { violations } = self.error {
            for violation in violations {
                write!(f, "\n{} {violation}", prefix(violation.location))?;
            }
        }
        Ok(())
    }
}

fn at(location: Option<Location>) -> String {
    location
        .map(|location| format!(" (line {})", location.line))
        .unwrap_or_default()
}

fn unknown_key_message(key: &str, suggestion: Option<&str>, expected: &[String]) -> String {
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
    message
}

impl Config {
    /// Reads a `bundle.yaml` into its types (strictly: unknown keys are errors) and merges each
    /// overlay's `livekit` delta, without the guards.
    fn parse(text: &str) -> Result<(Config, KeyIndex), ConfigError> {
        let index = KeyIndex::of(text);
        // Before serde reads the text: serde reports a duplicate near its enclosing mapping.
        if let Some(duplicate) = index.duplicate() {
            return Err(ConfigError::DuplicateKey {
                key: duplicate.key.clone(),
                location: duplicate.location,
                first: duplicate.first,
            });
        }
        // Syntax first, so that a YAML error is reported as such rather than at some key path.
        let document: Value = serde_norway::from_str(text).map_err(|error| syntax(&error))?;
        let source = Source {
            index: &index,
            document: &document,
        };
        // From the text rather than from `document`, so that errors carry positions.
        let raw: RawConfig = tracked(serde_norway::Deserializer::from_str(text), "")
            .map_err(|(key, error)| source.error(key, &error))?;
        let variants = merged_variants(&raw, &source)?;
        Ok((Config { raw, variants }, index))
    }

    /// Parses and checks a `bundle.yaml`. Every error names the key path; a config that would
    /// deploy something broken or unsafe is refused with every violated guard at once.
    pub fn from_yaml(text: &str) -> Result<Config, ConfigError> {
        let (mut config, index) = Self::parse(text)?;
        let violations = validate::violations(&config, &index);
        if !violations.is_empty() {
            let violations = violations
                .into_iter()
                .map(|violation| LocatedViolation {
                    location: index.locate(violation.key()),
                    violation,
                })
                .collect();
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

/// The `bundle.yaml` a tree was deployed from, read at a git revision for the transition guards.
/// Parsed without today's guards, which it may break through no fault of the change under review
/// (a guard added since): refusing it there would block the very change that fixes it. It can be
/// compared with a [`Config`], never rendered.
#[derive(Debug, Clone)]
pub struct DeployedConfig {
    pub(crate) config: Config,
    ignored_keys: Vec<String>,
}

impl DeployedConfig {
    /// Parses a deployed `bundle.yaml`. Keys today's model does not know are left out (see
    /// [`DeployedConfig::ignored_keys`]); unreadable text, a missing key or a value of the
    /// wrong type are errors.
    pub fn from_yaml(text: &str) -> Result<DeployedConfig, ConfigError> {
        let (mut config, ignored_keys) = parse_deployed(text)?;
        for variant in config.variants.values_mut() {
            variant.livekit.enabled = Some(variant.livekit_bundled());
            variant.livekit.turn.enabled = Some(variant.turn_enabled());
        }
        Ok(DeployedConfig {
            config,
            ignored_keys,
        })
    }

    /// The keys of the deployed file that today's model does not know and that were left out,
    /// as dotted paths (`livekit.rtc.oldKey`), in the order found.
    pub fn ignored_keys(&self) -> &[String] {
        &self.ignored_keys
    }
}

/// Each overlay's LiveKit settings: the top-level `livekit` of `source` with the overlay's
/// delta laid over it.
fn merged_variants(
    raw: &RawConfig,
    source: &Source<'_>,
) -> Result<BTreeMap<OverlayName, Variant>, ConfigError> {
    let top_livekit = source
        .document
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
        let livekit: Livekit =
            tracked(merged, &prefix).map_err(|(key, error)| source.error(key, &error))?;
        variants.insert(name, Variant { name, livekit });
    }
    Ok(variants)
}

/// Reads a deployed `bundle.yaml`, leaving out every key today's model does not know (a key
/// removed since it was deployed): the transition rules read none of them, and refusing the
/// file would fail the very change that migrates such a key. Every other key keeps its type,
/// so a value the rules compare is never guessed. Returns the config and the keys left out,
/// as dotted paths, in the order found.
fn parse_deployed(text: &str) -> Result<(Config, Vec<String>), ConfigError> {
    let index = KeyIndex::of(text);
    if let Some(duplicate) = index.duplicate() {
        return Err(ConfigError::DuplicateKey {
            key: duplicate.key.clone(),
            location: duplicate.location,
            first: duplicate.first,
        });
    }
    let mut document: Value = serde_norway::from_str(text).map_err(|error| syntax(&error))?;
    let mut ignored = Vec::new();
    loop {
        let source = Source {
            index: &index,
            document: &document,
        };
        // From the document, so that a key can be left out; the index still locates errors
        // in the text.
        let parsed = tracked(document.clone(), "")
            .map_err(|(key, error)| source.error(key, &error))
            .and_then(|raw: RawConfig| {
                let variants = merged_variants(&raw, &source)?;
                Ok(Config { raw, variants })
            });
        let error = match parsed {
            Ok(config) => return Ok((config, ignored)),
            Err(error) => error,
        };
        // An unknown key inside an overlay's delta is reported under the delta's own path.
        let ConfigError::UnknownKey { key, .. } = &error else {
            return Err(error);
        };
        if !remove_key(&mut document, key) {
            return Err(error);
        }
        ignored.push(key.clone());
    }
}

/// Removes the value at the dotted `path` (`a.b[0].c`) from `value`; a mapping key may itself
/// hold dots (a registry host), so each key of a mapping is tried as the next part.
fn remove_key(value: &mut Value, path: &str) -> bool {
    match value {
        Value::Mapping(mapping) => {
            // Every key the path starts with is a candidate (`ghcr` and `ghcr.io` both start
            // `ghcr.io.oldAuth`): the one the rest of the path can be removed under wins.
            let candidates: Vec<(Value, String)> = mapping
                .iter()
                .filter_map(|(key, _)| {
                    let name = key.as_str()?;
                    let rest = path.strip_prefix(name)?;
                    (rest.is_empty() || rest.starts_with('.') || rest.starts_with('[')).then(|| {
                        (
                            key.clone(),
                            rest.strip_prefix('.').unwrap_or(rest).to_owned(),
                        )
                    })
                })
                .collect();
            candidates.into_iter().any(|(key, rest)| {
                if rest.is_empty() {
                    mapping.remove(&key).is_some()
                } else {
                    mapping
                        .get_mut(&key)
                        .is_some_and(|inner| remove_key(inner, &rest))
                }
            })
        }
        Value::Sequence(items) => {
            let Some((position, rest)) =
                path.strip_prefix('[').and_then(|rest| rest.split_once(']'))
            else {
                return false;
            };
            let rest = rest.strip_prefix('.').unwrap_or(rest);
            match position
                .parse::<usize>()
                .ok()
                .and_then(|i| items.get_mut(i))
            {
                Some(item) if !rest.is_empty() => remove_key(item, rest),
                _ => false,
            }
        }
        _ => false,
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

/// Deserializes `T`; on failure, the full key path of the problem (`prefix` followed by the
/// path inside the value) and serde's error.
fn tracked<'de, D, T>(deserializer: D, prefix: &str) -> Result<T, (String, serde_norway::Error)>
where
    D: serde::Deserializer<'de, Error = serde_norway::Error>,
    T: Deserialize<'de>,
{
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let key = join_key(prefix, &error.path().to_string());
        (key, error.into_inner())
    })
}

fn join_key(prefix: &str, path: &str) -> String {
    match (prefix.is_empty(), path == ".") {
        (_, true) => prefix.to_owned(),
        (true, false) => path.to_owned(),
        (false, false) => format!("{prefix}.{path}"),
    }
}

/// The text being loaded, to turn serde's errors into ones with a precise key and location.
struct Source<'a> {
    index: &'a KeyIndex,
    document: &'a Value,
}

impl Source<'_> {
    fn error(&self, key: String, error: &serde_norway::Error) -> ConfigError {
        self.policy_error(&key)
            .unwrap_or_else(|| self.classify(key, error))
    }

    /// serde reads an internally tagged enum (`policy: {kind: ..., ...}`) from a buffered copy
    /// of its body, so an error inside the body is reported at the `policy` key itself. Reading
    /// the body again as the struct of its `kind` recovers the path (`...policy.range`).
    fn policy_error(&self, key: &str) -> Option<ConfigError> {
        let ["images", image, "policy"] = key.split('.').collect::<Vec<_>>()[..] else {
            return None;
        };
        let policy = self
            .document
            .get("images")?
            .get(image)?
            .get("policy")?
            .as_mapping()?;
        let mut body = policy.clone();
        let kind = body.remove("kind")?;
        let body = Value::Mapping(body);
        let (key, error) = match kind.as_str()? {
            "bare-multiarch" => tracked::<_, BareMultiarchPolicy>(body, key).err(),
            "semver" => tracked::<_, SemverPolicy>(body, key).err(),
            "commit" => tracked::<_, CommitPolicy>(body, key).err(),
            "manual" => tracked::<_, ManualPolicy>(body, key).err(),
            _ => None,
        }?;
        Some(match self.classify(key, &error) {
            // The body was read without its `kind`, which is allowed too.
            ConfigError::UnknownKey {
                key,
                mut expected,
                location,
                ..
            } => {
                expected.insert(0, "kind".to_owned());
                let unknown = key.rsplit('.').next().unwrap_or_default();
                ConfigError::UnknownKey {
                    suggestion: nearest(unknown, &expected),
                    key,
                    expected,
                    location,
                }
            }
            // The semver crate says what it could not parse, not how to write a range.
            ConfigError::InvalidValue {
                key,
                reason,
                location,
            } if key.ends_with(".range") && !reason.starts_with("expected ") => {
                ConfigError::InvalidValue {
                    reason: format!(
                        "{reason}; write a version requirement such as `^1` or `>=1.2, <2`"
                    ),
                    key,
                    location,
                }
            }
            other => other,
        })
    }

    fn classify(&self, key: String, error: &serde_norway::Error) -> ConfigError {
        let location = self
            .index
            .locate(&key)
            .or_else(|| error.location().map(location_of));
        let message = bare_message(&error.to_string());
        if let Some(rest) = message.strip_prefix("unknown field `") {
            let unknown = rest.split('`').next().unwrap_or_default();
            let expected = backticked_names_after_expected(rest);
            return ConfigError::UnknownKey {
                key,
                suggestion: nearest(unknown, &expected),
                expected,
                location,
            };
        }
        if let Some(rest) = message.strip_prefix("unknown variant `") {
            let unknown = rest.split('`').next().unwrap_or_default();
            let expected = backticked_names_after_expected(rest);
            // A variant used as a mapping key (`overlays: {bundeld: ...}`) is a key to the
            // operator.
            if key.rsplit('.').next() == Some(unknown) {
                return ConfigError::UnknownKey {
                    suggestion: nearest(unknown, &expected),
                    key,
                    expected,
                    location,
                };
            }
            let hint = match nearest(unknown, &expected) {
                Some(name) => format!("; did you mean `{name}`?"),
                None => format!("; allowed: {}", quoted_list(&expected)),
            };
            return ConfigError::InvalidValue {
                key,
                reason: format!("unknown value `{unknown}`{hint}"),
                location,
            };
        }
        if let Some(rest) = message.strip_prefix("missing field `") {
            let field = rest.split('`').next().unwrap_or_default();
            return ConfigError::MissingKey {
                key: join_key(&key, field),
                location,
            };
        }
        let message = in_yaml_terms(&message, &key);
        if key.is_empty() {
            return ConfigError::Syntax { message, location };
        }
        ConfigError::InvalidValue {
            key,
            reason: message,
            location,
        }
    }
}

fn location_of(location: serde_norway::Location) -> Location {
    Location {
        line: location.line(),
        column: location.column(),
    }
}

fn syntax(error: &serde_norway::Error) -> ConfigError {
    ConfigError::Syntax {
        message: bare_message(&error.to_string()),
        location: error.location().map(location_of),
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

/// serde's "invalid type: sequence, expected struct Rtc" in the words of a YAML file: "expected
/// a mapping, found a list"; Rust type names mean nothing to the operator. `key` decides the
/// range a `u16` stands for (every `...Port` is a port).
fn in_yaml_terms(message: &str, key: &str) -> String {
    let Some(rest) = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
    else {
        return message.to_owned();
    };
    let Some((found, expected)) = rest.rsplit_once(", expected ") else {
        return message.to_owned();
    };
    format!(
        "expected {}, found {}",
        expected_in_yaml_terms(expected, key),
        found_in_yaml_terms(found)
    )
}

/// serde's `Expected` texts: primitive type names, `a map`, `struct X`, and the texts of
/// visitors (`a boolean`, `semver version`).
fn expected_in_yaml_terms(expected: &str, key: &str) -> String {
    let is_port = key
        .rsplit('.')
        .next()
        .is_some_and(|name| name.ends_with("Port"));
    let whole_number = |min: i128, max: i128| format!("a whole number from {min} to {max}");
    match expected {
        "u16" if is_port => "a number from 1 to 65535".to_owned(),
        "u8" => whole_number(0, u8::MAX.into()),
        "u16" => whole_number(0, u16::MAX.into()),
        "u32" => whole_number(0, u32::MAX.into()),
        "u64" | "usize" => whole_number(0, u64::MAX.into()),
        "i8" => whole_number(i8::MIN.into(), i8::MAX.into()),
        "i16" => whole_number(i16::MIN.into(), i16::MAX.into()),
        "i32" => whole_number(i32::MIN.into(), i32::MAX.into()),
        "i64" | "isize" => whole_number(i64::MIN.into(), i64::MAX.into()),
        "an integer" => "a whole number".to_owned(),
        "f32" | "f64" | "a float" => "a number".to_owned(),
        "a boolean" => "true or false".to_owned(),
        "a map" => "a mapping".to_owned(),
        "a sequence" => "a list".to_owned(),
        "unit" | "null" => "an empty value".to_owned(),
        "semver version" | "semver version requirement" => {
            "a version requirement such as `^1`".to_owned()
        }
        struct_or_enum
            if [
                "struct ",
                "internally tagged enum ",
                "adjacently tagged enum ",
            ]
            .iter()
            .any(|prefix| struct_or_enum.starts_with(prefix)) =>
        {
            "a mapping".to_owned()
        }
        // serde_norway names a unit-variant enum read from a non-string `a Value::Tagged enum`.
        other
            if other.starts_with("enum ")
                || other.ends_with(" identifier")
                || other == "a Value::Tagged enum" =>
        {
            "one of the names allowed here".to_owned()
        }
        other => other.to_owned(),
    }
}

/// serde's `Unexpected` texts: "integer `70000`", "string \"x\"", "sequence", "unit value".
fn found_in_yaml_terms(found: &str) -> String {
    for prefix in ["boolean ", "integer ", "floating point ", "character "] {
        if let Some(value) = found.strip_prefix(prefix) {
            return value.trim_matches('`').to_owned();
        }
    }
    match found {
        "sequence" => "a list".to_owned(),
        "map" => "a mapping".to_owned(),
        "unit value" => "an empty value".to_owned(),
        string if string.starts_with("string ") => format!("the {string}"),
        other => other.to_owned(),
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
