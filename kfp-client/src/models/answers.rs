//! Answers that are not resources: health, error bodies, pages and list responses.

use super::*;

/// Answer of `GET /healthz`, in either shape: the API server's own (`commit_sha`, `tag_name`, `multi_user`) or
/// the UI proxy's (`apiServerReady`, `frontendTagName`, ..., plus `multi_user` when the API server answered).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Healthz {
    /// API server commit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit_sha: Option<String>,
    /// API server version tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_name: Option<String>,
    /// Whether the deployment runs in multi-user mode (missing when the UI cannot reach the API server).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multi_user: Option<bool>,
    /// UI proxy: build date.
    #[serde(rename = "buildDate", skip_serializing_if = "Option::is_none")]
    pub build_date: Option<String>,
    /// UI proxy: frontend commit.
    #[serde(rename = "frontendCommitHash", skip_serializing_if = "Option::is_none")]
    pub frontend_commit_hash: Option<String>,
    /// UI proxy: frontend version tag.
    #[serde(rename = "frontendTagName", skip_serializing_if = "Option::is_none")]
    pub frontend_tag_name: Option<String>,
    /// UI proxy: whether the API server behind it answered.
    #[serde(rename = "apiServerReady", skip_serializing_if = "Option::is_none")]
    pub api_server_ready: Option<bool>,
    /// UI proxy: API server commit.
    #[serde(
        rename = "apiServerCommitHash",
        skip_serializing_if = "Option::is_none"
    )]
    pub api_server_commit_hash: Option<String>,
    /// UI proxy: API server version tag.
    #[serde(rename = "apiServerTagName", skip_serializing_if = "Option::is_none")]
    pub api_server_tag_name: Option<String>,
    /// UI proxy: the API server's multi-user flag.
    #[serde(rename = "apiServerMultiUser", skip_serializing_if = "Option::is_none")]
    pub api_server_multi_user: Option<bool>,
}

impl Healthz {
    /// Whether the API server is reachable: true for a direct answer, `apiServerReady` through the UI proxy.
    pub fn api_server_ready(&self) -> bool {
        self.api_server_ready.unwrap_or(true)
    }

    /// The multi-user flag from whichever shape answered.
    pub fn is_multi_user(&self) -> Option<bool> {
        self.multi_user.or(self.api_server_multi_user)
    }

    /// The API server's version tag from whichever shape answered.
    pub fn server_version(&self) -> Option<&str> {
        self.tag_name
            .as_deref()
            .or(self.api_server_tag_name.as_deref())
    }
}

/// One detail of an error body: `{"@type": "type.googleapis.com/api.Error", error_message, error_details}`
/// (KFP 1.8.5) or `{"@type": "type.googleapis.com/google.rpc.Status", code, message}` (KFP 2.x).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorDetail {
    /// The protobuf Any type URL.
    #[serde(
        rename = "@type",
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub type_url: String,
    /// The user-facing message.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub error_message: String,
    /// The full internal error chain.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub error_details: String,
    /// KFP 2.x: a `google.rpc.Status` detail's message (the external message; `Internal Server Error` for
    /// every 500).
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub message: String,
}

/// What KFP 2.x puts in the detail of every internal error instead of a message.
const OPAQUE_DETAIL: &str = "Internal Server Error";

/// An error body, in any of the shapes KFP uses: the gateway's `{error, code, message, details}`, KFP ≥ 2.14's
/// `{code, message, details}`, and the upload handlers' `{error_message, error_details}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ErrorBody {
    /// gRPC status message (grpc-gateway v1).
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub error: String,
    /// gRPC code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
    /// gRPC status message.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub message: String,
    /// `api.Error` details.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub details: Vec<ErrorDetail>,
    /// Upload handlers: the message.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub error_message: String,
    /// Upload handlers: the details.
    #[serde(
        skip_serializing_if = "String::is_empty",
        deserialize_with = "null_as_default"
    )]
    pub error_details: String,
}

impl ErrorBody {
    /// Whether any known field is set (a JSON body that is not an error body at all has none).
    pub fn is_recognized(&self) -> bool {
        !(self.error.is_empty()
            && self.message.is_empty()
            && self.error_message.is_empty()
            && self.details.is_empty())
    }

    /// The most user-facing message available: the `api.Error` external message, a KFP 2.x status detail's
    /// message unless it is the opaque `Internal Server Error`, then the status message.
    pub fn user_message(&self) -> &str {
        self.details
            .iter()
            .map(|d| d.error_message.as_str())
            .find(|m| !m.is_empty())
            .or_else(|| {
                self.details
                    .iter()
                    .map(|d| d.message.as_str())
                    .find(|m| !m.is_empty() && *m != OPAQUE_DETAIL)
            })
            .or_else(|| Some(self.message.as_str()).filter(|m| !m.is_empty()))
            .or_else(|| Some(self.error.as_str()).filter(|m| !m.is_empty()))
            .unwrap_or(self.error_message.as_str())
    }

    /// The full internal chain when it adds something to [`ErrorBody::user_message`].
    pub fn internal_details(&self) -> Option<&str> {
        let user = self.user_message();
        [
            self.message.as_str(),
            self.error.as_str(),
            self.error_details.as_str(),
        ]
        .into_iter()
        .chain(self.details.iter().map(|d| d.error_details.as_str()))
        .find(|d| !d.is_empty() && *d != user)
    }
}

/// One page of a list call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// How many items match in total (all pages).
    pub total_size: i32,
    /// Token of the next page; empty on the last page.
    pub next_page_token: String,
}

impl<T> Default for Page<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            total_size: 0,
            next_page_token: String::new(),
        }
    }
}

impl<T> Page<T> {
    /// Whether more pages follow.
    pub fn has_next(&self) -> bool {
        !self.next_page_token.is_empty()
    }
}

macro_rules! list_response {
    ($(#[$meta:meta])* $name:ident, $field:ident, $item:ty) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(default)]
        pub struct $name {
            /// The items.
            #[serde(deserialize_with = "null_as_default")]
            pub $field: Vec<$item>,
            /// Count of all matches (int32).
            #[serde(deserialize_with = "null_as_default")]
            pub total_size: i32,
            /// Token of the next page; absent on the last page.
            #[serde(deserialize_with = "null_as_default")]
            pub next_page_token: String,
        }

        impl From<$name> for Page<$item> {
            fn from(response: $name) -> Self {
                Page {
                    items: response.$field,
                    total_size: response.total_size,
                    next_page_token: response.next_page_token,
                }
            }
        }
    };
}

list_response!(
    /// `GET /experiments` answer.
    ListExperimentsResponse, experiments, Experiment
);
list_response!(
    /// `GET /jobs` answer.
    ListJobsResponse, jobs, Job
);
list_response!(
    /// `GET /runs` answer.
    ListRunsResponse, runs, Run
);
list_response!(
    /// `GET /pipelines` answer.
    ListPipelinesResponse, pipelines, Pipeline
);
list_response!(
    /// `GET /pipeline_versions` answer.
    ListPipelineVersionsResponse, versions, PipelineVersion
);
