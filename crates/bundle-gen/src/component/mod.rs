//! The components of the stack. Each is one module that says what it deploys (its objects, its
//! config file, its NetworkPolicy), which routes it serves on serverName, which image it runs and
//! where in the Kustomize tree its files live. [`crate::render`] walks [`COMPONENTS`] and names
//! none of them.

mod external_livekit;
mod homeserver;
pub(crate) mod livekit;
mod lk_jwt;
mod turn;
mod valkey;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::config::{RawConfig, Variant};
use crate::emit::RenderError;
use crate::images::ImageName;
use crate::kustomize::{PatchOp, PatchTarget};
use crate::route::Route;

/// Every component, in the order their objects, routes and pins are written.
pub(crate) static COMPONENTS: [&dyn Component; 6] = [
    &homeserver::Homeserver,
    &lk_jwt::LkJwt,
    &livekit::Livekit,
    &turn::Turn,
    &external_livekit::ExternalLivekit,
    &valkey::Valkey,
];

/// Where a component's files live in the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Home {
    /// `base/`, which every overlay deploys.
    Base,
    /// `overlays/components/<dir>`, a Kustomize Component shared by the overlays that enable
    /// the component.
    Component(&'static str),
    /// The directory of each overlay that enables the component.
    Overlay,
}

/// One object of the tree: its file name in its directory and its JSON form.
pub(crate) struct Object {
    pub(crate) file: String,
    pub(crate) value: Value,
    /// Comment lines (each starting with `#`) written under the generated header of its file,
    /// for what a reviewer of the tree must not miss.
    pub(crate) comment: Option<String>,
}

/// A config file that a `configMapGenerator` turns into a ConfigMap of one key.
pub(crate) struct ConfigFile {
    /// The ConfigMap's name before Kustomize adds its hash suffix.
    pub(crate) config_map: &'static str,
    /// The file name, which is also the key in the ConfigMap.
    pub(crate) file: &'static str,
    /// The file's text.
    pub(crate) text: String,
}

/// A JSON patch of another component's object, as a file in the patching component's home.
pub(crate) struct PatchFile {
    pub(crate) file: String,
    pub(crate) target: PatchTarget,
    pub(crate) ops: Vec<PatchOp>,
}

/// What a component's home directory holds for it.
#[derive(Default)]
pub(crate) struct HomeFiles {
    /// Objects, one file each, listed as `resources`.
    pub(crate) objects: Vec<Object>,
    /// A generated config file; [`Generate::Replace`] replaces the ConfigMap of that name that
    /// another component generates.
    pub(crate) config: Option<(ConfigFile, Generate)>,
    /// Patches of objects other components own.
    pub(crate) patches: Vec<PatchFile>,
}

/// Whether a `configMapGenerator` entry creates its ConfigMap or replaces one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Generate {
    /// A new ConfigMap.
    Create,
    /// Replaces the ConfigMap of the same name from a component applied earlier.
    Replace,
}

/// The names Kustomize rewrites between the tree and the cluster: image references (the
/// `images:` transformer) and generated ConfigMap names (hash suffix). The tree holds the bare
/// forms, `render_objects` the final ones, and every component takes them from here.
pub(crate) struct Names {
    images: BTreeMap<ImageName, String>,
    config_maps: BTreeMap<&'static str, String>,
}

impl Names {
    /// `images` for every image and `config_maps` for the ConfigMaps renamed; any other
    /// ConfigMap keeps its name.
    pub(crate) fn new(
        images: BTreeMap<ImageName, String>,
        config_maps: BTreeMap<&'static str, String>,
    ) -> Self {
        Self {
            images,
            config_maps,
        }
    }

    /// How a container refers to `image`.
    pub(crate) fn image(&self, image: ImageName) -> String {
        // Built from `Images`, which holds every image.
        self.images[&image].clone()
    }

    /// The name of the ConfigMap generated as `config_map`.
    pub(crate) fn config_map(&self, config_map: &'static str) -> String {
        self.config_maps
            .get(config_map)
            .cloned()
            .unwrap_or_else(|| config_map.to_owned())
    }
}

/// One part of the stack. The renderer asks each component, for each overlay, whether it is
/// deployed there; for the tree, what its home holds; for the model of a deployed overlay, its
/// complete objects. The two views must agree once Kustomize has applied every patch: the
/// invariant test checks that for every overlay of every fixture.
pub(crate) trait Component: Sync {
    /// Where its files live.
    fn home(&self) -> Home;

    /// The image it runs, pinned in its home's kustomization.
    fn image(&self) -> Option<ImageName> {
        None
    }

    /// Whether `variant` deploys it. A component whose home is [`Home::Base`] must answer the
    /// same for every variant.
    fn enabled(&self, raw: &RawConfig, variant: &Variant) -> bool;

    /// Its config file as deployed in `variant`.
    fn config_file(
        &self,
        _raw: &RawConfig,
        _variant: &Variant,
    ) -> Result<Option<ConfigFile>, RenderError> {
        Ok(None)
    }

    /// Its objects as deployed in `variant`, with every other component's patches applied
    /// (the model side of the invariant). None for a component that only patches others: its
    /// changes show in their objects.
    fn objects(
        &self,
        _raw: &RawConfig,
        _variant: &Variant,
        _names: &Names,
    ) -> Result<Vec<Object>, RenderError> {
        Ok(Vec::new())
    }

    /// The paths it serves on serverName.
    fn routes(&self, _raw: &RawConfig, _variant: &Variant) -> Vec<Route> {
        Vec::new()
    }

    /// What rolling out a new image of it does to the running service, as `variant` deploys
    /// it: for the reviewer of a pin bump, in lines of at most 72 characters. `None` for a
    /// component that runs no image.
    fn rollout_note(&self, _raw: &RawConfig, _variant: &Variant) -> Option<String> {
        None
    }

    /// What its home holds, from the settings of `variant` (any variant that enables it; the
    /// validation made sure all of those agree on what the home holds).
    fn home_files(
        &self,
        raw: &RawConfig,
        variant: &Variant,
        names: &Names,
    ) -> Result<HomeFiles, RenderError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_image_is_run_by_exactly_one_component() {
        for image in ImageName::ALL {
            let runners = COMPONENTS
                .iter()
                .filter(|component| component.image() == Some(image))
                .count();
            assert_eq!(runners, 1, "components running {image}");
        }
    }

    #[test]
    fn no_two_components_share_a_kustomize_component_directory() {
        let mut dirs: Vec<&str> = COMPONENTS
            .iter()
            .filter_map(|component| match component.home() {
                Home::Component(dir) => Some(dir),
                Home::Base | Home::Overlay => None,
            })
            .collect();
        let count = dirs.len();
        dirs.sort_unstable();
        dirs.dedup();
        assert_eq!(dirs.len(), count, "{dirs:?}");
    }
}
