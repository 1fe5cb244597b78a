//! The on-disk cache of fetched files, keyed by immutable commit SHAs.

use super::*;

impl Fetcher {
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
}

pub(super) fn short_hash(text: &str) -> String {
    hex::encode(&Sha256::digest(text.as_bytes())[..8])
}

pub(super) fn safe_component(text: &str) -> String {
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

pub(super) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
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
