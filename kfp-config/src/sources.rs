//! Pipeline and parameter sources: GitHub (REST API), any git remote (the `git` CLI) and local files,
//! with a cache keyed by immutable commit SHAs.
//!
//! Each distinct (repository, reference) is resolved to a SHA once per [`Fetcher`] and each distinct file is
//! fetched once, concurrently with a bound, however many namespaces share the fetcher (see
//! [`SharedFetchers`]). A file cached under its SHA needs no network.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

mod cache;
mod concurrency;
mod git;
mod github;
mod local;
#[cfg(test)]
mod tests;

use cache::{short_hash, write_atomically};
pub(crate) use concurrency::parallel_map;
use concurrency::{Memo, Permits, THREAD_REQUESTS, counted, permanent};
pub use local::resolve_local;

use sha2::{Digest as _, Sha256};

/// The tip for a path that is not a regular file.
pub(crate) const NOT_REGULAR_TIP: &str = "kfp-gitops reads only regular files (a FIFO would block it, and a \
     socket or device has no content git could review); point the path at a regular file";

/// The public GitHub API.
pub const DEFAULT_GITHUB_API_URL: &str = "https://api.github.com";

/// A secret string (a token): never shown by `Debug` or `Display`, and masked in printed text once created
/// (the one secret type of kfp-gitops, see `kfp_client::secrets`).
pub use kfp_client::secrets::Secret;

/// How sources are fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceOptions {
    /// The GitHub REST API base (GitHub Enterprise: `https://HOST/api/v3`).
    pub github_api_url: String,
    /// A GitHub token (`GITHUB_TOKEN`) for private repositories and higher rate limits.
    pub github_token: Option<Secret>,
    /// The cache folder.
    pub cache_dir: PathBuf,
    /// Use no network and no `git fetch`: only cached files and commit SHAs.
    pub offline: bool,
    /// How many fetches run at once.
    pub concurrency: usize,
    /// Whether HTTP requests honour `HTTPS_PROXY`/`ALL_PROXY` (tests against a local server turn it off).
    pub use_env_proxy: bool,
    /// The timeout of one HTTP request.
    pub timeout: Duration,
}

impl SourceOptions {
    /// Options with the given cache folder and everything else at its default.
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        Self {
            github_api_url: DEFAULT_GITHUB_API_URL.to_owned(),
            github_token: None,
            cache_dir: cache_dir.into(),
            offline: false,
            concurrency: 8,
            use_env_proxy: true,
            timeout: Duration::from_secs(60),
        }
    }
}

/// A repository a file comes from. `Debug` shows a git URL redacted, like `Display` of [`RemoteFile`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Repo {
    /// A GitHub repository.
    GitHub {
        /// Owner.
        owner: String,
        /// Name.
        repo: String,
    },
    /// Any git remote.
    Git {
        /// The URL as `git` takes it.
        url: String,
    },
}

impl fmt::Debug for Repo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Repo::GitHub { owner, repo } => f
                .debug_struct("GitHub")
                .field("owner", owner)
                .field("repo", repo)
                .finish(),
            Repo::Git { url } => f
                .debug_struct("Git")
                .field("url", &redact_url(url))
                .finish(),
        }
    }
}

/// A file in a repository at a reference (branch, tag or SHA).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RemoteFile {
    /// The repository.
    pub repo: Repo,
    /// The branch, tag or commit.
    pub reference: String,
    /// The path inside the repository.
    pub path: String,
}

impl fmt::Display for RemoteFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repo {
            Repo::GitHub { owner, repo } => {
                write!(f, "github:{owner}/{repo}@{}:{}", self.reference, self.path)
            }
            Repo::Git { url } => write!(f, "{}@{}:{}", redact_url(url), self.reference, self.path),
        }
    }
}

/// A fetched file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The commit the reference resolved to.
    pub sha: String,
    /// The content, shared with the fetcher's memo (namespaces asking for the same file share one copy).
    pub bytes: Arc<[u8]>,
}

/// What [`Fetcher::fetch_all`] got.
#[derive(Debug, Clone)]
pub struct FetchedAll {
    /// Each distinct file, fetched or why not.
    pub files: HashMap<RemoteFile, Result<Fetched, SourceError>>,
    /// The network requests this call made.
    pub network_requests: usize,
}

/// Why a source could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The repository, reference or file does not exist (or is invisible to the token).
    #[error("{what} not found")]
    NotFound {
        /// What was looked for.
        what: String,
    },
    /// The token was rejected.
    #[error("GitHub rejected the token (HTTP 401): {message}")]
    BadToken {
        /// GitHub's message.
        message: String,
    },
    /// The API rate limit is exhausted.
    #[error("GitHub API rate limit exceeded{}", reset.as_ref().map(|t| format!(" (resets at {t})")).unwrap_or_default())]
    RateLimited {
        /// When the limit resets, as GitHub says.
        reset: Option<String>,
        /// Whether a token was sent.
        authenticated: bool,
    },
    /// Any other HTTP failure.
    #[error("HTTP {status} from {url}: {message}")]
    Http {
        /// Status code.
        status: u16,
        /// The URL (never with credentials).
        url: String,
        /// The body's message.
        message: String,
    },
    /// No answer (connection, DNS, timeout).
    #[error("cannot reach {url}: {message}")]
    Transport {
        /// The URL.
        url: String,
        /// What happened.
        message: String,
    },
    /// A `git` command failed.
    #[error("`git {command}` failed: {stderr}")]
    Git {
        /// The command line (without credentials).
        command: String,
        /// Its error output.
        stderr: String,
    },
    /// A local file problem.
    #[error("{0}")]
    Io(String),
    /// A path that leaves the repository or is otherwise unusable.
    #[error("{0}")]
    BadPath(String),
    /// A local path that is not a regular file (a FIFO, socket, device or folder); it is never opened.
    #[error("`{path}` is {kind}, not a regular file")]
    NotRegularFile {
        /// The path as the config gives it.
        path: String,
        /// What it is instead (`a FIFO (named pipe)`).
        kind: &'static str,
    },
    /// Offline mode and the file is not in the cache.
    #[error("not in the cache and --offline forbids fetching it")]
    Offline,
}

impl SourceError {
    /// Whether asking again later may succeed: a server error, a rate limit, no answer, or a git fetch that
    /// could not reach the remote. Not-found, a rejected token and bad paths are answers that stay the same.
    pub fn is_transient(&self) -> bool {
        match self {
            SourceError::RateLimited { .. } | SourceError::Transport { .. } => true,
            SourceError::Http { status, .. } => *status >= 500 || *status == 408,
            SourceError::Git { stderr, .. } => {
                let stderr = stderr.to_ascii_lowercase();
                [
                    "could not resolve host",
                    "temporary failure in name resolution",
                    "failed to connect",
                    "connection refused",
                    "connection reset",
                    "connection timed out",
                    "operation timed out",
                    "network is unreachable",
                    "the remote end hung up unexpectedly",
                    "early eof",
                    "rpc failed",
                    "requested url returned error: 5",
                    "requested url returned error: 429",
                ]
                .iter()
                .any(|sign| stderr.contains(sign))
            }
            SourceError::NotFound { .. }
            | SourceError::BadToken { .. }
            | SourceError::Io(_)
            | SourceError::BadPath(_)
            | SourceError::NotRegularFile { .. }
            | SourceError::Offline => false,
        }
    }

    /// Advice for the user, where one helps.
    pub fn hint(&self) -> Option<String> {
        match self {
            SourceError::RateLimited { authenticated: false, .. } => Some(
                "set GITHUB_TOKEN to a token (any token raises the limit from 60 to 5000 requests an hour), or pin \
                 `git_reference` to a commit SHA so that cached files need no request"
                    .to_owned(),
            ),
            SourceError::RateLimited { authenticated: true, .. } => {
                Some("wait for the reset, or pin `git_reference` to a commit SHA so that cached files need no request".to_owned())
            }
            SourceError::BadToken { .. } => Some("check GITHUB_TOKEN: it is expired, revoked or mistyped".to_owned()),
            SourceError::NotFound { what } if what.starts_with("local") => None,
            SourceError::NotFound { what } if what.contains("GitHub") => Some(
                "check the owner, repository, reference and path; a private repository needs GITHUB_TOKEN with read access"
                    .to_owned(),
            ),
            SourceError::NotFound { .. } => Some(
                "check the URL, reference and path; git's own credential helpers and ssh keys give access to private repositories"
                    .to_owned(),
            ),
            SourceError::Offline => Some("run once without --offline to fill the cache".to_owned()),
            SourceError::NotRegularFile { .. } => Some(NOT_REGULAR_TIP.to_owned()),
            _ => None,
        }
    }
}

/// True for a full 40-hex commit SHA, which needs no resolution.
pub fn is_commit_sha(reference: &str) -> bool {
    reference.len() == 40 && reference.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Checks a path inside a repository: relative, no `..`, no empty or `.` parts.
fn check_repo_path(path: &str) -> Result<(), SourceError> {
    if path.is_empty() || path.starts_with('/') || path.contains('\\') {
        return Err(SourceError::BadPath(format!(
            "`{path}` must be a relative path inside the repository"
        )));
    }
    if path
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return Err(SourceError::BadPath(format!(
            "`{path}` must not contain empty, `.` or `..` parts"
        )));
    }
    Ok(())
}

/// Fetches remote files with a cache. Shared (`&Fetcher` or `Arc<Fetcher>`) by concurrent loads, it
/// still resolves each (repository, reference) once, reads each file once and makes at most
/// `concurrency` fetches at a time. A permanent failure (not found, a rejected token) is remembered as
/// well, so it is not retried either; a [transient](SourceError::is_transient) one is only shared with the
/// loads waiting for that same attempt, and a later load tries again. A fetcher is meant for one command
/// run (one `watch` cycle): a branch is not resolved again while it lives.
#[derive(Debug)]
pub struct Fetcher {
    options: SourceOptions,
    agent: ureq::Agent,
    resolved: Memo<(Repo, String), Result<String, SourceError>>,
    files: Memo<FileKey, Result<Arc<[u8]>, SourceError>>,
    permits: Permits,
}

/// A file by repository, commit SHA and path.
type FileKey = (Repo, String, String);

/// The fetchers of one command run, handed to every namespace it loads: namespaces with equal
/// [`SourceOptions`] share one [`Fetcher`], so N namespaces on the same branch resolve it once.
#[derive(Debug, Clone, Default)]
pub struct SharedFetchers {
    fetchers: Arc<Mutex<Vec<Arc<Fetcher>>>>,
}

impl SharedFetchers {
    /// The fetcher for these options: the one made earlier with equal options, or a new one.
    pub fn fetcher(&self, options: SourceOptions) -> Arc<Fetcher> {
        let mut fetchers = self
            .fetchers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(fetcher) = fetchers.iter().find(|f| f.options == options) {
            return Arc::clone(fetcher);
        }
        let fetcher = Arc::new(Fetcher::new(options));
        fetchers.push(Arc::clone(&fetcher));
        fetcher
    }
}

impl Fetcher {
    /// A fetcher with these options.
    pub fn new(options: SourceOptions) -> Self {
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(options.timeout))
            .user_agent(concat!("kfp-gitops/", env!("CARGO_PKG_VERSION")));
        if !options.use_env_proxy {
            config = config.proxy(None);
        }
        Self {
            agent: config.build().new_agent(),
            permits: Permits::new(options.concurrency),
            options,
            resolved: Memo::default(),
            files: Memo::default(),
        }
    }

    fn count_request(&self) {
        THREAD_REQUESTS.with(|count| count.set(count.get() + 1));
    }

    /// Fetches every file: each distinct reference resolved once, each distinct file fetched once (also
    /// across calls and threads sharing this fetcher), at most `concurrency` at a time. Also says how
    /// many network requests this call made itself (a file another call fetched first is not counted).
    pub fn fetch_all(&self, files: &[RemoteFile]) -> FetchedAll {
        let made = AtomicUsize::new(0);
        let refs: Vec<(Repo, String)> = files
            .iter()
            .map(|file| (file.repo.clone(), file.reference.clone()))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let resolved: HashMap<(Repo, String), Result<String, SourceError>> =
            parallel_map(&refs, self.options.concurrency, |key| {
                counted(&made, || {
                    self.resolved.get_or(
                        key.clone(),
                        || {
                            let _permit = self.permits.acquire();
                            self.resolve(&key.0, &key.1)
                        },
                        permanent,
                    )
                })
            })
            .into_iter()
            .zip(refs.iter().cloned())
            .map(|(result, key)| (key, result))
            .collect();
        let distinct: Vec<RemoteFile> = files
            .iter()
            .cloned()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let fetched = parallel_map(&distinct, self.options.concurrency, |file| {
            let sha = resolved
                .get(&(file.repo.clone(), file.reference.clone()))
                .cloned()
                .unwrap_or_else(|| {
                    Err(SourceError::Io("internal: unresolved reference".to_owned()))
                })?;
            let key = (file.repo.clone(), sha.clone(), file.path.clone());
            let bytes = counted(&made, || {
                self.files.get_or(
                    key,
                    || {
                        let _permit = self.permits.acquire();
                        self.file_at(&file.repo, &sha, &file.path).map(Arc::from)
                    },
                    permanent,
                )
            })?;
            Ok(Fetched { sha, bytes })
        });
        FetchedAll {
            files: distinct.into_iter().zip(fetched).collect(),
            network_requests: made.into_inner(),
        }
    }

    /// Resolves a reference to a commit SHA (a SHA resolves to itself without a request).
    pub fn resolve(&self, repo: &Repo, reference: &str) -> Result<String, SourceError> {
        if reference.is_empty() || reference.starts_with('-') {
            return Err(SourceError::BadPath(format!(
                "`{reference}` is not a valid git reference"
            )));
        }
        match repo {
            Repo::GitHub { owner, repo } => {
                if is_commit_sha(reference) {
                    return Ok(reference.to_ascii_lowercase());
                }
                if self.options.offline {
                    return Err(SourceError::Offline);
                }
                self.github_resolve(owner, repo, reference)
            }
            Repo::Git { url } => self.git_resolve(url, reference),
        }
    }

    /// The content of `path` at commit `sha`, from the cache or the remote (then cached).
    pub fn file_at(&self, repo: &Repo, sha: &str, path: &str) -> Result<Vec<u8>, SourceError> {
        check_repo_path(path)?;
        let cached = self.cache_path(repo, sha, path);
        if let Ok(bytes) = std::fs::read(&cached) {
            return Ok(bytes);
        }
        if self.options.offline {
            return Err(SourceError::Offline);
        }
        let bytes = match repo {
            Repo::GitHub { owner, repo } => self.github_file(owner, repo, sha, path)?,
            Repo::Git { url } => self.git_file(url, sha, path)?,
        };
        write_atomically(&cached, &bytes).map_err(|err| {
            SourceError::Io(format!(
                "cannot write the cache {}: {err}",
                cached.display()
            ))
        })?;
        Ok(bytes)
    }
}

/// `https://user:token@host/x?token=t` → `https://***@host/x?token=***` (see [`kfp_client::secrets::redact_url`]).
pub fn redact_url(url: &str) -> String {
    kfp_client::secrets::redact_url(url)
}
