//! The redacting secret type, shared with the rest of kfp-gitops through `kfp-secrets` so that every secret
//! the process knows lands in one registry of values masked wherever text is printed.

pub use kfp_secrets::Secret;
