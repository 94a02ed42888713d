//! Rendering: a validated [`Config`] becomes the Kustomize tree (`base/`, `overlays/`) as bytes
//! in memory, and, for the invariant test, the objects each overlay deploys. Both walk
//! [`COMPONENTS`]: each component's home gets its files, each overlay lists the components it
//! enables, and the ingress gets every enabled component's routes. Pure functions: no I/O
//! happens here; [`crate::Tree`] writes the result.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::component::{
    COMPONENTS, Component, ConfigFile, Generate, Home, HomeFiles, Names, Object, PatchFile,
};
use crate::config::{Config, OverlayName, RawConfig, Variant};
use crate::emit::{RenderError, commented_yaml_text, to_json, yaml_text};
use crate::images::{ImageName, ImagePin};
use crate::kustomize::{
    ConfigMapGenerator, ImageEntry, Kustomization, KustomizationKind, PART_OF, Patch,
    part_of_labels,
};
use crate::route::{self, Route};
use crate::tree::Tree;

/// Renders the whole tree for `config`: `base/`, the Kustomize components that some overlay
/// enables, and one directory per overlay listed in `config.variants()`. Deterministic: the
/// same config gives the same bytes.
pub fn render(config: &Config) -> Result<Tree, RenderError> {
    let raw = config.raw();
    let names = bare_names(raw);
    let mut tree = Tree::default();
    let mut base = HomeDir::new("base", KustomizationKind::Kustomization);
    let mut base_routes = Vec::new();
    // Base components answer the same for every variant, so any one stands for all.
    let any_variant = config.variants().values().next();

    for component in COMPONENTS {
        match component.home() {
            Home::Base => {
                let Some(variant) = any_variant.filter(|v| component.enabled(raw, v)) else {
                    continue;
                };
                base_routes.extend(component.routes(raw, variant));
                base.add(component, component.home_files(raw, variant, &names)?);
            }
            Home::Component(dir) => {
                let enabling = config
                    .variants()
                    .values()
                    .find(|variant| component.enabled(raw, variant));
                let Some(variant) = enabling else { continue };
                let mut home = HomeDir::new(
                    &format!("overlays/components/{dir}"),
                    KustomizationKind::Component,
                );
                home.add(component, component.home_files(raw, variant, &names)?);
                let routes = component.routes(raw, variant);
                home.add_routes(raw, &routes_name(component.home(), variant), &routes)?;
                home.write(&mut tree, raw)?;
            }
            Home::Overlay => {}
        }
    }
    if raw.gateway.enabled {
        base.add_routes(raw, BASE_ROUTES, &base_routes)?;
    } else {
        base.objects.push(Object {
            file: format!("{}.yaml", route::INGRESS),
            value: to_json(&route::ingress(raw, &base_routes), "Ingress")?,
            comment: None,
        });
    }
    base.write(&mut tree, raw)?;

    for variant in config.variants().values() {
        render_overlay(&mut tree, raw, variant, &names)?;
    }
    Ok(tree)
}

/// An overlay: `base/`, the Kustomize components of the components it enables (in table order,
/// so TURN's applies after LiveKit's), and the files of the components that live in it.
fn render_overlay(
    tree: &mut Tree,
    raw: &RawConfig,
    variant: &Variant,
    names: &Names,
) -> Result<(), RenderError> {
    let mut overlay = HomeDir::new(
        &format!("overlays/{}", variant.name().dir_name()),
        KustomizationKind::Kustomization,
    );
    overlay.resources.push("../../base".to_owned());
    for component in COMPONENTS {
        if !component.enabled(raw, variant) {
            continue;
        }
        match component.home() {
            Home::Base => {}
            Home::Component(dir) => overlay.components.push(format!("../components/{dir}")),
            Home::Overlay => {
                overlay.add(component, component.home_files(raw, variant, names)?);
                let routes = component.routes(raw, variant);
                overlay.add_routes(raw, &routes_name(Home::Overlay, variant), &routes)?;
            }
        }
    }
    overlay.write(tree, raw)
}

/// The objects `kubectl kustomize overlays/<overlay>` yields for this config, computed directly
/// from the model: final names (ConfigMaps with Kustomize's hash suffix), namespace, labels and
/// images resolved to `repo:tag@digest`. The invariant test compares the two.
pub fn render_objects(config: &Config, overlay: OverlayName) -> Result<Vec<Value>, RenderError> {
    let variant = config
        .variants()
        .get(&overlay)
        .ok_or(RenderError::OverlayNotConfigured {
            overlay: overlay.dir_name(),
        })?;
    let raw = config.raw();
    let enabled: Vec<&dyn Component> = COMPONENTS
        .iter()
        .copied()
        .filter(|component| component.enabled(raw, variant))
        .collect();

    let mut config_files = Vec::new();
    for component in &enabled {
        config_files.extend(component.config_file(raw, variant)?);
    }
    let names = deployed_names(raw, &config_files);

    let mut objects = Vec::new();
    let mut routes: Vec<Route> = Vec::new();
    // The same routes by the HTTPRoute that carries them under Gateway API.
    let mut routes_by_name: BTreeMap<String, Vec<Route>> = BTreeMap::new();
    for component in &enabled {
        objects.extend(
            component
                .objects(raw, variant, &names)?
                .into_iter()
                .map(|object| object.value),
        );
        let component_routes = component.routes(raw, variant);
        routes.extend(component_routes.iter().cloned());
        routes_by_name
            .entry(routes_name(component.home(), variant))
            .or_default()
            .extend(component_routes);
    }
    if raw.gateway.enabled {
        for (name, routes) in routes_by_name
            .iter()
            .filter(|(_, routes)| !routes.is_empty())
        {
            objects.push(to_json(&route::http_route(raw, name, routes), "HTTPRoute")?);
        }
    } else {
        objects.push(to_json(&route::ingress(raw, &routes), "Ingress")?);
    }
    for file in &config_files {
        objects.push(config_map(&names.config_map(file.config_map), file)?);
    }
    Ok(objects
        .into_iter()
        .map(|object| placed(object, &raw.namespace))
        .collect())
}

/// The HTTPRoute of `base/`, with Gateway API.
const BASE_ROUTES: &str = "matrix";

/// The name of the HTTPRoute holding the routes of the components that live in `home`, with
/// Gateway API: `matrix` in `base/`, `matrix-<dir>` in a Kustomize component or an overlay's
/// directory. One per directory, so that each kustomization carries its own routes and an
/// overlay deploys exactly those of the directories it includes.
fn routes_name(home: Home, variant: &Variant) -> String {
    match home {
        Home::Base => BASE_ROUTES.to_owned(),
        Home::Component(dir) => format!("matrix-{dir}"),
        Home::Overlay => format!("matrix-{}", variant.name().dir_name()),
    }
}

/// The names as the tree writes them: bare images (the `images:` entries add the pins) and
/// ConfigMap names without a hash.
fn bare_names(raw: &RawConfig) -> Names {
    let global = raw.global.image_registry.as_deref();
    Names::new(
        raw.images
            .iter()
            .map(|(image, pin)| (image, pin.image_name(global)))
            .collect(),
        BTreeMap::new(),
    )
}

/// The names as Kustomize leaves them: images with their pins, and each generated ConfigMap
/// with its hash suffix.
fn deployed_names(raw: &RawConfig, config_files: &[ConfigFile]) -> Names {
    let global = raw.global.image_registry.as_deref();
    Names::new(
        raw.images
            .iter()
            .map(|(image, pin)| (image, resolved_image(pin, global)))
            .collect(),
        config_files
            .iter()
            .map(|file| {
                let name = hashed_config_map_name(file.config_map, file.file, &file.text);
                (file.config_map, name)
            })
            .collect(),
    )
}

/// `repo:tag@digest` (or `repo@digest`, `repo:tag`), as Kustomize's `images:` renders the pin.
fn resolved_image(pin: &ImagePin, global_registry: Option<&str>) -> String {
    let bare = pin.image_name(global_registry);
    match (&pin.tag, &pin.digest) {
        (Some(tag), Some(digest)) => format!("{bare}:{tag}@{digest}"),
        (None, Some(digest)) => format!("{bare}@{digest}"),
        (Some(tag), None) => format!("{bare}:{tag}"),
        // Refused by the guards; Kustomize would leave the image bare.
        (None, None) => bare,
    }
}

/// One directory of the tree and its `kustomization.yaml`, filled from the components that live
/// there.
struct HomeDir {
    dir: String,
    kind: KustomizationKind,
    objects: Vec<Object>,
    resources: Vec<String>,
    components: Vec<String>,
    generators: Vec<(ConfigFile, Generate)>,
    patches: Vec<PatchFile>,
    images: Vec<ImageName>,
}

impl HomeDir {
    fn new(dir: &str, kind: KustomizationKind) -> Self {
        Self {
            dir: dir.to_owned(),
            kind,
            objects: Vec::new(),
            resources: Vec::new(),
            components: Vec::new(),
            generators: Vec::new(),
            patches: Vec::new(),
            images: Vec::new(),
        }
    }

    fn add(&mut self, component: &dyn Component, files: HomeFiles) {
        self.objects.extend(files.objects);
        self.generators.extend(files.config);
        self.patches.extend(files.patches);
        self.images.extend(component.image());
    }

    /// Routes of the components of this directory. With Gateway API, the HTTPRoute `name`
    /// holding them; else, outside `base/`, a patch appending them to the base Ingress.
    fn add_routes(
        &mut self,
        raw: &RawConfig,
        name: &str,
        routes: &[Route],
    ) -> Result<(), RenderError> {
        if routes.is_empty() {
            return Ok(());
        }
        if raw.gateway.enabled {
            self.objects.push(Object {
                file: format!("{name}-httproute.yaml"),
                value: to_json(&route::http_route(raw, name, routes), "HTTPRoute")?,
                comment: None,
            });
        } else {
            self.patches.push(PatchFile {
                file: format!("{}-patch.yaml", route::INGRESS),
                target: route::ingress_target(),
                ops: route::routes_patch(routes)?,
            });
        }
        Ok(())
    }

    /// Writes every file and the kustomization. Kustomize applies a kustomization's
    /// `namespace`, `labels` and `images` only to its own resources, so every kustomization
    /// that holds objects repeats the first two and holds the pins of the images its objects
    /// run (each pin is still written exactly once in the tree).
    fn write(self, tree: &mut Tree, raw: &RawConfig) -> Result<(), RenderError> {
        let dir = &self.dir;
        let mut resources = self.resources;
        for object in &self.objects {
            let text = match &object.comment {
                Some(comment) => commented_yaml_text(&object.value, &object.file, comment)?,
                None => yaml_text(&object.value, &object.file)?,
            };
            tree.insert(format!("{dir}/{}", object.file), text.into_bytes());
            resources.push(object.file.clone());
        }
        if !self.objects.is_empty() {
            resources.sort();
        }
        let mut config_map_generator = Vec::new();
        for (file, generate) in &self.generators {
            tree.insert(
                format!("{dir}/{}", file.file),
                file.text.clone().into_bytes(),
            );
            config_map_generator.push(ConfigMapGenerator {
                name: file.config_map,
                behavior: match generate {
                    Generate::Create => None,
                    Generate::Replace => Some("replace"),
                },
                files: vec![file.file],
            });
        }
        let mut patches = Vec::new();
        for patch in self.patches {
            tree.insert(
                format!("{dir}/{}", patch.file),
                yaml_text(&patch.ops, &patch.file)?.into_bytes(),
            );
            patches.push(Patch {
                path: patch.file,
                target: patch.target,
            });
        }
        let global = raw.global.image_registry.as_deref();
        let holds_objects = !self.objects.is_empty();
        let kustomization = Kustomization {
            namespace: holds_objects.then(|| raw.namespace.clone()),
            labels: if holds_objects {
                part_of_labels()
            } else {
                Vec::new()
            },
            resources,
            components: self.components,
            config_map_generator,
            patches,
            images: self
                .images
                .into_iter()
                .map(|image| ImageEntry::for_pin(raw.images.get(image), global))
                .collect(),
            ..Kustomization::new(self.kind)
        };
        let path = format!("{dir}/kustomization.yaml");
        let text = yaml_text(&kustomization, &path)?;
        tree.insert(path, text.into_bytes());
        Ok(())
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
fn config_map(name: &str, file: &ConfigFile) -> Result<Value, RenderError> {
    use k8s_openapi::api::core::v1::ConfigMap;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    to_json(
        &ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([(file.file.to_owned(), file.text.clone())])),
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
