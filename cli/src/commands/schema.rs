//! `kfp-gitops schema`: the JSON Schemas of `experiments.yaml`, `recurring_runs.yaml` and `kfp-gitops.yaml`,
//! for editors (`# yaml-language-server: $schema=...`) and CI.

use std::path::PathBuf;

use clap::Args;

use crate::failure::{Failure, Status};

/// `kfp-gitops schema`.
#[derive(Debug, Clone, Args)]
pub struct SchemaArgs {
    /// Write one file per schema into DIR (created if needed) instead of printing them
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub fn run(args: &SchemaArgs) -> Result<Status, Failure> {
    let schemas = kfp_config::schemas();
    match &args.out {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|err| Failure::io(&format!("creating {}", dir.display()), &err))?;
            for schema in &schemas {
                let path = dir.join(schema.file_name);
                std::fs::write(&path, &schema.content)
                    .map_err(|err| Failure::io(&format!("writing {}", path.display()), &err))?;
                eprintln!("wrote {}", path.display());
            }
        }
        None => {
            // One JSON document per line-separated block, each preceded by its file name as a comment-free
            // header is not JSON; print a single object keyed by file name instead.
            let all: serde_json::Map<String, serde_json::Value> = schemas
                .iter()
                .filter_map(|schema| {
                    serde_json::from_str(&schema.content)
                        .ok()
                        .map(|value| (schema.file_name.to_owned(), value))
                })
                .collect();
            let text = serde_json::to_string_pretty(&all)
                .map_err(|err| Failure::from_error("cannot print the schemas", &err))?;
            println!("{text}");
        }
    }
    Ok(Status::Ok)
}
