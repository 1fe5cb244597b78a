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

use sha2::{Digest as _, Sha256};

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
    pub fn tip(&self) -> Option<String> {
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
            SourceError::NotRegularFile { .. } => Some(crate::check::files::NOT_REGULAR_TIP.to_owned()),
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

/// Values computed once per key, even when several threads ask at the same time (the others wait and
/// share the result); a value its computer does not keep is forgotten, so the next asker computes again.
struct Memo<K, V> {
    cells: Mutex<HashMap<K, Arc<OnceLock<V>>>>,
}

impl<K, V> fmt::Debug for Memo<K, V> {
    // Only the count: the values are whole files.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self
            .cells
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len();
        write!(f, "Memo({count} entries)")
    }
}

impl<K, V> Default for Memo<K, V> {
    fn default() -> Self {
        Self {
            cells: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + std::hash::Hash, V: Clone> Memo<K, V> {
    /// The value under `key`, computed now if there is none; one for which `keep` says false is not
    /// remembered.
    fn get_or(&self, key: K, compute: impl FnOnce() -> V, keep: impl FnOnce(&V) -> bool) -> V {
        let cell = Arc::clone(
            self.cells
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(key)
                .or_default(),
        );
        // The map is unlocked while computing: only askers of the same key wait.
        let mut computed = false;
        let value = cell
            .get_or_init(|| {
                computed = true;
                compute()
            })
            .clone();
        if computed && !keep(&value) {
            // Only this cell: a later asker may already have put a fresh one under the key.
            self.cells
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .retain(|_, other| !Arc::ptr_eq(other, &cell));
        }
        value
    }
}

/// Whether a fetch result is an answer worth remembering for the rest of the run.
fn permanent<T>(result: &Result<T, SourceError>) -> bool {
    result.as_ref().err().is_none_or(|err| !err.is_transient())
}

/// A counting semaphore: how many fetches may run at once across every user of a fetcher.
#[derive(Debug)]
struct Permits {
    free: Mutex<usize>,
    returned: Condvar,
}

struct Permit<'a>(&'a Permits);

impl Permits {
    fn new(count: usize) -> Self {
        Self {
            free: Mutex::new(count.max(1)),
            returned: Condvar::new(),
        }
    }

    fn acquire(&self) -> Permit<'_> {
        let mut free = self
            .free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while *free == 0 {
            free = self
                .returned
                .wait(free)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        *free -= 1;
        Permit(self)
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        *self
            .0
            .free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) += 1;
        self.0.returned.notify_one();
    }
}

thread_local! {
    /// Network requests made by this thread, so that a call can count its own among shared ones.
    static THREAD_REQUESTS: Cell<usize> = const { Cell::new(0) };
}

/// Runs `work`, adding the network requests it made on this thread to `made`.
fn counted<R>(made: &AtomicUsize, work: impl FnOnce() -> R) -> R {
    let before = THREAD_REQUESTS.with(Cell::get);
    let result = work();
    made.fetch_add(THREAD_REQUESTS.with(Cell::get) - before, Ordering::Relaxed);
    result
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

    /// Where the file `path` at commit `sha` of `repo` is cached.
    pub fn cache_path(&self, repo: &Repo, sha: &str, path: &str) -> PathBuf {
        let base = match repo {
            Repo::GitHub { owner, repo } => self
                .options
                .cache_dir
                .join("github")
                .join(short_hash(&self.options.github_api_url))
                .join(safe_component(owner))
                .join(safe_component(repo)),
            Repo::Git { url } => self.options.cache_dir.join("git").join(short_hash(url)),
        };
        base.join(sha).join("files").join(path)
    }

    fn github_url(&self, owner: &str, repo: &str, rest: &str) -> String {
        let encode = |s: &str| percent_encoding::utf8_percent_encode(s, PATH_SEGMENT).to_string();
        format!(
            "{}/repos/{}/{}/{rest}",
            self.options.github_api_url.trim_end_matches('/'),
            encode(owner),
            encode(repo)
        )
    }

    fn github_get(
        &self,
        url: &str,
        accept: &str,
    ) -> Result<ureq::http::Response<ureq::Body>, SourceError> {
        let mut request = self
            .agent
            .get(url)
            .header("Accept", accept)
            .header("X-GitHub-Api-Version", "2022-11-28");
        if let Some(token) = &self.options.github_token {
            request = request.header("Authorization", format!("Bearer {}", token.expose()));
        }
        self.count_request();
        request.call().map_err(|err| SourceError::Transport {
            url: redact_url(url),
            message: kfp_client::secrets::redact_text(&err.to_string()),
        })
    }

    fn github_failure(
        &self,
        url: &str,
        response: ureq::http::Response<ureq::Body>,
        what: String,
    ) -> SourceError {
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let remaining = header("x-ratelimit-remaining");
        let reset = header("x-ratelimit-reset");
        let message = response
            .into_body()
            .with_config()
            .limit(64 * 1024)
            .read_to_string()
            .ok()
            .and_then(|body| {
                serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|json| {
                        json.get("message")
                            .and_then(|m| m.as_str())
                            .map(str::to_owned)
                    })
                    .or(Some(body))
            })
            .map(|message| kfp_client::secrets::excerpt(&message, MAX_MESSAGE_CHARS))
            .unwrap_or_default();
        let rate_limited = status == 429
            || (status == 403
                && (remaining.as_deref() == Some("0")
                    || message.to_ascii_lowercase().contains("rate limit")));
        if rate_limited {
            let reset = reset
                .and_then(|seconds| seconds.parse::<i64>().ok())
                .and_then(|seconds| jiff::Timestamp::from_second(seconds).ok())
                .map(|t| t.to_string());
            return SourceError::RateLimited {
                reset,
                authenticated: self.options.github_token.is_some(),
            };
        }
        match status {
            401 => SourceError::BadToken { message },
            404 => SourceError::NotFound { what },
            _ => SourceError::Http {
                status,
                url: redact_url(url),
                message,
            },
        }
    }

    fn github_resolve(
        &self,
        owner: &str,
        repo: &str,
        reference: &str,
    ) -> Result<String, SourceError> {
        // Branch names may contain `/`, which the API accepts as is.
        let encoded: Vec<String> = reference
            .split('/')
            .map(|part| percent_encoding::utf8_percent_encode(part, PATH_SEGMENT).to_string())
            .collect();
        let encoded = encoded.join("/");
        let url = self.github_url(owner, repo, &format!("commits/{encoded}"));
        let response = self.github_get(&url, "application/vnd.github+json")?;
        if !response.status().is_success() {
            let what = format!("GitHub repository {owner}/{repo} or its reference `{reference}`");
            return Err(self.github_failure(&url, response, what));
        }
        let json: serde_json::Value =
            response
                .into_body()
                .read_json()
                .map_err(|err| SourceError::Transport {
                    url: redact_url(&url),
                    message: kfp_client::secrets::redact_text(&err.to_string()),
                })?;
        match json.get("sha").and_then(|sha| sha.as_str()) {
            Some(sha) if is_commit_sha(sha) => Ok(sha.to_ascii_lowercase()),
            _ => Err(SourceError::Http {
                status: 200,
                url: redact_url(&url),
                message: "the answer has no commit `sha`".to_owned(),
            }),
        }
    }

    fn github_file(
        &self,
        owner: &str,
        repo: &str,
        sha: &str,
        path: &str,
    ) -> Result<Vec<u8>, SourceError> {
        let encoded: Vec<String> = path
            .split('/')
            .map(|part| percent_encoding::utf8_percent_encode(part, PATH_SEGMENT).to_string())
            .collect();
        let url = self.github_url(
            owner,
            repo,
            &format!("contents/{}?ref={sha}", encoded.join("/")),
        );
        let response = self.github_get(&url, "application/vnd.github.raw")?;
        if !response.status().is_success() {
            let what = format!("file `{path}` in GitHub repository {owner}/{repo} at {sha}");
            return Err(self.github_failure(&url, response, what));
        }
        response
            .into_body()
            .with_config()
            .limit(512 * 1024 * 1024)
            .read_to_vec()
            .map_err(|err| SourceError::Transport {
                url: redact_url(&url),
                message: kfp_client::secrets::redact_text(&err.to_string()),
            })
    }

    /// One lock per bare cache repository, shared by every fetcher of the process (namespaces load in
    /// parallel, and git refuses concurrent fetches into one repository).
    fn git_lock(&self, url: &str) -> std::sync::Arc<Mutex<()>> {
        static LOCKS: std::sync::OnceLock<Mutex<HashMap<PathBuf, std::sync::Arc<Mutex<()>>>>> =
            std::sync::OnceLock::new();
        let key = self.options.cache_dir.join("git").join(short_hash(url));
        let mut locks = LOCKS
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        locks.entry(key).or_default().clone()
    }

    fn bare_repo(&self, url: &str) -> Result<PathBuf, SourceError> {
        let dir = self
            .options
            .cache_dir
            .join("git")
            .join(short_hash(url))
            .join("repo.git");
        if !dir.join("HEAD").exists() {
            std::fs::create_dir_all(&dir).map_err(|err| {
                SourceError::Io(format!("cannot create {}: {err}", dir.display()))
            })?;
            run_git(&[
                OsArg::s("init"),
                OsArg::s("--bare"),
                OsArg::s("--quiet"),
                OsArg::p(&dir),
            ])?;
        }
        Ok(dir)
    }

    fn git_resolve(&self, url: &str, reference: &str) -> Result<String, SourceError> {
        if url.starts_with('-') {
            return Err(SourceError::BadPath(format!(
                "`{}` is not a valid git URL",
                redact_url(url)
            )));
        }
        let remote = GitRemote::new(url);
        let lock = self.git_lock(url);
        let _guard = lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let repo = self.bare_repo(url)?;
        if is_commit_sha(reference) {
            let sha = reference.to_ascii_lowercase();
            if has_commit(&repo, &sha) {
                return Ok(sha);
            }
            if self.options.offline {
                return Err(SourceError::Offline);
            }
            self.count_request();
            if let Err(err) = self.git_fetch(&repo, &remote, &sha) {
                // Servers speaking the old protocol refuse a commit that no branch or tag points at:
                // fetch every branch and tag in full, then look for the commit.
                match not_found_if_missing(err, &remote.shown, reference) {
                    SourceError::NotFound { .. } => {
                        self.count_request();
                        self.git_fetch_everything(&repo, &remote)?;
                    }
                    other => return Err(other),
                }
            }
            return if has_commit(&repo, &sha) {
                Ok(sha)
            } else {
                Err(SourceError::NotFound {
                    what: format!("commit {sha} in {}", remote.shown),
                })
            };
        }
        if self.options.offline {
            return Err(SourceError::Offline);
        }
        self.count_request();
        self.git_fetch(&repo, &remote, reference)
            .map_err(|err| not_found_if_missing(err, &remote.shown, reference))?;
        let output = run_git(&[
            OsArg::s("--git-dir"),
            OsArg::p(&repo),
            OsArg::s("rev-parse"),
            OsArg::s("FETCH_HEAD^{commit}"),
        ])?;
        let sha = String::from_utf8_lossy(&output).trim().to_owned();
        if is_commit_sha(&sha) {
            Ok(sha)
        } else {
            Err(SourceError::Git {
                command: "rev-parse FETCH_HEAD".into(),
                stderr: sha,
            })
        }
    }

    fn git_fetch(
        &self,
        repo: &Path,
        remote: &GitRemote,
        reference: &str,
    ) -> Result<(), SourceError> {
        run_git_with(
            &[
                OsArg::s("--git-dir"),
                OsArg::p(repo),
                OsArg::s("fetch"),
                OsArg::s("--quiet"),
                OsArg::s("--no-tags"),
                OsArg::s("--depth"),
                OsArg::s("1"),
                OsArg::s(&remote.plain),
                OsArg::s(reference),
            ],
            Some(remote),
        )
        .map(drop)
    }

    fn git_fetch_everything(&self, repo: &Path, remote: &GitRemote) -> Result<(), SourceError> {
        let mut args = vec![
            OsArg::s("--git-dir"),
            OsArg::p(repo),
            OsArg::s("fetch"),
            OsArg::s("--quiet"),
            OsArg::s("--no-tags"),
        ];
        // Earlier `--depth 1` fetches left the cache shallow; the full history is needed now.
        if repo.join("shallow").exists() {
            args.push(OsArg::s("--unshallow"));
        }
        args.extend([
            OsArg::s(&remote.plain),
            OsArg::s("+refs/heads/*:refs/kfp-gitops/heads/*"),
            OsArg::s("+refs/tags/*:refs/kfp-gitops/tags/*"),
        ]);
        run_git_with(&args, Some(remote)).map(drop)
    }

    fn git_file(&self, url: &str, sha: &str, path: &str) -> Result<Vec<u8>, SourceError> {
        let lock = self.git_lock(url);
        let _guard = lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let repo = self.bare_repo(url)?;
        let spec = format!("{sha}:{path}");
        run_git(&[
            OsArg::s("--git-dir"),
            OsArg::p(&repo),
            OsArg::s("cat-file"),
            OsArg::s("blob"),
            OsArg::s(&spec),
        ])
        .map_err(|err| match err {
            SourceError::Git { stderr, .. }
                if stderr.contains("Not a valid object")
                    || stderr.contains("does not exist")
                    || stderr.contains("bad file") =>
            {
                SourceError::NotFound {
                    what: format!("file `{path}` in {} at {sha}", redact_url(url)),
                }
            }
            other => other,
        })
    }
}

/// `url` is the remote as messages show it (redacted).
fn not_found_if_missing(err: SourceError, url: &str, reference: &str) -> SourceError {
    match err {
        SourceError::Git { stderr, .. }
            if stderr.contains("couldn't find remote ref")
                || stderr.contains("not our ref")
                || stderr.contains("no such remote ref")
                || stderr.contains("unadvertised object") =>
        {
            let abbreviated = (4..40).contains(&reference.len())
                && reference.bytes().all(|b| b.is_ascii_hexdigit());
            SourceError::NotFound {
                what: if abbreviated {
                    format!(
                        "reference `{reference}` in {url} (git servers only accept full 40-character commit SHAs)"
                    )
                } else {
                    format!("reference `{reference}` in {url}")
                },
            }
        }
        SourceError::Git { stderr, .. }
            if stderr.contains("does not appear to be a git repository")
                || stderr.contains("Repository not found")
                || stderr.contains("not found") =>
        {
            SourceError::NotFound {
                what: format!("git repository {url}"),
            }
        }
        other => other,
    }
}

fn has_commit(repo: &Path, sha: &str) -> bool {
    run_git(&[
        OsArg::s("--git-dir"),
        OsArg::p(repo),
        OsArg::s("cat-file"),
        OsArg::s("-e"),
        OsArg::s(&format!("{sha}^{{commit}}")),
    ])
    .is_ok()
}

/// One argument of a git command.
enum OsArg<'a> {
    S(&'a str),
    P(&'a Path),
}

impl<'a> OsArg<'a> {
    fn s(text: &'a str) -> Self {
        OsArg::S(text)
    }
    fn p(path: &'a Path) -> Self {
        OsArg::P(path)
    }
}

/// A git remote as `git` is given it: the URL without its user info, and the credentials that were in it,
/// which reach git through its environment (never its command line, which every user sees in `ps`).
struct GitRemote {
    /// The URL without user info (http and https; other schemes keep theirs, e.g. the `git@` of ssh).
    plain: String,
    /// The URL for messages.
    shown: String,
    /// `Authorization: Basic ...` built from the user info of an http(s) URL.
    authorization: Option<Secret>,
}

impl GitRemote {
    fn new(url: &str) -> Self {
        let lower = url.to_ascii_lowercase();
        let (plain, credentials) = if lower.starts_with("http://") || lower.starts_with("https://")
        {
            kfp_client::secrets::split_url_credentials(url)
        } else {
            (url.to_owned(), None)
        };
        Self {
            shown: redact_url(url),
            authorization: credentials.map(|credentials| credentials.basic_authorization()),
            plain,
        }
    }
}

/// Runs `git` without prompts, with an environment cleared of the secrets of this process.
fn run_git(args: &[OsArg<'_>]) -> Result<Vec<u8>, SourceError> {
    run_git_with(args, None)
}

/// [`run_git`] for a command that reaches `remote`: its credentials go in as an `http.extraHeader` through
/// `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_0`/`GIT_CONFIG_VALUE_0`, and the user's credential helpers are switched
/// off for the call (`-c credential.helper=`) so that none of them stores them.
fn run_git_with(args: &[OsArg<'_>], remote: Option<&GitRemote>) -> Result<Vec<u8>, SourceError> {
    let mut command = Command::new("git");
    kfp_client::secrets::scrub_env(&mut command);
    command
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "true")
        .env_remove("SSH_ASKPASS")
        .stdin(std::process::Stdio::null());
    if let Some(authorization) = remote.and_then(|remote| remote.authorization.as_ref()) {
        command
            .args(["-c", "credential.helper="])
            .env("GIT_CONFIG_COUNT", "1")
            .env("GIT_CONFIG_KEY_0", "http.extraHeader")
            .env(
                "GIT_CONFIG_VALUE_0",
                format!("Authorization: {}", authorization.expose()),
            );
    }
    let mut shown = Vec::new();
    for arg in args {
        match arg {
            OsArg::S(text) => {
                command.arg(text);
                shown.push(redact_url(text));
            }
            OsArg::P(path) => {
                command.arg(path);
                shown.push(path.display().to_string());
            }
        }
    }
    // Only the verb and its arguments are worth showing; `--git-dir <cache>` is noise.
    let shown = shown
        .iter()
        .skip_while(|arg| arg.starts_with("--git-dir") || arg.contains("repo.git"))
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    let output = command.output().map_err(|err| SourceError::Git {
        command: shown.clone(),
        stderr: format!("cannot run git: {err}"),
    })?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(SourceError::Git {
            command: shown,
            stderr: kfp_client::secrets::excerpt(&stderr, MAX_GIT_STDERR_CHARS),
        })
    }
}

/// Longest server message kept in an error.
const MAX_MESSAGE_CHARS: usize = 500;

/// Longest error output of git kept in an error.
const MAX_GIT_STDERR_CHARS: usize = 2000;

/// `https://user:token@host/x?token=t` → `https://***@host/x?token=***` (see [`kfp_client::secrets::redact_url`]).
pub fn redact_url(url: &str) -> String {
    kfp_client::secrets::redact_url(url)
}

/// Characters escaped in one URL path segment.
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn short_hash(text: &str) -> String {
    hex::encode(&Sha256::digest(text.as_bytes())[..8])
}

fn safe_component(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect::<String>()
        .trim_start_matches('.')
        .to_owned()
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    // Unique per process and call: several loads may write the same cached file at once.
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let temp = dir.join(format!(
        ".{}.{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&temp, bytes)?;
    std::fs::rename(&temp, path)
}

/// Runs `f` on every item with at most `limit` threads; results in item order.
pub(crate) fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    limit: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    let workers = limit.max(1).min(items.len());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(index) else { break };
                    let result = f(item);
                    results
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)[index] = Some(result);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_iter()
        .flatten()
        .collect()
}

/// Resolves a local path written in a config file: relative to `base` (the config folder), and inside
/// `root` (the repository) both as written and after following symlinks.
pub fn resolve_local(root: &Path, base: &Path, relative: &Path) -> Result<PathBuf, SourceError> {
    if relative.as_os_str().is_empty() {
        return Err(SourceError::BadPath("the path is empty".to_owned()));
    }
    if relative.is_absolute()
        || relative
            .components()
            .any(|c| matches!(c, Component::Prefix(_) | Component::RootDir))
    {
        return Err(SourceError::BadPath(format!(
            "`{}` is absolute; use a path relative to the config folder",
            relative.display()
        )));
    }
    let root = absolute(root);
    let mut resolved = absolute(base);
    for component in relative.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                resolved.pop();
            }
            Component::Normal(part) => resolved.push(part),
            Component::Prefix(_) | Component::RootDir => {}
        }
    }
    if !resolved.starts_with(&root) {
        return Err(SourceError::BadPath(format!(
            "`{}` leads outside the repository root {}",
            relative.display(),
            root.display()
        )));
    }
    let real = resolved.canonicalize().map_err(|err| {
        if err.kind() == std::io::ErrorKind::NotFound {
            SourceError::NotFound {
                what: format!("local path `{}`", relative.display()),
            }
        } else {
            SourceError::Io(format!("cannot read `{}`: {err}", relative.display()))
        }
    })?;
    let real_root = root.canonicalize().map_err(|err| {
        SourceError::Io(format!(
            "cannot read the repository root {}: {err}",
            root.display()
        ))
    })?;
    if !real.starts_with(&real_root) {
        return Err(SourceError::BadPath(format!(
            "`{}` follows a symlink outside the repository root {}",
            relative.display(),
            root.display()
        )));
    }
    Ok(real)
}

fn absolute(path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    // Lexically normalized, so that `a/../b` and `b` compare equal.
    let mut normalized = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::ParentDir => {
                normalized.pop();
            }
            Component::CurDir => {}
            other => normalized.push(other),
        }
    }
    normalized
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_never_shown() {
        let options = SourceOptions {
            github_token: Some(Secret::new("ghp_supersecret")),
            ..SourceOptions::new("/tmp/x")
        };
        assert!(!format!("{options:?}").contains("supersecret"));
        assert!(!format!("{:?}", Fetcher::new(options)).contains("supersecret"));
    }

    #[test]
    fn a_git_source_is_shown_without_its_credentials() {
        let file = RemoteFile {
            repo: Repo::Git {
                url: "https://me@corp:pw-s3cret@git.example/r.git?token=t0k".into(),
            },
            reference: "main".into(),
            path: "p.yaml".into(),
        };
        let shown = format!("{file} {file:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("t0k") && !shown.contains("corp"),
            "{shown}"
        );
        assert!(
            shown.starts_with("https://***@git.example/r.git?token=***@main:p.yaml"),
            "{shown}"
        );
        let remote = GitRemote::new("https://me@corp:pw-s3cret@git.example/r.git");
        assert_eq!(remote.plain, "https://git.example/r.git");
        assert_eq!(remote.shown, "https://***@git.example/r.git");
        assert!(remote.authorization.is_some());
        let ssh = GitRemote::new("ssh://git@git.example/r.git");
        assert_eq!(ssh.plain, "ssh://git@git.example/r.git");
        assert!(ssh.authorization.is_none());
    }

    #[test]
    fn urls_with_credentials_are_redacted() {
        assert_eq!(
            redact_url("https://user:tok@example.com/r.git"),
            "https://***@example.com/r.git"
        );
        assert_eq!(
            redact_url("git@github.com:o/r.git"),
            "git@github.com:o/r.git"
        );
        assert_eq!(redact_url("file:///tmp/r.git"), "file:///tmp/r.git");
    }

    #[test]
    fn repository_paths_must_stay_inside() {
        assert!(check_repo_path("a/b.yaml").is_ok());
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a//b", "./a"] {
            assert!(check_repo_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn permits_bound_work_across_callers_and_a_memo_computes_once() {
        let permits = Permits::new(2);
        let memo: Memo<&str, usize> = Memo::default();
        let computed = AtomicUsize::new(0);
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let items: Vec<usize> = (0..24).collect();
        // Three callers, as three namespaces sharing one fetcher would be.
        std::thread::scope(|scope| {
            for _ in 0..3 {
                scope.spawn(|| {
                    parallel_map(&items, 8, |_| {
                        let _permit = permits.acquire();
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(1));
                        running.fetch_sub(1, Ordering::SeqCst);
                        memo.get_or(
                            "main",
                            || computed.fetch_add(1, Ordering::SeqCst) + 41,
                            |_| true,
                        )
                    })
                });
            }
        });
        assert!(peak.load(Ordering::SeqCst) <= 2);
        assert_eq!(computed.load(Ordering::SeqCst), 1);
        assert_eq!(memo.get_or("main", || 0, |_| true), 41);
    }

    #[test]
    fn a_memo_forgets_what_it_is_told_not_to_keep() {
        let memo: Memo<&str, Result<u8, SourceError>> = Memo::default();
        let unavailable = || {
            Err(SourceError::Http {
                status: 503,
                url: "u".into(),
                message: "busy".into(),
            })
        };
        assert!(memo.get_or("main", unavailable, permanent).is_err());
        assert_eq!(memo.get_or("main", || Ok(1), permanent), Ok(1));
        assert_eq!(memo.get_or("main", || Ok(2), permanent), Ok(1));
        let missing = || Err(SourceError::NotFound { what: "x".into() });
        assert!(memo.get_or("gone", missing, permanent).is_err());
        assert!(memo.get_or("gone", || Ok(3), permanent).is_err());
    }

    #[test]
    fn server_errors_and_unreachable_remotes_are_transient_and_answers_are_not() {
        let git = |stderr: &str| SourceError::Git {
            command: "fetch".into(),
            stderr: stderr.into(),
        };
        let http = |status| SourceError::Http {
            status,
            url: "u".into(),
            message: String::new(),
        };
        for transient in [
            http(502),
            http(503),
            SourceError::RateLimited {
                reset: None,
                authenticated: true,
            },
            SourceError::Transport {
                url: "u".into(),
                message: "connection refused".into(),
            },
            git("fatal: unable to access 'https://h/r.git/': Could not resolve host: h"),
            git("ssh: connect to host h port 22: Connection timed out"),
            git(
                "fatal: unable to access 'https://h/r.git/': The requested URL returned error: 503",
            ),
        ] {
            assert!(transient.is_transient(), "{transient}");
        }
        for permanent in [
            http(400),
            http(200),
            SourceError::NotFound { what: "x".into() },
            SourceError::BadToken {
                message: "Bad credentials".into(),
            },
            SourceError::BadPath("..".into()),
            SourceError::Offline,
            git(
                "fatal: unable to access 'https://h/r.git/': The requested URL returned error: 403",
            ),
        ] {
            assert!(!permanent.is_transient(), "{permanent}");
        }
    }

    #[test]
    fn parallel_map_keeps_order_and_bounds_threads() {
        let items: Vec<usize> = (0..50).collect();
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let results = parallel_map(&items, 4, |item| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            std::thread::yield_now();
            running.fetch_sub(1, Ordering::SeqCst);
            item * 2
        });
        assert_eq!(results, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert!(peak.load(Ordering::SeqCst) <= 4);
    }
}
