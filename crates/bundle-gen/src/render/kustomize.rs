//! The Kustomize files: `kustomization.yaml` of base, components and overlays, and the JSON
//! patches the components and the `external` overlay apply. No kustomization loads a file
//! from outside its own directory, so the tree builds under Argo CD's and Flux's load
//! restrictors alike.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::{
    Object, PART_OF, Refs, RenderError, add_objects, base_files, homeserver, image_entry, ingress,
    livekit, lk_jwt, yaml_file,
};
use crate::config::{Config, Livekit, OverlayName, RawConfig, Variant};
use crate::images::ImageName;
use crate::tree::Tree;

const LIVEKIT_COMPONENT: &str = "overlays/components/livekit";
const TURN_COMPONENT: &str = "overlays/components/turn";

/// Renders the whole tree for `config`: `base/`, the components that some overlay needs, and
/// one directory per overlay listed in `config.variants`. Deterministic: the same config gives
/// the same bytes.
pub fn render(config: &Config) -> Result<Tree, RenderError> {
    let raw = &config.raw;
    let refs = Refs::bare(raw);
    let mut tree = Tree::default();

    render_base(&mut tree, raw, &refs)?;

    let bundled: Vec<&Variant> = config
        .variants
        .values()
        .filter(|variant| variant.livekit_bundled())
        .collect();
    if let Some(first) = bundled.first() {
        for other in &bundled[1..] {
            check_bundled_agree(&first.livekit, &other.livekit)?;
        }
        render_livekit_component(&mut tree, raw, first, &refs)?;
    }
    if let Some(turn_variant) = config.variants.get(&OverlayName::BundledTurn) {
        render_turn_component(&mut tree, raw, turn_variant)?;
    }

    for variant in config.variants.values() {
        render_overlay(&mut tree, raw, variant)?;
    }
    Ok(tree)
}

fn render_base(tree: &mut Tree, raw: &RawConfig, refs: &Refs) -> Result<(), RenderError> {
    let objects = base_files(raw, refs, None, None)?;
    add_objects(tree, "base", &objects)?;
    tree.insert(
        format!("base/{}", homeserver::CONFIG_FILE),
        homeserver::config_toml(raw).into_bytes(),
    );
    let mut images = vec![image_entry(
        raw,
        ImageName::Homeserver,
        &raw.images.homeserver,
    )?];
    if raw.lk_jwt.enabled {
        images.push(image_entry(raw, ImageName::LkJwt, &raw.images.lk_jwt)?);
    }
    let kustomization = Kustomization {
        namespace: Some(raw.namespace.clone()),
        labels: part_of_labels(),
        resources: resource_files(&objects),
        config_map_generator: vec![ConfigMapGenerator {
            name: homeserver::CONFIG_MAP,
            behavior: None,
            files: vec![homeserver::CONFIG_FILE],
        }],
        images,
        ..Kustomization::new(KustomizationKind::Kustomization)
    };
    tree.insert(
        "base/kustomization.yaml".to_owned(),
        yaml_file(&kustomization, "base/kustomization.yaml")?,
    );
    Ok(())
}

/// The LiveKit component. Kustomize applies a kustomization's `namespace`, `labels` and
/// `images` only to its own resources, so the component repeats the first two and holds the
/// LiveKit pin (each pin is still written exactly once in the tree).
fn render_livekit_component(
    tree: &mut Tree,
    raw: &RawConfig,
    variant: &Variant,
    refs: &Refs,
) -> Result<(), RenderError> {
    let livekit = &variant.livekit;
    let objects = livekit::objects(raw, variant, refs, None)?;
    add_objects(tree, LIVEKIT_COMPONENT, &objects)?;
    tree.insert(
        format!("{LIVEKIT_COMPONENT}/{}", livekit::CONFIG_FILE),
        livekit::config_yaml(raw, livekit, None)?.into_bytes(),
    );

    let mut patches = vec![];
    if raw.lk_jwt.enabled {
        patches.push(lk_jwt_patch(tree, LIVEKIT_COMPONENT, raw, variant)?);
    }
    patches.push(patch_file(
        tree,
        LIVEKIT_COMPONENT,
        &format!("{}-patch.yaml", ingress::NAME),
        ingress::target(),
        &ingress::routes_patch(livekit)?,
    )?);

    let kustomization = Kustomization {
        namespace: Some(raw.namespace.clone()),
        labels: part_of_labels(),
        resources: resource_files(&objects),
        config_map_generator: vec![ConfigMapGenerator {
            name: livekit::CONFIG_MAP,
            behavior: None,
            files: vec![livekit::CONFIG_FILE],
        }],
        patches,
        images: vec![image_entry(raw, ImageName::Livekit, &raw.images.livekit)?],
        ..Kustomization::new(KustomizationKind::Component)
    };
    tree.insert(
        format!("{LIVEKIT_COMPONENT}/kustomization.yaml"),
        yaml_file(&kustomization, "LiveKit component kustomization")?,
    );
    Ok(())
}

/// The TURN component, applied after the LiveKit component. LiveKit's config is strict and
/// read from one file, so the component replaces the whole generated config file with the
/// TURN-enabled one (a fresh hash suffix rolls the pod) instead of merging keys into it.
fn render_turn_component(
    tree: &mut Tree,
    raw: &RawConfig,
    variant: &Variant,
) -> Result<(), RenderError> {
    let livekit = &variant.livekit;
    let turn = &livekit.turn;
    tree.insert(
        format!("{TURN_COMPONENT}/{}", livekit::CONFIG_FILE),
        livekit::config_yaml(raw, livekit, Some(turn))?.into_bytes(),
    );
    let mut patches = vec![];
    for (file, target, ops) in livekit::turn_patches(raw, turn)? {
        patches.push(patch_file(tree, TURN_COMPONENT, &file, target, &ops)?);
    }
    let kustomization = Kustomization {
        config_map_generator: vec![ConfigMapGenerator {
            name: livekit::CONFIG_MAP,
            behavior: Some("replace"),
            files: vec![livekit::CONFIG_FILE],
        }],
        patches,
        ..Kustomization::new(KustomizationKind::Component)
    };
    tree.insert(
        format!("{TURN_COMPONENT}/kustomization.yaml"),
        yaml_file(&kustomization, "TURN component kustomization")?,
    );
    Ok(())
}

fn render_overlay(tree: &mut Tree, raw: &RawConfig, variant: &Variant) -> Result<(), RenderError> {
    let dir = format!("overlays/{}", variant.name.dir_name());
    let mut kustomization = Kustomization {
        resources: vec!["../../base".to_owned()],
        ..Kustomization::new(KustomizationKind::Kustomization)
    };
    match variant.name {
        OverlayName::Bundled => {
            kustomization.components = vec!["../components/livekit"];
        }
        OverlayName::BundledTurn => {
            kustomization.components = vec!["../components/livekit", "../components/turn"];
        }
        OverlayName::External => {
            if raw.lk_jwt.enabled {
                kustomization
                    .patches
                    .push(lk_jwt_patch(tree, &dir, raw, variant)?);
            }
        }
    }
    tree.insert(
        format!("{dir}/kustomization.yaml"),
        yaml_file(&kustomization, &format!("{dir}/kustomization.yaml"))?,
    );
    Ok(())
}

/// `bundled` and `bundled-turn` share the LiveKit component, so everything but TURN must agree.
fn check_bundled_agree(first: &Livekit, other: &Livekit) -> Result<(), RenderError> {
    // Spelt out field by field, so that a new LiveKit setting does not compile until it is
    // either compared here or said to be free to differ.
    let Livekit {
        enabled: _,
        turn: _,
        public_url,
        keys,
        rtc,
        resources,
    } = first;
    let differing = [
        ("publicUrl", *public_url != other.public_url),
        ("keys", *keys != other.keys),
        ("rtc", *rtc != other.rtc),
        ("resources", *resources != other.resources),
    ]
    .into_iter()
    .find(|(_, differs)| *differs);
    match differing {
        Some((key, _)) => Err(RenderError::BundledVariantsDiffer { key }),
        None => Ok(()),
    }
}

/// Writes a JSON patch file into `dir` and returns its `patches:` entry.
fn patch_file(
    tree: &mut Tree,
    dir: &str,
    file: &str,
    target: PatchTarget,
    ops: &[PatchOp],
) -> Result<Patch, RenderError> {
    tree.insert(format!("{dir}/{file}"), yaml_file(&ops, file)?);
    Ok(Patch {
        path: file.to_owned(),
        target,
    })
}

/// Writes the patch that connects the base lk-jwt Deployment to `variant`'s SFU into `dir`.
fn lk_jwt_patch(
    tree: &mut Tree,
    dir: &str,
    raw: &RawConfig,
    variant: &Variant,
) -> Result<Patch, RenderError> {
    let connection = lk_jwt::LivekitConnection::of(raw, variant)?;
    patch_file(
        tree,
        dir,
        &format!("{}-patch.yaml", lk_jwt::NAME),
        lk_jwt::target(),
        &connection.patch()?,
    )
}

fn resource_files(objects: &[Object]) -> Vec<String> {
    let mut files: Vec<String> = objects.iter().map(|object| object.file.clone()).collect();
    files.sort();
    files
}

fn part_of_labels() -> Vec<LabelSet> {
    vec![LabelSet {
        pairs: BTreeMap::from([(PART_OF.0, PART_OF.1)]),
        include_selectors: false,
    }]
}

/// A `kustomization.yaml` (of kind Kustomization or Component), fields in the usual order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Kustomization {
    api_version: &'static str,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    labels: Vec<LabelSet>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    resources: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    components: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    config_map_generator: Vec<ConfigMapGenerator>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    patches: Vec<Patch>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    images: Vec<ImageEntry>,
}

enum KustomizationKind {
    Kustomization,
    Component,
}

impl Kustomization {
    fn new(kind: KustomizationKind) -> Self {
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
struct LabelSet {
    pairs: BTreeMap<&'static str, &'static str>,
    include_selectors: bool,
}

/// A `configMapGenerator:` entry.
#[derive(Serialize)]
struct ConfigMapGenerator {
    name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    behavior: Option<&'static str>,
    files: Vec<&'static str>,
}

/// An `images:` entry.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ImageEntry {
    /// The bare image, as written in the manifests.
    pub name: String,
    /// `<tag>@<digest>` or `<tag>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_tag: Option<String>,
    /// The digest of a digest-only pin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// A `patches:` entry pointing at a JSON patch file in the same directory.
#[derive(Serialize)]
struct Patch {
    path: String,
    target: PatchTarget,
}

/// Which object a patch applies to.
#[derive(Serialize)]
pub(super) struct PatchTarget {
    #[serde(skip_serializing_if = "str::is_empty")]
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    name: &'static str,
}

impl PatchTarget {
    /// The object of this group, version, kind and name (`group` empty for the core group).
    pub(super) fn new(
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
pub(super) struct PatchOp {
    op: &'static str,
    path: String,
    value: Value,
}

impl PatchOp {
    /// Appends `value` to the list at `list` (a JSON pointer).
    pub(super) fn append(list: &str, value: Value) -> Self {
        Self {
            op: "add",
            path: format!("{list}/-"),
            value,
        }
    }
}
