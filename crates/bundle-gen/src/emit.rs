//! Typed values to the JSON and YAML text the tree holds, and the one error rendering can end
//! in. Every guard ran when the [`crate::Config`] was built, so nothing here re-checks a setting.

use serde::Serialize;
use serde_json::Value;

use crate::tree::GENERATED_HEADER;

/// Why the tree or an overlay's objects could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// `render_objects` was asked for an overlay that `overlays:` does not list.
    #[error("overlay `{overlay}` is not generated: add it under `overlays:` in bundle.yaml")]
    OverlayNotConfigured {
        /// The overlay's directory name.
        overlay: &'static str,
    },
    /// An object or file could not be serialized (a bug: the types are all serializable).
    #[error("could not serialize {what}: {reason}")]
    Serialize {
        /// What was being serialized.
        what: String,
        /// The serializer's message.
        reason: String,
    },
}

fn serialize_error(what: &str, error: impl std::fmt::Display) -> RenderError {
    RenderError::Serialize {
        what: what.to_owned(),
        reason: error.to_string(),
    }
}

/// A typed value as JSON (keys sorted, so files come out in a stable order).
pub(crate) fn to_json<T: Serialize>(value: &T, what: &str) -> Result<Value, RenderError> {
    serde_json::to_value(value).map_err(|error| serialize_error(what, error))
}

/// YAML text with the generated-file header.
pub(crate) fn yaml_text<T: Serialize>(value: &T, what: &str) -> Result<String, RenderError> {
    let body = serde_norway::to_string(value).map_err(|error| serialize_error(what, error))?;
    Ok(format!("{GENERATED_HEADER}{body}"))
}

/// YAML text with the generated-file header and, under it, `comment` (whole `#` lines).
pub(crate) fn commented_yaml_text<T: Serialize>(
    value: &T,
    what: &str,
    comment: &str,
) -> Result<String, RenderError> {
    let body = serde_norway::to_string(value).map_err(|error| serialize_error(what, error))?;
    Ok(format!("{GENERATED_HEADER}{comment}{body}"))
}

/// TOML text with the generated-file header.
pub(crate) fn toml_text<T: Serialize>(value: &T, what: &str) -> Result<String, RenderError> {
    let body = toml::to_string(value).map_err(|error| serialize_error(what, error))?;
    Ok(format!("{GENERATED_HEADER}{body}"))
}
