//! Rendering pipelines: runs a render command (usually the KFP v1 compiler) into a temporary folder,
//! compares the result semantically with the committed output and replaces it atomically only when the
//! pipeline really changed; also checks committed renders for staleness and render commands for determinism.
//!
//! What it must never do: leave a half-written output folder behind, print, or exit the process.
