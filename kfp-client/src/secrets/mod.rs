//! The one redaction path of kfp-gitops: everything that leaves the process (messages, logs, JSON output, HTTP
//! endpoints, the command lines and environments of child processes) goes through this module.
//!
//! * [`Secret`] wraps a token or password: `Debug` and `Display` print `<redacted>`, and creating one registers
//!   its value in the process-wide [registry](register) of known secrets.
//! * [`redact_url`] removes the user info (`user:password@`, also when the user name holds `@`) and the values
//!   of credential-like query parameters (`token`, `access_token`, `key`, `password`, `secret`, `sig`,
//!   `signature`, ...) from a URL; [`redact_text`] does that to every URL inside a text, masks bearer and basic
//!   credentials, and masks every value of the registry. [`excerpt`] bounds what a server said.
//! * [`scrub_env`] removes the variables that hold secrets (and any variable whose value holds a known secret)
//!   from the environment of a child process; [`split_url_credentials`] takes the credentials out of a URL so
//!   that they can be handed to `git` another way than its command line.
//!
//! It lives in `kfp-client`, the crate every other crate of the workspace depends on (`kfp-config` and
//! `kfp-render` included), so that the secrets each of them knows (the KFP token, the Dex password, the
//! GitHub token, the credentials of `git_url` sources) end up in one registry, which the binary consults
//! wherever it prints.

mod env;
mod redact;
mod registry;
mod secret;

pub use env::{SECRET_ENV_VARS, scrub_env};
pub use redact::{
    REDACTED, UrlCredentials, excerpt, is_credential_parameter, redact_text, redact_url,
    split_url_credentials,
};
pub use registry::{MIN_SECRET_CHARS, contains_secret, mask, register};
pub use secret::Secret;
