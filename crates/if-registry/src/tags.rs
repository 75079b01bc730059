//! `list_tags`: every tag of a repository, `GET /v2/<name>/tags/list?n=..` following
//! `Link: <...>; rel="next"` for a bounded number of pages, de-duplicated and sorted here.

use std::collections::{BTreeSet, HashSet};

use if_model::reference::ImageRef;

use crate::Client;
use crate::endpoint::next_link;
use crate::error::{RegistryError, Subject};
use crate::http::{Method, Tally};
use crate::ratelimit::RateLimit;
use crate::session::{self, Endpoint};

/// How tags are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagQuery {
    /// Tags asked for per page (`n`); a registry may send fewer (0 counts as 1).
    pub page_size: u32,
    /// The most pages fetched (0 counts as 1); past them the list is `truncated`.
    pub max_pages: u32,
}

impl Default for TagQuery {
    fn default() -> Self {
        TagQuery {
            page_size: 100,
            max_pages: 100,
        }
    }
}

/// A repository's tags.
#[derive(Debug)]
pub struct TagList {
    /// Every tag listed, once each, sorted by bytes.
    pub tags: Vec<String>,
    /// Pages fetched.
    pub pages: u32,
    /// True when the registry had more pages than `TagQuery::max_pages` allowed.
    pub truncated: bool,
    /// The rate limit reported with the last page.
    pub rate_limit: Option<RateLimit>,
    /// HTTP requests this call made, auth and retries included.
    pub requests: u32,
    /// The host that answered.
    pub host: String,
    /// Why the configured mirror was not used, when it failed and the registry answered.
    pub mirror_failure: Option<Box<RegistryError>>,
}

/// Lists the tags of `image`'s repository (its tag and digest are ignored).
pub fn list_tags(
    client: &Client,
    image: &ImageRef,
    query: &TagQuery,
) -> Result<TagList, RegistryError> {
    let subject = Subject {
        registry: image.registry().to_owned(),
        repository: image.repository().to_owned(),
        reference: None,
    };
    let tally = Tally::default();
    let (mut list, mirror_failure) = session::with_fallback(client, &subject, |endpoint| {
        list_at(client, endpoint, query, &tally)
    })?;
    list.requests = tally.get();
    list.mirror_failure = mirror_failure;
    Ok(list)
}

fn list_at(
    client: &Client,
    endpoint: &Endpoint<'_>,
    query: &TagQuery,
    tally: &Tally,
) -> Result<TagList, RegistryError> {
    let mut url = endpoint.url(&format!("tags/list?n={}", query.page_size.max(1)));
    let mut tags = BTreeSet::new();
    let mut seen = HashSet::new();
    let mut pages = 0;
    let mut rate_limit = None;
    let max_pages = query.max_pages.max(1);
    loop {
        seen.insert(url.clone());
        let (request, reply) = session::send_authed(
            client,
            endpoint,
            Method::Get,
            url,
            "application/json",
            tally,
        )?;
        pages += 1;
        let invalid = |message: String| RegistryError::InvalidResponse {
            subject: Box::new(endpoint.subject.clone()),
            host: endpoint.origin.authority.clone(),
            url: request.url.clone(),
            status: reply.status,
            message,
        };
        if reply.status != 200 {
            return Err(endpoint.status_error(client, &request, &reply));
        }
        let json: serde_json::Value = serde_json::from_slice(&reply.body)
            .map_err(|e| invalid(format!("the tag list is not JSON: {e}")))?;
        match json.get("tags") {
            Some(serde_json::Value::Array(items)) => {
                for item in items {
                    let tag = item
                        .as_str()
                        .ok_or_else(|| invalid(format!("a tag that is not a string: {item}")))?;
                    tags.insert(tag.to_owned());
                }
            }
            // Distribution sends `null` for a repository without tags.
            Some(serde_json::Value::Null) | None => {}
            Some(other) => return Err(invalid(format!("`tags` is not a list: {other}"))),
        }
        rate_limit = RateLimit::from_headers(&reply.headers).or(rate_limit);
        let links = reply
            .headers
            .get_all("link")
            .iter()
            .filter_map(|v| v.to_str().ok());
        let next = next_link(links, &endpoint.origin).map_err(invalid)?;
        let Some(next) = next else {
            return Ok(list(endpoint, tags, pages, false, rate_limit));
        };
        if seen.contains(&next) {
            return Err(invalid(format!(
                "the next page `{next}` was already fetched"
            )));
        }
        if pages >= max_pages {
            return Ok(list(endpoint, tags, pages, true, rate_limit));
        }
        url = next;
    }
}

fn list(
    endpoint: &Endpoint<'_>,
    tags: BTreeSet<String>,
    pages: u32,
    truncated: bool,
    rate_limit: Option<RateLimit>,
) -> TagList {
    TagList {
        tags: tags.into_iter().collect(),
        pages,
        truncated,
        rate_limit,
        requests: 0,
        host: endpoint.origin.authority.clone(),
        mirror_failure: None,
    }
}
