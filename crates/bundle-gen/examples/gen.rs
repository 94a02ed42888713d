//! Renders a `bundle.yaml` and writes the tree: `cargo run -p bundle-gen --example gen --
//! <bundle.yaml> <output dir>`. The `bundle gen` command does the same with more checks;
//! this example is the library's two calls and nothing else.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(config), Some(out)) = (args.next(), args.next()) else {
        eprintln!("usage: gen <bundle.yaml> <output dir>");
        return ExitCode::from(2);
    };
    let result = std::fs::read_to_string(PathBuf::from(&config))
        .map_err(|error| error.to_string())
        .and_then(|text| bundle_gen::Config::from_yaml(&text).map_err(|e| e.to_string()))
        .and_then(|config| bundle_gen::render(&config).map_err(|e| e.to_string()))
        .and_then(|tree| {
            tree.write_to(&PathBuf::from(&out))
                .map_err(|e| e.to_string())
        });
    match result {
        Ok(report) => {
            for path in &report.written {
                println!("wrote {path}");
            }
            for path in &report.removed {
                println!("removed {path}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}
