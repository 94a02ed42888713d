//! Image pins: where each component's image comes from, which `tag@digest` is deployed, and
//! how the pin updater may move it. These types are shared by the generator (which copies each
//! pin into the kustomization of the component that runs the image) and by `pin-refresh`
//! (which finds newer pins).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The registry used when neither the image nor `global.imageRegistry` names one.
pub const DEFAULT_REGISTRY: &str = "docker.io";

/// A content digest as written in pins: `sha256:` followed by 64 lowercase hex digits.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
#[schemars(extend("pattern" = "^sha256:[0-9a-f]{64}$"))]
pub struct Digest(String);

/// Why a string is not a valid [`Digest`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{value}` is not a digest: write `sha256:` followed by 64 lowercase hex digits \
     (as printed by `skopeo inspect` or `bundle pins status`)"
)]
pub struct InvalidDigest {
    /// The rejected text.
    pub value: String,
}

impl Digest {
    /// The digest of `bytes` (SHA-256), as a registry computes it for a manifest or blob.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        use sha2::Digest as _;
        Self(format!(
            "sha256:{}",
            hex::encode(sha2::Sha256::digest(bytes))
        ))
    }

    /// The full `sha256:<hex>` text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The hex part without the algorithm prefix.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }
}

impl FromStr for Digest {
    type Err = InvalidDigest;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let valid = value.strip_prefix("sha256:").is_some_and(|hex| {
            hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if valid {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidDigest {
                value: value.to_owned(),
            })
        }
    }
}

impl TryFrom<String> for Digest {
    type Error = InvalidDigest;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Digest> for String {
    fn from(digest: Digest) -> Self {
        digest.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An image tag, valid under the OCI distribution grammar `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
#[schemars(extend("pattern" = "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"))]
pub struct Tag(String);

/// Why a string is not a valid [`Tag`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{value}` is not an image tag: a tag is 1 to 128 characters of letters, digits, `_`, `.` \
     and `-`, and does not start with `.` or `-`"
)]
pub struct InvalidTag {
    /// The rejected text (shortened if very long, so error messages stay readable).
    pub value: String,
}

impl Tag {
    /// The tag text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Tag {
    type Err = InvalidTag;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let mut bytes = value.bytes();
        let valid = value.len() <= 128
            && bytes
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
            && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if valid {
            Ok(Self(value.to_owned()))
        } else {
            let shown: String = value.escape_debug().take(80).collect();
            Err(InvalidTag { value: shown })
        }
    }
}

impl TryFrom<String> for Tag {
    type Error = InvalidTag;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Tag> for String {
    fn from(tag: Tag) -> Self {
        tag.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The image pins, keyed as in `bundle.yaml` under `images:`: one pin for each of
/// [`ImageName::ALL`], except that an optional image (one of an optional component, such as
/// Valkey) may have none. Built only by deserializing, which refuses an unknown key or a
/// missing required one, so [`Images::get`] always finds the pin of a required image; the
/// guards refuse an enabled optional component whose image has no pin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Images(BTreeMap<ImageName, ImagePin>);

impl Images {
    /// The pins of the images; refused if a required one of [`ImageName::ALL`] has none.
    pub fn new(
        pins: impl IntoIterator<Item = (ImageName, ImagePin)>,
    ) -> Result<Self, MissingImage> {
        let pins: BTreeMap<ImageName, ImagePin> = pins.into_iter().collect();
        match ImageName::ALL
            .into_iter()
            .find(|name| !name.optional() && !pins.contains_key(name))
        {
            Some(image) => Err(MissingImage { image }),
            None => Ok(Self(pins)),
        }
    }

    /// Every pinned image with its pin, in `bundle.yaml` key order.
    pub fn iter(&self) -> impl Iterator<Item = (ImageName, &ImagePin)> {
        self.0.iter().map(|(name, pin)| (*name, pin))
    }

    /// The pin of one image: a required one, or an optional one the guards made sure is
    /// pinned (its component is enabled) or that [`Images::iter`] yielded.
    pub fn get(&self, name: ImageName) -> &ImagePin {
        // Deserializing requires every required name, and no method removes one.
        &self.0[&name]
    }

    /// The pin of `name`, if it has one (an optional image may not).
    pub fn pin(&self, name: ImageName) -> Option<&ImagePin> {
        self.0.get(&name)
    }

    /// The pin of one image, to change it (see [`Images::get`]).
    pub fn get_mut(&mut self, name: ImageName) -> &mut ImagePin {
        self.0
            .get_mut(&name)
            .unwrap_or_else(|| unreachable!("images hold a pin for {name}"))
    }
}

impl Serialize for Images {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(name, pin)| (name.key(), pin)))
    }
}

impl<'de> Deserialize<'de> for Images {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ImagesVisitor)
    }
}

struct ImagesVisitor;

impl<'de> serde::de::Visitor<'de> for ImagesVisitor {
    type Value = Images;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping from image name to its pin")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Images, A::Error> {
        use serde::de::Error as _;
        let mut pins = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            let Ok(name) = key.parse::<ImageName>() else {
                return Err(A::Error::unknown_field(&key, image_keys()));
            };
            let pin = map.next_value::<ImagePin>()?;
            if pins.insert(name, pin).is_some() {
                return Err(A::Error::duplicate_field(name.key()));
            }
        }
        Images::new(pins).map_err(|missing| A::Error::missing_field(missing.image.key()))
    }
}

/// The keys allowed under `images:`, for serde's "expected one of" list.
fn image_keys() -> &'static [&'static str] {
    static KEYS: std::sync::LazyLock<Vec<&'static str>> =
        std::sync::LazyLock::new(|| ImageName::ALL.into_iter().map(ImageName::key).collect());
    &KEYS
}

/// Written by hand because the map is keyed by [`ImageName`]: one property per image, required
/// unless the image is optional, nothing else allowed, as a struct with a field per image would
/// derive.
impl JsonSchema for Images {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Images".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let pin = generator.subschema_for::<ImagePin>();
        let properties: serde_json::Map<String, serde_json::Value> = ImageName::ALL
            .into_iter()
            .map(|name| {
                let property = schemars::json_schema!({
                    "allOf": [pin],
                    "description": name.description(),
                });
                (name.key().to_owned(), property.to_value())
            })
            .collect();
        schemars::json_schema!({
            "description": "The image of each component, keyed as in `bundle.yaml` under `images:`.",
            "type": "object",
            "properties": properties,
            "required": ImageName::ALL
                .into_iter()
                .filter(|name| !name.optional())
                .map(ImageName::key)
                .collect::<Vec<_>>(),
            "additionalProperties": false,
        })
    }
}

/// One image of the stack: its key under `images:` in `bundle.yaml`, and the upstream project it
/// comes from. The component that runs an image names it (`crate::component`); [`ImageName::ALL`]
/// lists them all. A pointer to its description, so errors that name an image stay small.
#[derive(Clone, Copy)]
pub struct ImageName(&'static ImageSpec);

struct ImageSpec {
    key: &'static str,
    upstream: &'static str,
    description: &'static str,
    /// Whether `images:` may leave it out: the image of a component that is off by default.
    optional: bool,
}

impl ImageName {
    /// `images.homeserver`: Tuwunel.
    pub const HOMESERVER: ImageName = ImageName(&ImageSpec {
        key: "homeserver",
        upstream: "tuwunel",
        description: "Tuwunel, the homeserver.",
        optional: false,
    });
    /// `images.livekit`: livekit-server.
    pub const LIVEKIT: ImageName = ImageName(&ImageSpec {
        key: "livekit",
        upstream: "livekit",
        description: "livekit-server, the SFU (used only when LiveKit is bundled).",
        optional: false,
    });
    /// `images.lkJwt`: lk-jwt-service.
    pub const LK_JWT: ImageName = ImageName(&ImageSpec {
        key: "lkJwt",
        upstream: "lk-jwt-service",
        description: "lk-jwt-service, which turns Matrix OpenID tokens into LiveKit tokens.",
        optional: false,
    });
    /// `images.valkey`: Valkey, the bundled Redis (`livekit.redis.bundled`).
    pub const VALKEY: ImageName = ImageName(&ImageSpec {
        key: "valkey",
        upstream: "valkey",
        description: "Valkey, the bundled Redis; required only with `livekit.redis.bundled`.",
        optional: true,
    });

    /// Every image, in `bundle.yaml` key order (the order [`Images::iter`] yields).
    pub const ALL: [ImageName; 4] = [
        ImageName::HOMESERVER,
        ImageName::LIVEKIT,
        ImageName::LK_JWT,
        ImageName::VALKEY,
    ];

    /// The key under `images:` in `bundle.yaml`.
    pub fn key(self) -> &'static str {
        self.0.key
    }

    /// The upstream component's name, as used in commit subjects.
    pub fn component(self) -> &'static str {
        self.0.upstream
    }

    fn description(self) -> &'static str {
        self.0.description
    }

    /// Whether `images:` may leave it out.
    pub fn optional(self) -> bool {
        self.0.optional
    }
}

/// Why pins do not make up a complete `images:`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("images.{image} has no pin: every image of the stack must be pinned")]
pub struct MissingImage {
    /// The image without a pin.
    pub image: ImageName,
}

/// Why a string names no image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not an image: expected one of {}", image_keys().join(", "))]
pub struct UnknownImage {
    /// The rejected name.
    pub value: String,
}

impl FromStr for ImageName {
    type Err = UnknownImage;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        ImageName::ALL
            .into_iter()
            .find(|name| name.key() == value)
            .ok_or_else(|| UnknownImage {
                value: value.to_owned(),
            })
    }
}

// Identity is the key: two names are the same image when their keys are.
impl PartialEq for ImageName {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for ImageName {}

impl std::hash::Hash for ImageName {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl PartialOrd for ImageName {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ImageName {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(other.key())
    }
}

impl fmt::Debug for ImageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ImageName({})", self.key())
    }
}

impl fmt::Display for ImageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// One image: where it lives, what is pinned, and how it may be updated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImagePin {
    /// Registry host, e.g. `ghcr.io`. Falls back to `global.imageRegistry`, then `docker.io`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// Repository path in the registry, e.g. `matrix-construct/tuwunel`.
    pub repository: String,
    /// The pinned tag (a human-readable name for the digest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<Tag>,
    /// The pinned digest of the (multi-arch) index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    /// How `bundle pins` finds a newer pin.
    pub policy: UpdatePolicy,
}

impl ImagePin {
    /// The registry host this image is pulled from, applying the chart's fallback rule: the
    /// image's own registry, else `global_registry`, else `docker.io`.
    pub fn registry_host<'a>(&'a self, global_registry: Option<&'a str>) -> &'a str {
        self.registry
            .as_deref()
            .or(global_registry)
            .unwrap_or(DEFAULT_REGISTRY)
    }

    /// The bare image name used in manifests, `<registry>/<repository>`.
    pub fn image_name(&self, global_registry: Option<&str>) -> String {
        format!(
            "{}/{}",
            self.registry_host(global_registry),
            self.repository
        )
    }
}

/// How `bundle pins` chooses the newest acceptable pin for an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum UpdatePolicy {
    /// Newest bare `vX.Y.Z` / `vX.Y.Z.W` tag whose manifest is an index holding every listed
    /// platform (Tuwunel).
    BareMultiarch(BareMultiarchPolicy),
    /// Newest semantic-version tag, optionally within a range (LiveKit, lk-jwt releases).
    Semver(SemverPolicy),
    /// Newest main-branch `sha-<7 hex>` build (lk-jwt).
    Commit(CommitPolicy),
    /// Never updated by `bundle pins`; the operator moves the pin by hand.
    Manual(ManualPolicy),
}

/// Settings of [`UpdatePolicy::BareMultiarch`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BareMultiarchPolicy {
    /// Platforms the index must hold, as `os/architecture[/variant]`.
    #[serde(default = "default_platforms")]
    pub platforms: Vec<Platform>,
    /// How long a new pin must have been published before it is proposed, e.g. `3d`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_age: Option<MinAge>,
}

impl Default for BareMultiarchPolicy {
    fn default() -> Self {
        Self {
            platforms: default_platforms(),
            min_age: None,
        }
    }
}

fn default_platforms() -> Vec<Platform> {
    vec![
        Platform::new("linux", "amd64", None),
        Platform::new("linux", "arm64", None),
    ]
}

/// Settings of [`UpdatePolicy::Semver`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SemverPolicy {
    /// Only versions matching this requirement are chosen, e.g. `^1` to stay on 1.x.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub range: Option<semver::VersionReq>,
    /// Whether pre-releases (`-rc1`) may be chosen.
    #[serde(default)]
    pub allow_prerelease: bool,
    /// Text before the version in each tag: `v` for LiveKit (`v1.13.7`), empty for lk-jwt
    /// (`0.7.0`).
    #[serde(default = "default_tag_prefix")]
    pub tag_prefix: String,
    /// How long a new pin must have been published before it is proposed, e.g. `3d`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_age: Option<MinAge>,
}

fn default_tag_prefix() -> String {
    "v".to_owned()
}

/// Settings of [`UpdatePolicy::Commit`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CommitPolicy {
    /// How long a new main build must have been published before it is proposed, e.g. `3d`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_age: Option<MinAge>,
}

/// Settings of [`UpdatePolicy::Manual`] (none; the struct keeps unknown keys an error).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManualPolicy {}

impl UpdatePolicy {
    /// `policy.minAge`: how long a new pin must have been published before it is proposed;
    /// `None` when unset (and always for `manual`, which proposes nothing).
    pub fn min_age(&self) -> Option<MinAge> {
        match self {
            UpdatePolicy::BareMultiarch(policy) => policy.min_age,
            UpdatePolicy::Semver(policy) => policy.min_age,
            UpdatePolicy::Commit(policy) => policy.min_age,
            UpdatePolicy::Manual(_) => None,
        }
    }
}

/// `policy.minAge`: a cooling-off period, written as a whole number and a unit: `90m`, `12h`,
/// `3d`, `2w`. Bad releases are usually replaced within days, so a pin waits that long.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
#[schemars(extend("pattern" = "^[1-9][0-9]*[mhdw]$"))]
pub struct MinAge {
    count: u32,
    unit: AgeUnit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum AgeUnit {
    Minutes,
    Hours,
    Days,
    Weeks,
}

impl AgeUnit {
    fn seconds(self) -> u64 {
        match self {
            AgeUnit::Minutes => 60,
            AgeUnit::Hours => 60 * 60,
            AgeUnit::Days => 24 * 60 * 60,
            AgeUnit::Weeks => 7 * 24 * 60 * 60,
        }
    }

    fn letter(self) -> char {
        match self {
            AgeUnit::Minutes => 'm',
            AgeUnit::Hours => 'h',
            AgeUnit::Days => 'd',
            AgeUnit::Weeks => 'w',
        }
    }
}

impl MinAge {
    /// The period in seconds.
    pub fn as_secs(self) -> u64 {
        u64::from(self.count) * self.unit.seconds()
    }
}

/// Why a string is not a valid [`MinAge`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{value}` is not a duration: write a whole number above 0 without a leading zero and a \
     unit, m (minutes), h (hours), d (days) or w (weeks), e.g. `3d`"
)]
pub struct InvalidMinAge {
    /// The rejected text.
    pub value: String,
}

impl FromStr for MinAge {
    type Err = InvalidMinAge;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidMinAge {
            value: value.to_owned(),
        };
        let split = value.len().checked_sub(1).ok_or_else(invalid)?;
        let (digits, letter) = value.split_at_checked(split).ok_or_else(invalid)?;
        let unit = match letter {
            "m" => AgeUnit::Minutes,
            "h" => AgeUnit::Hours,
            "d" => AgeUnit::Days,
            "w" => AgeUnit::Weeks,
            _ => return Err(invalid()),
        };
        // As the schema's pattern: the first digit is 1 to 9, so neither `0d` nor `03d`.
        let well_formed = digits
            .bytes()
            .next()
            .is_some_and(|b| (b'1'..=b'9').contains(&b))
            && digits.bytes().all(|b| b.is_ascii_digit());
        if !well_formed {
            return Err(invalid());
        }
        let count: u32 = digits.parse().map_err(|_| invalid())?;
        Ok(Self { count, unit })
    }
}

impl TryFrom<String> for MinAge {
    type Error = InvalidMinAge;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<MinAge> for String {
    fn from(age: MinAge) -> Self {
        age.to_string()
    }
}

impl fmt::Display for MinAge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.count, self.unit.letter())
    }
}

/// An OCI platform, written `os/architecture[/variant]` (e.g. `linux/arm64`).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
#[schemars(extend("pattern" = "^[A-Za-z0-9]+/[A-Za-z0-9]+(/[A-Za-z0-9]+)?$"))]
pub struct Platform {
    /// Operating system, e.g. `linux`.
    pub os: String,
    /// CPU architecture, e.g. `amd64`.
    pub architecture: String,
    /// Optional variant, e.g. `v8`.
    pub variant: Option<String>,
}

impl Platform {
    /// A platform from its parts.
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Self {
        Self {
            os: os.to_owned(),
            architecture: architecture.to_owned(),
            variant: variant.map(str::to_owned),
        }
    }
}

/// Why a string is not a valid [`Platform`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{value}` is not a platform: write `os/architecture` or `os/architecture/variant`, e.g. `linux/arm64`"
)]
pub struct InvalidPlatform {
    /// The rejected text.
    pub value: String,
}

impl FromStr for Platform {
    type Err = InvalidPlatform;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = value.split('/').collect();
        let well_formed = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric());
        match parts.as_slice() {
            [os, arch] if well_formed(os) && well_formed(arch) => Ok(Self::new(os, arch, None)),
            [os, arch, variant] if [os, arch, variant].iter().all(|s| well_formed(s)) => {
                Ok(Self::new(os, arch, Some(variant)))
            }
            _ => Err(InvalidPlatform {
                value: value.to_owned(),
            }),
        }
    }
}

impl TryFrom<String> for Platform {
    type Error = InvalidPlatform;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Platform> for String {
    fn from(platform: Platform) -> Self {
        platform.to_string()
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

/// Where `bundle pins` sends requests for one registry host (a mirror, or a local registry in
/// tests), from `registries:` in `bundle.yaml` or `--registry-endpoint HOST=URL`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegistryEndpoint {
    /// Base URL, e.g. `https://mirror.example.net` or `http://127.0.0.1:5000`.
    pub endpoint: String,
    /// Allows a plain `http://` endpoint. Credentials are never sent over plain http to an
    /// endpoint that is not marked insecure.
    #[serde(default)]
    pub insecure: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_images_are_listed_in_key_order_as_iteration_yields_them() {
        let mut sorted = ImageName::ALL;
        sorted.sort();
        assert_eq!(sorted, ImageName::ALL);
    }

    #[test]
    fn an_image_name_parses_from_its_key_only() {
        for name in ImageName::ALL {
            assert_eq!(name.key().parse::<ImageName>(), Ok(name));
        }
        assert!("lk_jwt".parse::<ImageName>().is_err());
    }

    #[test]
    fn digest_accepts_sha256_with_64_lowercase_hex() {
        let text = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(text.parse::<Digest>().map(|d| d.to_string()), Ok(text));
    }

    #[test]
    fn digest_rejects_uppercase_short_and_other_algorithms() {
        for bad in [
            format!("sha256:{}", "AB".repeat(32)),
            format!("sha256:{}", "ab".repeat(31)),
            format!("sha512:{}", "ab".repeat(32)),
            "ab".repeat(32),
        ] {
            assert!(bad.parse::<Digest>().is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn digest_of_bytes_is_sha256_of_the_bytes() {
        assert_eq!(
            Digest::of_bytes(b"").as_str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn tag_follows_the_distribution_grammar() {
        for good in [
            "v1.9.3",
            "sha-1234567",
            "latest-ci_1760000000",
            "_x",
            &"a".repeat(128),
        ] {
            assert!(good.parse::<Tag>().is_ok(), "{good} was rejected");
        }
        for bad in ["", ".v1", "-v1", "a/b", "a\nb", "a:b", &"a".repeat(129)] {
            assert!(bad.parse::<Tag>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn platform_round_trips_with_and_without_variant() {
        for text in ["linux/amd64", "linux/arm64/v8"] {
            assert_eq!(
                text.parse::<Platform>().map(|p| p.to_string()),
                Ok(text.to_owned())
            );
        }
        assert!("linux".parse::<Platform>().is_err());
        assert!("unknown/unknown/x/y".parse::<Platform>().is_err());
    }

    #[test]
    fn image_registry_falls_back_to_global_then_docker_io() {
        let mut pin = ImagePin {
            registry: None,
            repository: "livekit/livekit-server".to_owned(),
            tag: None,
            digest: None,
            policy: UpdatePolicy::Manual(ManualPolicy {}),
        };
        assert_eq!(pin.image_name(None), "docker.io/livekit/livekit-server");
        assert_eq!(
            pin.image_name(Some("mirror.example")),
            "mirror.example/livekit/livekit-server"
        );
        pin.registry = Some("docker.io".to_owned());
        assert_eq!(
            pin.image_name(Some("mirror.example")),
            "docker.io/livekit/livekit-server"
        );
    }
}
