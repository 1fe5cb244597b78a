//! The [`KfpApi`] trait, list options and the helpers that walk every page of a list call.

use crate::error::{Error, Result};
use crate::models::{
    Experiment, Filter, Healthz, Job, Page, Pipeline, ResourceKey, Run, RunDetail,
};

/// The API's path prefix under the configured URL.
pub const API_PREFIX: &str = "/apis/v1beta1";

/// The largest page the server returns (it clamps bigger requests).
pub const MAX_PAGE_SIZE: u32 = 200;

/// Options of one list call: paging, sorting, filter and the `resource_reference_key` scope.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListOptions {
    /// Token of the page to fetch; `None` for the first page.
    pub page_token: Option<String>,
    /// Page size; `None` = server default (20). Values above 200 are clamped by the server.
    pub page_size: Option<u32>,
    /// `"field"`, `"field asc"` or `"field desc"`.
    pub sort_by: Option<String>,
    /// Filter predicates (AND-ed).
    pub filter: Option<Filter>,
    /// Scope: NAMESPACE (required for most lists in multi-user mode) or EXPERIMENT.
    pub resource_key: Option<ResourceKey>,
}

impl ListOptions {
    /// Options scoped to a namespace.
    pub fn namespace(namespace: impl Into<String>) -> Self {
        Self {
            resource_key: Some(ResourceKey::namespace(namespace)),
            ..Self::default()
        }
    }

    /// Options scoped to an experiment.
    pub fn experiment(experiment_id: impl Into<String>) -> Self {
        Self {
            resource_key: Some(ResourceKey::experiment(experiment_id)),
            ..Self::default()
        }
    }

    /// Options for `scope`.
    pub fn scoped(scope: &ListScope) -> Self {
        Self {
            resource_key: scope.resource_key(),
            ..Self::default()
        }
    }

    /// Sets the filter.
    #[must_use]
    pub fn with_filter(mut self, filter: Filter) -> Self {
        self.filter = Some(filter);
        self
    }

    /// Sets the page size.
    #[must_use]
    pub fn with_page_size(mut self, page_size: u32) -> Self {
        self.page_size = Some(page_size);
        self
    }

    /// Sets the sort order.
    #[must_use]
    pub fn with_sort_by(mut self, sort_by: impl Into<String>) -> Self {
        self.sort_by = Some(sort_by.into());
        self
    }

    /// Sets the page token.
    #[must_use]
    pub fn with_page_token(mut self, token: impl Into<String>) -> Self {
        self.page_token = Some(token.into());
        self
    }
}

/// Which objects a listing covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListScope {
    /// No `resource_reference_key` (single-user mode only for jobs and runs).
    Everything,
    /// A namespace (Kubeflow profile).
    Namespace(String),
    /// One experiment.
    Experiment(String),
}

impl ListScope {
    /// The `resource_reference_key` for this scope.
    pub fn resource_key(&self) -> Option<ResourceKey> {
        match self {
            Self::Everything => None,
            Self::Namespace(ns) => Some(ResourceKey::namespace(ns.clone())),
            Self::Experiment(id) => Some(ResourceKey::experiment(id.clone())),
        }
    }
}

/// The objects of a list call, and the endpoint that lists them, so that the pager can name the request in its
/// errors.
pub trait ListItem {
    /// The list endpoint below [`API_PREFIX`], e.g. `/runs`.
    const LIST_PATH: &'static str;
}

impl ListItem for Experiment {
    const LIST_PATH: &'static str = "/experiments";
}

impl ListItem for Job {
    const LIST_PATH: &'static str = "/jobs";
}

impl ListItem for Run {
    const LIST_PATH: &'static str = "/runs";
}

impl ListItem for Pipeline {
    const LIST_PATH: &'static str = "/pipelines";
}

/// Every call kfp-gitops makes to the KFP v1beta1 API. Object safe: code takes `&dyn KfpApi` so that tests and
/// embedders can substitute their own implementation.
pub trait KfpApi: Send + Sync {
    /// `GET /healthz`.
    fn healthz(&self) -> Result<Healthz>;

    /// `POST /experiments`.
    fn create_experiment(&self, experiment: &Experiment) -> Result<Experiment>;
    /// `GET /experiments/{id}`.
    fn get_experiment(&self, id: &str) -> Result<Experiment>;
    /// `GET /experiments` (one page).
    fn list_experiments(&self, options: &ListOptions) -> Result<Page<Experiment>>;
    /// `DELETE /experiments/{id}`.
    fn delete_experiment(&self, id: &str) -> Result<()>;
    /// `POST /experiments/{id}:archive`.
    fn archive_experiment(&self, id: &str) -> Result<()>;
    /// `POST /experiments/{id}:unarchive`.
    fn unarchive_experiment(&self, id: &str) -> Result<()>;

    /// `POST /jobs`.
    fn create_job(&self, job: &Job) -> Result<Job>;
    /// `GET /jobs/{id}`.
    fn get_job(&self, id: &str) -> Result<Job>;
    /// `GET /jobs` (one page).
    fn list_jobs(&self, options: &ListOptions) -> Result<Page<Job>>;
    /// `GET /jobs` (one page), handing each job to `visit` as soon as it is decoded, so that a caller keeping a
    /// summary per job never holds the page (200 jobs of large manifests) at once.
    ///
    /// Returns the page's next token and total size. On an error `visit` may already have seen some of the
    /// page's jobs; they are to be dropped with the page. The default implementation lists the page with
    /// [`KfpApi::list_jobs`] and then hands its jobs over.
    fn list_jobs_each(
        &self,
        options: &ListOptions,
        visit: &mut dyn FnMut(Job),
    ) -> Result<PageInfo> {
        let page = self.list_jobs(options)?;
        let info = PageInfo {
            next_page_token: page.next_page_token,
            total_size: page.total_size,
        };
        page.items.into_iter().for_each(visit);
        Ok(info)
    }
    /// `DELETE /jobs/{id}`.
    fn delete_job(&self, id: &str) -> Result<()>;
    /// `POST /jobs/{id}/enable` (idempotent).
    fn enable_job(&self, id: &str) -> Result<()>;
    /// `POST /jobs/{id}/disable` (idempotent).
    fn disable_job(&self, id: &str) -> Result<()>;

    /// `POST /runs`.
    fn create_run(&self, run: &Run) -> Result<RunDetail>;
    /// `GET /runs/{id}`.
    fn get_run(&self, id: &str) -> Result<RunDetail>;
    /// `GET /runs` (one page).
    fn list_runs(&self, options: &ListOptions) -> Result<Page<Run>>;
    /// `POST /runs/{id}/terminate`.
    fn terminate_run(&self, id: &str) -> Result<()>;
    /// `POST /runs/{id}:archive`.
    fn archive_run(&self, id: &str) -> Result<()>;
    /// `POST /runs/{id}:unarchive`.
    fn unarchive_run(&self, id: &str) -> Result<()>;
    /// `DELETE /runs/{id}`.
    fn delete_run(&self, id: &str) -> Result<()>;

    /// `POST /pipelines/upload` (multipart, field `uploadfile`). `file_name`'s extension tells the server the
    /// format (`.yaml`, `.json`; otherwise zip/tar.gz by magic bytes).
    fn upload_pipeline(
        &self,
        name: &str,
        description: Option<&str>,
        file_name: &str,
        bytes: &[u8],
    ) -> Result<Pipeline>;
    /// `GET /pipelines` (one page).
    fn list_pipelines(&self, options: &ListOptions) -> Result<Page<Pipeline>>;
    /// `GET /pipelines/{id}`.
    fn get_pipeline(&self, id: &str) -> Result<Pipeline>;
    /// `DELETE /pipelines/{id}`.
    fn delete_pipeline(&self, id: &str) -> Result<()>;
}

/// What a streamed page reports besides its items (see [`KfpApi::list_jobs_each`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageInfo {
    /// Token of the next page; empty on the last page.
    pub next_page_token: String,
    /// How many items match in total (all pages).
    pub total_size: i32,
}

/// Walks every page of a list call starting from `options`, handing each page's items to `visit`, so that a
/// caller can keep a summary per page instead of the whole listing. `page_size` defaults to 200.
///
/// Stops with an error if the server hands back a page token it already gave (a server bug that would
/// otherwise loop forever).
pub fn for_each_page<T: ListItem>(
    options: &ListOptions,
    mut fetch: impl FnMut(&ListOptions) -> Result<Page<T>>,
    mut visit: impl FnMut(Vec<T>) -> Result<()>,
) -> Result<()> {
    walk_pages(options, T::LIST_PATH, |options| {
        let page = fetch(options)?;
        visit(page.items)?;
        Ok(page.next_page_token)
    })
}

/// What [`for_each_job`] hands over, in order.
#[derive(Debug)]
// Each event is moved into the callback once and never stored, so the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
pub enum JobsEvent {
    /// A page is about to be read. With `retry`, the previous attempt at this page broke off part-way and
    /// everything it handed over since the last `Page` is to be dropped: the page is read again from its start.
    Page {
        /// Whether this is another attempt at the same page.
        retry: bool,
    },
    /// The next job of the page, as soon as it is decoded.
    Job(Job),
}

/// How many times [`for_each_job`] reads a page again after its answer broke off part-way.
pub const PAGE_RETRIES: u32 = 3;

/// Walks every page of the jobs listing starting from `options` with [`KfpApi::list_jobs_each`], handing each
/// job to `visit` as it is decoded: memory holds one job at a time, not a page. `page_size` defaults to 200.
///
/// A page whose answer breaks off part-way (a lost connection or a timeout while it streams, which the client
/// does not retry because it already handed jobs over) is read again, up to [`PAGE_RETRIES`] times, after a
/// [`JobsEvent::Page`] with `retry` that tells `visit` to drop what that page delivered so far.
pub fn for_each_job(
    api: &dyn KfpApi,
    options: &ListOptions,
    mut visit: impl FnMut(JobsEvent),
) -> Result<()> {
    walk_pages(options, Job::LIST_PATH, |options| {
        let mut attempt = 0;
        loop {
            visit(JobsEvent::Page { retry: attempt > 0 });
            match api.list_jobs_each(options, &mut |job| visit(JobsEvent::Job(job))) {
                Ok(info) => return Ok(info.next_page_token),
                Err(err) if attempt < PAGE_RETRIES && broke_off(&err) => {
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_millis(100 << attempt));
                }
                Err(err) => return Err(err),
            }
        }
    })
}

/// An answer that stopped arriving part-way: worth reading again (a listing changes nothing on the server).
/// Failures before the answer began were already retried by the client.
fn broke_off(err: &Error) -> bool {
    matches!(
        err,
        Error::Transport {
            kind: crate::error::TransportKind::Interrupted,
            ..
        }
    )
}

/// The paging loop: `fetch` handles one page and returns its next token.
fn walk_pages(
    options: &ListOptions,
    list_path: &str,
    mut fetch: impl FnMut(&ListOptions) -> Result<String>,
) -> Result<()> {
    let mut options = options.clone();
    options.page_size.get_or_insert(MAX_PAGE_SIZE);
    let mut seen_tokens = std::collections::HashSet::new();
    loop {
        let next = fetch(&options)?;
        if next.is_empty() {
            return Ok(());
        }
        if !seen_tokens.insert(next.clone()) {
            return Err(Error::Decode {
                method: "GET".into(),
                path: format!("{API_PREFIX}{list_path}"),
                status: 200,
                message: "the server returned the same next_page_token twice".into(),
            });
        }
        // The server takes sort and filter from the token and rejects a request where they differ, so
        // only the first request carries them.
        options.page_token = Some(next);
        options.sort_by = None;
        options.filter = None;
    }
}

/// Collects every page of a list call into one vector.
pub fn list_all<T: ListItem>(
    options: &ListOptions,
    fetch: impl FnMut(&ListOptions) -> Result<Page<T>>,
) -> Result<Vec<T>> {
    let mut all = Vec::new();
    for_each_page(options, fetch, |items| {
        all.extend(items);
        Ok(())
    })?;
    Ok(all)
}

/// Every experiment of `namespace` (`None` = single-user mode, where the SDK sends an empty NAMESPACE key).
pub fn list_all_experiments(api: &dyn KfpApi, namespace: Option<&str>) -> Result<Vec<Experiment>> {
    let options = ListOptions::namespace(namespace.unwrap_or_default());
    list_all(&options, |o| api.list_experiments(o))
}

/// Every job in `scope`.
pub fn list_all_jobs(api: &dyn KfpApi, scope: &ListScope) -> Result<Vec<Job>> {
    list_all(&ListOptions::scoped(scope), |o| api.list_jobs(o))
}

/// Every run in `scope`.
pub fn list_all_runs(api: &dyn KfpApi, scope: &ListScope) -> Result<Vec<Run>> {
    list_all(&ListOptions::scoped(scope), |o| api.list_runs(o))
}

/// Every pipeline visible without a namespace (shared pipelines).
pub fn list_all_pipelines(api: &dyn KfpApi) -> Result<Vec<Pipeline>> {
    list_all(&ListOptions::default(), |o| api.list_pipelines(o))
}

/// Finds an experiment by exact name in `namespace` (`None` = single-user). The server's name filter may be
/// case-insensitive (MySQL collation), so the answer is checked for an exact match.
pub fn find_experiment_by_name(
    api: &dyn KfpApi,
    namespace: Option<&str>,
    name: &str,
) -> Result<Option<Experiment>> {
    let options = ListOptions::namespace(namespace.unwrap_or_default())
        .with_filter(Filter::name_equals(name));
    let found = list_all(&options, |o| api.list_experiments(o))?;
    Ok(found.into_iter().find(|e| e.name == name))
}
