//! Rendering: a validated [`Config`] becomes the Kustomize tree (`base/`, `overlays/`) as bytes
//! in memory, and, for the invariant test, the objects each overlay deploys. Pure functions: no
//! I/O happens here; [`crate::Tree`] writes the result.

mod homeserver;
mod ingress;
mod kustomize;
mod livekit;
mod lk_jwt;
mod pod;
mod policy;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::config::{Config, OverlayName, RawConfig};
use crate::images::{ImageName, ImagePin};
use crate::tree::{GENERATED_HEADER, Tree};

pub use kustomize::render;

/// The label every generated object carries (Kustomize `labels`, selectors untouched). Not
/// `app.kubernetes.io/instance`: Argo CD before 3.x tracks resources by that label.
const PART_OF: (&str, &str) = ("app.kubernetes.io/part-of", "matrix-chat");

/// Why the tree could not be rendered. `Config::from_yaml` refuses most of these configs
/// already; the renderer checks again so that a `Config` built or changed another way cannot
/// produce a broken tree.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// An image has neither a tag nor a digest.
    #[error(
        "images.{key} has neither `tag` nor `digest`: pin it, e.g. `tag: v1.2.3` and \
         `digest: sha256:...` (see `bundle pins status`)"
    )]
    UnpinnedImage {
        /// The key under `images:`.
        key: &'static str,
    },
    /// `render_objects` was asked for an overlay that `overlays:` does not list.
    #[error("overlay `{overlay}` is not generated: add it under `overlays:` in bundle.yaml")]
    OverlayNotConfigured {
        /// The overlay's directory name.
        overlay: &'static str,
    },
    /// An inline secret value is set but `allowInlineSecrets` is not.
    #[error(
        "{key} is set inline but `allowInlineSecrets` is false: reference an existing Secret \
         instead, or set `allowInlineSecrets: true` (throwaway clusters only)"
    )]
    InlineSecretNotAllowed {
        /// The key holding the inline value.
        key: &'static str,
    },
    /// No Secret holds the LiveKit API keys of a variant.
    #[error(
        "overlay `{overlay}` has no LiveKit API keys: set `livekit.keys.existingSecret.name` \
         (for `external`: the Secret holding the keys of your SFU)"
    )]
    MissingLivekitKeys {
        /// The overlay's directory name.
        overlay: &'static str,
    },
    /// `bundled` and `bundled-turn` share one LiveKit component, so their LiveKit settings
    /// other than TURN must agree.
    #[error(
        "overlays `bundled` and `bundled-turn` set different `livekit.{key}`: they share the \
         LiveKit component, so only `livekit.turn` may differ between them; move the setting to \
         the top-level `livekit:`"
    )]
    BundledVariantsDiffer {
        /// The first differing key under `livekit`.
        key: &'static str,
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

/// The objects `kubectl kustomize overlays/<overlay>` yields for this config, computed directly
/// from the model: final names (ConfigMaps with Kustomize's hash suffix), namespace, labels and
/// images resolved to `repo:tag@digest`. The invariant test compares the two.
pub fn render_objects(config: &Config, overlay: OverlayName) -> Result<Vec<Value>, RenderError> {
    let variant = config
        .variants
        .get(&overlay)
        .ok_or(RenderError::OverlayNotConfigured {
            overlay: overlay.dir_name(),
        })?;
    let raw = &config.raw;

    let homeserver_toml = homeserver::config_toml(raw);
    let livekit_config = if variant.livekit_bundled() {
        let turn = variant.turn_enabled().then_some(&variant.livekit.turn);
        Some(livekit::config_yaml(raw, &variant.livekit, turn)?)
    } else {
        None
    };
    let refs = Refs {
        homeserver_image: resolved_image(raw, ImageName::Homeserver)?,
        livekit_image: resolved_image(raw, ImageName::Livekit)?,
        lk_jwt_image: resolved_image(raw, ImageName::LkJwt)?,
        homeserver_config: hashed_config_map_name(
            homeserver::CONFIG_MAP,
            homeserver::CONFIG_FILE,
            &homeserver_toml,
        ),
        livekit_config: livekit_config
            .as_deref()
            .map(|text| hashed_config_map_name(livekit::CONFIG_MAP, livekit::CONFIG_FILE, text))
            .unwrap_or_default(),
    };

    let connection = if raw.lk_jwt.enabled {
        Some(lk_jwt::LivekitConnection::of(raw, variant)?)
    } else {
        None
    };
    let routes = variant.livekit_bundled().then_some(&variant.livekit);
    let mut objects = values(base_files(raw, &refs, connection.as_ref(), routes)?);
    objects.push(config_map(
        &refs.homeserver_config,
        homeserver::CONFIG_FILE,
        &homeserver_toml,
    )?);
    if let Some(text) = &livekit_config {
        let turn = variant.turn_enabled().then_some(&variant.livekit.turn);
        objects.extend(values(livekit::objects(raw, variant, &refs, turn)?));
        objects.push(config_map(
            &refs.livekit_config,
            livekit::CONFIG_FILE,
            text,
        )?);
    }

    Ok(objects
        .into_iter()
        .map(|object| placed(object, &raw.namespace))
        .collect())
}

/// One object of the tree: its file name in its directory and its JSON form.
struct Object {
    file: String,
    value: Value,
}

/// The names Kustomize rewrites between the tree and the cluster: image references (the
/// `images:` transformer) and generated ConfigMap names (hash suffix). The tree holds the bare
/// forms, `render_objects` the final ones, and every builder takes them from here.
struct Refs {
    homeserver_image: String,
    livekit_image: String,
    lk_jwt_image: String,
    homeserver_config: String,
    livekit_config: String,
}

impl Refs {
    /// The forms written into the tree.
    fn bare(raw: &RawConfig) -> Self {
        let global = raw.global.image_registry.as_deref();
        Self {
            homeserver_image: raw.images.homeserver.image_name(global),
            livekit_image: raw.images.livekit.image_name(global),
            lk_jwt_image: raw.images.lk_jwt.image_name(global),
            homeserver_config: homeserver::CONFIG_MAP.to_owned(),
            livekit_config: livekit::CONFIG_MAP.to_owned(),
        }
    }
}

/// Objects of `base/` (homeserver, lk-jwt, ingress, policies). `connection` adds lk-jwt's
/// LiveKit settings and `routes` the LiveKit ingress routes; the tree leaves both to the
/// overlays, `render_objects` includes what the overlay adds.
fn base_files(
    raw: &RawConfig,
    refs: &Refs,
    connection: Option<&lk_jwt::LivekitConnection>,
    routes: Option<&crate::config::Livekit>,
) -> Result<Vec<Object>, RenderError> {
    let mut objects = homeserver::objects(raw, refs)?;
    if raw.lk_jwt.enabled {
        objects.extend(lk_jwt::objects(raw, refs, connection)?);
    }
    objects.push(ingress::object(raw, routes)?);
    Ok(objects)
}

fn values(objects: Vec<Object>) -> Vec<Value> {
    objects.into_iter().map(|object| object.value).collect()
}

/// `repo:tag@digest` (or `repo@digest`, `repo:tag`), as Kustomize's `images:` renders the pin.
fn resolved_image(raw: &RawConfig, name: ImageName) -> Result<String, RenderError> {
    let pin = raw.images.get(name);
    let bare = pin.image_name(raw.global.image_registry.as_deref());
    match (&pin.tag, &pin.digest) {
        (Some(tag), Some(digest)) => Ok(format!("{bare}:{tag}@{digest}")),
        (None, Some(digest)) => Ok(format!("{bare}@{digest}")),
        (Some(tag), None) => Ok(format!("{bare}:{tag}")),
        (None, None) => Err(RenderError::UnpinnedImage { key: name.key() }),
    }
}

/// The pin as one `images:` entry: `newTag: <tag>@<digest>` in one field (the form Renovate
/// updates), `digest:` alone for a digest-only pin, `newTag:` alone for a tag-only pin.
fn image_entry(
    raw: &RawConfig,
    name: ImageName,
    pin: &ImagePin,
) -> Result<kustomize::ImageEntry, RenderError> {
    let entry = |new_tag: Option<String>, digest: Option<String>| kustomize::ImageEntry {
        name: pin.image_name(raw.global.image_registry.as_deref()),
        new_tag,
        digest,
    };
    match (&pin.tag, &pin.digest) {
        (Some(tag), Some(digest)) => Ok(entry(Some(format!("{tag}@{digest}")), None)),
        (None, Some(digest)) => Ok(entry(None, Some(digest.to_string()))),
        (Some(tag), None) => Ok(entry(Some(tag.to_string()), None)),
        (None, None) => Err(RenderError::UnpinnedImage { key: name.key() }),
    }
}

/// Adds what the kustomizations' `namespace:` and `labels:` add to every object.
fn placed(mut object: Value, namespace: &str) -> Value {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert("namespace".to_owned(), Value::from(namespace));
        let labels = metadata
            .entry("labels")
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if let Some(labels) = labels.as_object_mut() {
            labels.insert(PART_OF.0.to_owned(), Value::from(PART_OF.1));
        }
    }
    object
}

/// The ConfigMap a `configMapGenerator` with one file produces.
fn config_map(name: &str, file: &str, content: &str) -> Result<Value, RenderError> {
    use k8s_openapi::api::core::v1::ConfigMap;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    to_json(
        &ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([(file.to_owned(), content.to_owned())])),
            ..ConfigMap::default()
        },
        "generated ConfigMap",
    )
}

/// `<name>-<hash>`, the name Kustomize gives a generated ConfigMap with this one file.
///
/// Kustomize hashes Go's `json.Marshal` of `{"data": ..., "kind": "ConfigMap", "name": ""}`
/// (keys sorted, `<`, `>`, `&` escaped; the name is empty because its lookup of
/// `metadata/name` misses), takes the first 10 hex digits of the SHA-256 and swaps the
/// characters that could spell words (`0 1 3 a e` -> `g h k m t`).
fn hashed_config_map_name(name: &str, file: &str, content: &str) -> String {
    use sha2::Digest as _;
    let mut encoded = String::from("{\"data\":{");
    encoded.push_str(&go_json_string(file));
    encoded.push(':');
    encoded.push_str(&go_json_string(content));
    encoded.push_str("},\"kind\":\"ConfigMap\",\"name\":\"\"}");
    let digest = hex::encode(sha2::Sha256::digest(encoded.as_bytes()));
    let suffix: String = digest
        .chars()
        .take(10)
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            other => other,
        })
        .collect();
    format!("{name}-{suffix}")
}

/// A JSON string literal as Go's `encoding/json` writes it (HTML-safe escapes included).
fn go_json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A typed value as JSON (keys sorted, so files come out in a stable order).
fn to_json<T: Serialize>(value: &T, what: &str) -> Result<Value, RenderError> {
    serde_json::to_value(value).map_err(|error| RenderError::Serialize {
        what: what.to_owned(),
        reason: error.to_string(),
    })
}

/// YAML text with the generated-file header.
fn yaml_text<T: Serialize>(value: &T, what: &str) -> Result<String, RenderError> {
    let body = serde_norway::to_string(value).map_err(|error| RenderError::Serialize {
        what: what.to_owned(),
        reason: error.to_string(),
    })?;
    Ok(format!("{GENERATED_HEADER}{body}"))
}

/// A YAML file with the generated-file header.
fn yaml_file<T: Serialize>(value: &T, what: &str) -> Result<Vec<u8>, RenderError> {
    yaml_text(value, what).map(String::into_bytes)
}

/// Adds every object as its own file under `dir`.
fn add_objects(tree: &mut Tree, dir: &str, objects: &[Object]) -> Result<(), RenderError> {
    for object in objects {
        tree.insert(
            format!("{dir}/{}", object.file),
            yaml_file(&object.value, &object.file)?,
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_map_hash_matches_kustomize_for_html_special_characters() {
        // Computed by kustomize v5.5.0 for a configMapGenerator with this one file.
        assert_eq!(
            hashed_config_map_name("hs-config", "a.toml", "# hi\nx = \"a&b<c>\"\n"),
            "hs-config-t882hk92m9"
        );
        assert_eq!(
            hashed_config_map_name("lk-config", "config.yaml", "port: 1\nturn: {}\n"),
            "lk-config-mtgt5t6797"
        );
    }
}
