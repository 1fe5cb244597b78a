//! Unit tests of the sources.

use super::git::GitRemote;
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
        git("fatal: unable to access 'https://h/r.git/': The requested URL returned error: 503"),
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
        git("fatal: unable to access 'https://h/r.git/': The requested URL returned error: 403"),
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
