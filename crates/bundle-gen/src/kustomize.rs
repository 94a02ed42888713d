//! The Kustomize file types: `kustomization.yaml` (of kind Kustomization or Component), its
//! generators, image entries and patches, and the JSON patch operations the components apply
//! to each other's objects. Leaf types only; [`crate::render`] decides what goes where.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::images::ImagePin;

/// The label every generated object carries (Kustomize `labels`, selectors untouched). Not
/// `app.kubernetes.io/instance`: Argo CD before 3.x tracks resources by that label.
pub(crate) const PART_OF: (&str, &str) = ("app.kubernetes.io/part-of", "matrix-chat");

/// A `kustomization.yaml` (of kind Kustomization or Component), fields in the usual order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Kustomization {
    pub(crate) api_version: &'static str,
    pub(crate) kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) namespace: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) labels: Vec<LabelSet>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) resources: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) components: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) config_map_generator: Vec<ConfigMapGenerator>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) patches: Vec<Patch>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) images: Vec<ImageEntry>,
}

pub(crate) enum KustomizationKind {
    Kustomization,
    Component,
}

impl Kustomization {
    pub(crate) fn new(kind: KustomizationKind) -> Self {
        let (api_version, kind) = match kind {
            KustomizationKind::Kustomization => {
                ("kustomize.config.k8s.io/v1beta1", "Kustomization")
            }
            KustomizationKind::Component => ("kustomize.config.k8s.io/v1alpha1", "Component"),
        };
        Self {
            api_version,
            kind,
            namespace: None,
            labels: vec![],
            resources: vec![],
            components: vec![],
            config_map_generator: vec![],
            patches: vec![],
            images: vec![],
        }
    }
}

/// A `labels:` entry; selectors stay untouched so label changes never orphan pods.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LabelSet {
    pub(crate) pairs: BTreeMap<&'static str, &'static str>,
    pub(crate) include_selectors: bool,
}

/// A `configMapGenerator:` entry.
#[derive(Serialize)]
pub(crate) struct ConfigMapGenerator {
    pub(crate) name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) behavior: Option<&'static str>,
    pub(crate) files: Vec<&'static str>,
}

/// An `images:` entry.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ImageEntry {
    /// The bare image, as written in the manifests.
    pub(crate) name: String,
    /// `<tag>@<digest>` or `<tag>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) new_tag: Option<String>,
    /// The digest of a digest-only pin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) digest: Option<String>,
}

impl ImageEntry {
    /// The pin as one `images:` entry: `newTag: <tag>@<digest>` in one field (the form Renovate
    /// updates), `digest:` alone for a digest-only pin, `newTag:` alone for a tag-only pin.
    pub(crate) fn for_pin(pin: &ImagePin, global_registry: Option<&str>) -> Self {
        let (new_tag, digest) = match (&pin.tag, &pin.digest) {
            (Some(tag), Some(digest)) => (Some(format!("{tag}@{digest}")), None),
            (None, digest) => (None, digest.as_ref().map(ToString::to_string)),
            (Some(tag), None) => (Some(tag.to_string()), None),
        };
        Self {
            name: pin.image_name(global_registry),
            new_tag,
            digest,
        }
    }
}

/// The `labels:` entry of every kustomization that holds resources: [`PART_OF`] on every
/// object.
pub(crate) fn part_of_labels() -> Vec<LabelSet> {
    vec![LabelSet {
        pairs: BTreeMap::from([(PART_OF.0, PART_OF.1)]),
        include_selectors: false,
    }]
}

/// A `patches:` entry pointing at a JSON patch file in the same directory.
#[derive(Serialize)]
pub(crate) struct Patch {
    pub(crate) path: String,
    pub(crate) target: PatchTarget,
}

/// Which object a patch applies to.
#[derive(Serialize)]
pub(crate) struct PatchTarget {
    #[serde(skip_serializing_if = "str::is_empty")]
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    name: &'static str,
}

impl PatchTarget {
    /// The object of this group, version, kind and name (`group` empty for the core group).
    pub(crate) fn new(
        group: &'static str,
        version: &'static str,
        kind: &'static str,
        name: &'static str,
    ) -> Self {
        Self {
            group,
            version,
            kind,
            name,
        }
    }
}

/// One JSON patch (RFC 6902) operation.
#[derive(Serialize)]
pub(crate) struct PatchOp {
    op: &'static str,
    path: String,
    value: Value,
}

impl PatchOp {
    /// Appends `value` to the list at `list` (a JSON pointer).
    pub(crate) fn append(list: &str, value: Value) -> Self {
        Self {
            op: "add",
            path: format!("{list}/-"),
            value,
        }
    }
}
