//! Planning and applying: turning declared experiments and recurring runs into KFP API calls.
//!
//! `plan` is a pure function of (desired state, observed state, clock, options): plain data in, a plan out,
//! no I/O, so every decision can be tested as a table. `apply` walks a plan through a [`kfp_client`] API in
//! the safe order (create the new version paused, disable the others, enable it, delete old versions).
//!
//! What it must never do: read the clock or the network inside `plan`, print, or exit the process.
