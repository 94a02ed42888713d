//! The JSON Schema of `bundle.yaml`, derived from the config types so it cannot describe keys
//! the loader does not know. Committed as `bundle.schema.json` at the repository root, where
//! editors find it through the `# yaml-language-server: $schema=` line of `bundle.yaml` and
//! then complete and check keys while typing.

use schemars::generate::SchemaSettings;

use crate::config::RawConfig;

/// File name of the committed schema, next to `bundle.yaml`.
pub const CONFIG_SCHEMA_FILE: &str = "bundle.schema.json";

/// The JSON Schema (draft-07, the newest draft every YAML editor plugin reads) of
/// `bundle.yaml`: every key with its description and default, unknown keys refused,
/// digests, tags and platforms with their patterns. Guards that span several keys (for
/// example "registration needs a token") are beyond a schema: `bundle validate` checks them.
pub fn config_schema() -> serde_json::Value {
    SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<RawConfig>()
        .to_value()
}

/// [`config_schema`] as the committed file holds it: pretty-printed, ending in a newline.
pub fn config_schema_text() -> String {
    format!("{:#}\n", config_schema())
}
