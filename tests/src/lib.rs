//! Workspace-level test support for kfp-gitops.
//!
//! It holds what end-to-end tests, benchmarks and `cargo xtask demo` share: the way to reach the project's
//! Python venv (with the official `kfp==1.8.22` SDK) and, as it grows, the KFP v1 API emulator. The end-to-end
//! tests themselves live in `tests/tests/` and drive the real `kfp-gitops` binary.

pub mod emulator;
pub mod fixtures;
pub mod python;
