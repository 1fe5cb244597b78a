//! Decoding a `GET /jobs` answer while it arrives: each job is handed over as soon as it is decoded, so a page
//! of 200 jobs with megabyte manifests is never held at once, neither as the body nor as models.
//!
//! The answer is read exactly as [`crate::models::ListJobsResponse`] reads it: `jobs`, `next_page_token` and
//! `total_size` may be absent or `null`, a field may not appear twice, unknown fields are skipped, and each job
//! goes through the same `Job` deserializer (int64 as string or number, enums by name or number).

use std::fmt;
use std::io::Read;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::api::PageInfo;
use crate::models::Job;

/// Why a streamed answer could not be decoded, and how far it got.
#[derive(Debug)]
pub(crate) struct StreamFailure {
    /// The parse or read error.
    pub(crate) error: serde_json::Error,
    /// How many jobs had already been handed over.
    pub(crate) jobs_seen: usize,
}

/// Decodes one jobs page from `reader`, calling `visit` for each job in order. Pass a `BufReader` by value:
/// serde_json reads byte by byte, which is fast only through `BufReader`'s own `bytes()`.
pub(crate) fn decode_jobs(
    reader: impl Read,
    visit: &mut dyn FnMut(Job),
) -> Result<PageInfo, StreamFailure> {
    let mut seen = 0;
    let mut deserializer = serde_json::Deserializer::from_reader(reader);
    let result = JobsPage {
        visit,
        seen: &mut seen,
    }
    .deserialize(&mut deserializer)
    .and_then(|info| deserializer.end().map(|()| info));
    result.map_err(|error| StreamFailure {
        error,
        jobs_seen: seen,
    })
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Key {
    Jobs,
    NextPageToken,
    TotalSize,
    #[serde(other)]
    Other,
}

struct JobsPage<'a> {
    visit: &'a mut dyn FnMut(Job),
    seen: &'a mut usize,
}

impl<'de> DeserializeSeed<'de> for JobsPage<'_> {
    type Value = PageInfo;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<PageInfo, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for JobsPage<'_> {
    type Value = PageInfo;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a jobs listing (an object with jobs, next_page_token and total_size)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PageInfo, A::Error> {
        let Self { visit, seen } = self;
        let mut info = PageInfo::default();
        let (mut has_jobs, mut has_token, mut has_total) = (false, false, false);
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Jobs => {
                    once(&mut has_jobs, "jobs")?;
                    map.next_value_seed(Jobs {
                        visit: &mut *visit,
                        seen: &mut *seen,
                    })?;
                }
                Key::NextPageToken => {
                    once(&mut has_token, "next_page_token")?;
                    info.next_page_token = map.next_value::<Option<String>>()?.unwrap_or_default();
                }
                Key::TotalSize => {
                    once(&mut has_total, "total_size")?;
                    info.total_size = map.next_value::<Option<i32>>()?.unwrap_or_default();
                }
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(info)
    }
}

/// Rejects a repeated field, as the derived decoder of the buffered path does.
fn once<E: de::Error>(seen: &mut bool, field: &'static str) -> Result<(), E> {
    if std::mem::replace(seen, true) {
        Err(E::duplicate_field(field))
    } else {
        Ok(())
    }
}

struct Jobs<'a> {
    visit: &'a mut dyn FnMut(Job),
    seen: &'a mut usize,
}

impl<'de> DeserializeSeed<'de> for Jobs<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for Jobs<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of jobs")
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(job) = seq.next_element::<Job>()? {
            *self.seen += 1;
            (self.visit)(job);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::ListJobsResponse;

    fn names(body: &str) -> Result<(Vec<String>, PageInfo), StreamFailure> {
        let mut names = Vec::new();
        let info = decode_jobs(body.as_bytes(), &mut |job| names.push(job.name))?;
        Ok((names, info))
    }

    #[test]
    fn decodes_what_the_buffered_response_decodes() {
        for body in [
            r#"{"jobs":[{"id":"a","name":"x","max_concurrency":"3"},{"id":"b","max_concurrency":4}],
                "total_size":2,"next_page_token":"t","extra":{"nested":[1,2]}}"#,
            r#"{"jobs":null,"total_size":null,"next_page_token":null}"#,
            "{}",
            r#"{"next_page_token":"t","jobs":[]}"#,
        ] {
            let buffered: ListJobsResponse = serde_json::from_str(body).unwrap();
            let mut jobs = Vec::new();
            let info = decode_jobs(body.as_bytes(), &mut |job| jobs.push(job)).unwrap();
            assert_eq!(jobs, buffered.jobs, "{body}");
            assert_eq!(info.next_page_token, buffered.next_page_token, "{body}");
            assert_eq!(info.total_size, buffered.total_size, "{body}");
        }
    }

    #[test]
    fn rejects_what_the_buffered_response_rejects() {
        for body in [
            r#"{"jobs":[],"jobs":[]}"#,
            r#"{"total_size":"two"}"#,
            r#"{"jobs":{}}"#,
            r#"{"jobs":[]} trailing"#,
            r#"{"jobs":[{"max_concurrency":"many"}]}"#,
        ] {
            assert!(
                serde_json::from_str::<ListJobsResponse>(body).is_err(),
                "{body}"
            );
            assert!(names(body).is_err(), "{body}");
        }
    }

    #[test]
    fn a_body_that_ends_early_fails_after_the_jobs_it_held() {
        let failure =
            names(r#"{"jobs":[{"id":"a","name":"x"},{"id":"b","name":"y"},{"id":"c","na"#)
                .unwrap_err();
        assert_eq!(failure.jobs_seen, 2);
        assert!(failure.error.is_eof(), "{}", failure.error);
    }
}
