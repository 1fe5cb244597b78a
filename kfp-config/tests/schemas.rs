//! The JSON Schemas committed under `schemas/` are exactly what the code generates
//! (regenerate with `kfp-gitops schema --out schemas`).

use std::path::Path;

#[test]
fn the_committed_schemas_match_the_code() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas");
    if std::env::var_os("KFP_GITOPS_WRITE_SCHEMAS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for schema in kfp_config::schema::schemas() {
            std::fs::write(dir.join(schema.file_name), &schema.content).unwrap();
        }
    }
    for schema in kfp_config::schema::schemas() {
        let committed = std::fs::read_to_string(dir.join(schema.file_name))
            .unwrap_or_else(|err| panic!("schemas/{}: {err}; run `kfp-gitops schema --out schemas`", schema.file_name));
        assert!(committed == schema.content, "schemas/{} is stale; run `kfp-gitops schema --out schemas`", schema.file_name);
    }
}
