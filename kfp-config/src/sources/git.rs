//! Sources from any git remote through the `git` CLI: a bare cache repository per remote, resolving a
//! reference to a commit SHA, fetching it and reading a file at it.

use super::*;

/// Longest error output of git kept in an error.
pub(super) const MAX_GIT_STDERR_CHARS: usize = 2000;

impl Fetcher {
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

    pub(super) fn git_resolve(&self, url: &str, reference: &str) -> Result<String, SourceError> {
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

    pub(super) fn git_file(
        &self,
        url: &str,
        sha: &str,
        path: &str,
    ) -> Result<Vec<u8>, SourceError> {
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
pub(super) fn not_found_if_missing(err: SourceError, url: &str, reference: &str) -> SourceError {
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

pub(super) fn has_commit(repo: &Path, sha: &str) -> bool {
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
pub(super) enum OsArg<'a> {
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
pub(super) struct GitRemote {
    /// The URL without user info (http and https; other schemes keep theirs, e.g. the `git@` of ssh).
    pub(super) plain: String,
    /// The URL for messages.
    pub(super) shown: String,
    /// `Authorization: Basic ...` built from the user info of an http(s) URL.
    pub(super) authorization: Option<Secret>,
}

impl GitRemote {
    pub(super) fn new(url: &str) -> Self {
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
pub(super) fn run_git(args: &[OsArg<'_>]) -> Result<Vec<u8>, SourceError> {
    run_git_with(args, None)
}

/// [`run_git`] for a command that reaches `remote`: its credentials go in as an `http.extraHeader` through
/// `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_0`/`GIT_CONFIG_VALUE_0`, and the user's credential helpers are switched
/// off for the call (`-c credential.helper=`) so that none of them stores them.
pub(super) fn run_git_with(
    args: &[OsArg<'_>],
    remote: Option<&GitRemote>,
) -> Result<Vec<u8>, SourceError> {
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
