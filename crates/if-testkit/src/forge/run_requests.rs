//! The requests of the run endpoints, checked as documented: GitHub's "Get a workflow run"
//! and "List workflow runs for a workflow" (its query), GitLab's "Get a single pipeline".

use if_model::enrollment::Provider;
use if_model::timestamp::Timestamp;

use super::files::expect_no_body;
use super::{
    Answer, GITHUB_ACCEPT, ListFilter, Tokens, Verdict, expect_github_headers, query_pairs,
    refused_since, sent_token, unauthorized,
};
use crate::wire::Request;

/// The query parameters of "List workflow runs for a workflow".
const LIST_PARAMETERS: [&str; 10] = [
    "actor",
    "branch",
    "event",
    "status",
    "per_page",
    "page",
    "created",
    "exclude_pull_requests",
    "check_suite_id",
    "head_sha",
];
/// A GET of a run endpoint: the token is required (the fake's repositories are private),
/// GitHub's headers, no body; `answer` when all is right.
pub(crate) fn check_get(
    provider: Provider,
    request: &Request,
    tokens: &Tokens,
    mut violations: Vec<String>,
    answer: Answer,
) -> Verdict {
    if sent_token(request, provider, tokens, &mut violations) != Ok(true) {
        return unauthorized(
            provider,
            violations,
            "missing or wrong token on a run request",
        );
    }
    let before = violations.len();
    let key = match provider {
        Provider::Github => {
            expect_github_headers(request, GITHUB_ACCEPT, &mut violations);
            "message"
        }
        Provider::Gitlab => "error",
    };
    expect_no_body(request, &mut violations);
    if violations.len() > before {
        return refused_since(violations, before, 400, key);
    }
    Verdict { violations, answer }
}

/// The query of "List workflow runs for a workflow": only documented parameters, each
/// once, percent-encoded; `per_page` 1–100 (default 30), `page` from 1, `created` in
/// GitHub's search date syntax (the fake implements `>=DATE` and `>=DATE-TIME`).
pub(crate) fn list_filter(query: Option<&str>, violations: &mut Vec<String>) -> ListFilter {
    let mut filter = ListFilter {
        event: None,
        branch: None,
        status: None,
        created_since: None,
        per_page: 30,
        page: 1,
    };
    let mut seen: Vec<&str> = Vec::new();
    for (name, value) in query_pairs(query, violations) {
        if !LIST_PARAMETERS.contains(&name) {
            violations.push(format!("unexpected query parameter {name:?}"));
            continue;
        }
        if seen.contains(&name) {
            violations.push(format!("query parameter {name:?} given twice"));
            continue;
        }
        seen.push(name);
        let Some(value) = value else { continue };
        match name {
            "event" => filter.event = Some(value),
            "branch" => filter.branch = Some(value),
            "status" => filter.status = Some(value),
            "created" => filter.created_since = created_since(&value, violations),
            "per_page" => match value.parse::<usize>() {
                Ok(n) if (1..=100).contains(&n) => filter.per_page = n,
                _ => violations.push(format!("per_page {value:?} is not 1 to 100")),
            },
            "page" => match value.parse::<usize>() {
                Ok(n) if n >= 1 => filter.page = n,
                _ => violations.push(format!("page {value:?} is not a number from 1")),
            },
            _ => {}
        }
    }
    filter
}

/// `>=YYYY-MM-DD` or `>=` and an RFC 3339 date-time.
fn created_since(value: &str, violations: &mut Vec<String>) -> Option<Timestamp> {
    let parsed = value.strip_prefix(">=").and_then(|at| {
        Timestamp::parse(at)
            .or_else(|_| Timestamp::parse(&format!("{at}T00:00:00Z")))
            .ok()
    });
    if parsed.is_none() {
        violations.push(format!(
            "created {value:?} is not GitHub's `>=YYYY-MM-DDTHH:MM:SSZ` (or `>=YYYY-MM-DD`)"
        ));
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_query_is_checked() {
        let mut v = Vec::new();
        let f = list_filter(
            Some(
                "event=workflow_dispatch&branch=release%2F1.x&created=%3E%3D2027-01-01T00%3A00%3A00Z&per_page=100",
            ),
            &mut v,
        );
        assert!(v.is_empty(), "{v:?}");
        assert_eq!(f.branch.as_deref(), Some("release/1.x"));
        assert_eq!(f.per_page, 100);
        assert_eq!(
            f.created_since,
            Some(Timestamp::parse("2027-01-01T00:00:00Z").unwrap())
        );
        let mut v = Vec::new();
        list_filter(
            Some("created=>=2027-01-01&per_page=101&sort=asc&branch=a&branch=b"),
            &mut v,
        );
        assert_eq!(v.len(), 4, "{v:?}");
        let mut v = Vec::new();
        list_filter(Some("created=2027-01-01"), &mut v);
        assert_eq!(v.len(), 1, "{v:?}");
    }
}
