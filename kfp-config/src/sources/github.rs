//! GitHub sources through the REST API: resolving a reference to a commit SHA and fetching a file at it.

use super::*;

/// Longest server message kept in an error.
pub(super) const MAX_MESSAGE_CHARS: usize = 500;

/// Characters escaped in one URL path segment.
pub(super) const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

impl Fetcher {
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

    pub(super) fn github_resolve(
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

    pub(super) fn github_file(
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
}
