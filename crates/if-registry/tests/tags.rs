//! `list_tags`: against a real registry (distribution 2.8, which ignores `n` on
//! `tags/list` and sends every tag in one page: pagination there arrived in v3), and
//! `Link` pagination against a scripted registry: relative and absolute links, pages
//! overlapping, the page bound, loops and links to other hosts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::net::{Answer, CountingProxy, FakeRegistry};
use common::push::Pusher;
use common::{RegistryAuth, client};
use if_model::reference::ImageRef;
use if_registry::{RegistryError, TagQuery, list_tags};

const SEVEN: [&str; 7] = [
    "v1.10",
    "v1.2",
    "latest",
    "1.0",
    "beta",
    "v1.9",
    "2024-01-01",
];

fn sorted_seven() -> Vec<&'static str> {
    let mut tags = SEVEN.to_vec();
    tags.sort_unstable();
    tags
}

#[test]
fn seven_tags_from_a_real_registry() {
    let registry = registry_or_skip!(RegistryAuth::None);
    let push = Pusher::new(&registry.addr, None);
    for (i, tag) in SEVEN.iter().enumerate() {
        // Two tags share a manifest: each is listed once all the same.
        push.oci_manifest("lib/app", tag, &format!("s{}", i % 6));
    }
    let proxy = CountingProxy::start(&registry.addr);
    let image = ImageRef::parse(&format!("{}/lib/app:ignored", proxy.addr)).unwrap();
    let query = TagQuery {
        page_size: 3,
        max_pages: 10,
    };
    let list = list_tags(&client(), &image, &query).unwrap();
    assert_eq!(list.tags, sorted_seven());
    // Distribution 2.8 answers `n=3` with every tag and no `Link`.
    assert_eq!((list.pages, list.truncated, list.requests), (1, false, 1));
    assert_eq!(proxy.requests(), ["GET /v2/lib/app/tags/list?n=3"]);
}

#[test]
fn unknown_repository_is_not_found() {
    let registry = registry_or_skip!(RegistryAuth::None);
    let err = list_tags(
        &client(),
        &registry.image("nothing/here"),
        &TagQuery::default(),
    )
    .unwrap_err();
    let RegistryError::NotFound { code, subject, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(code.as_deref(), Some("NAME_UNKNOWN"));
    assert_eq!(subject.reference, None);
    assert_eq!(subject.repository, "nothing/here");
}

fn page(tags: &[&str], link: Option<&str>) -> Answer {
    let body = serde_json::json!({"name": "lib/app", "tags": tags}).to_string();
    let answer = Answer::new(200)
        .header("Content-Type", "application/json")
        .body(body.as_bytes());
    match link {
        Some(link) => answer.header("Link", link),
        None => answer,
    }
}

#[test]
fn link_pagination_is_followed_deduplicated_and_sorted() {
    let fake = FakeRegistry::start(vec![
        page(
            &SEVEN[..3],
            Some(r#"</v2/lib/app/tags/list?n=3&last=latest>; rel="next""#),
        ),
        // Overlaps the first page by one tag.
        page(&SEVEN[2..5], None),
    ]);
    let image = ImageRef::parse(&format!("{}/lib/app", fake.addr)).unwrap();
    let query = TagQuery {
        page_size: 3,
        max_pages: 10,
    };
    let list = list_tags(&client(), &image, &query).unwrap();
    assert_eq!(list.tags, ["1.0", "beta", "latest", "v1.10", "v1.2"]);
    assert_eq!((list.pages, list.requests, list.truncated), (2, 2, false));
    assert_eq!(
        fake.requests(),
        [
            "GET /v2/lib/app/tags/list?n=3",
            "GET /v2/lib/app/tags/list?n=3&last=latest"
        ]
    );
}

#[test]
fn three_pages_with_relative_and_absolute_links() {
    let fake = FakeRegistry::start(Vec::new());
    let base = format!("http://{}", fake.addr);
    fake.push(page(
        &SEVEN[..3],
        Some(r#"</v2/lib/app/tags/list?n=3&last=latest>; rel="next""#),
    ));
    fake.push(page(
        &SEVEN[3..6],
        Some(&format!(
            r#"<{base}/v2/lib/app/tags/list?last=v1.9&n=3>; rel="next""#
        )),
    ));
    fake.push(page(&SEVEN[6..], None));
    let image = ImageRef::parse(&format!("{}/lib/app", fake.addr)).unwrap();
    let query = TagQuery {
        page_size: 3,
        max_pages: 10,
    };
    let list = list_tags(&client(), &image, &query).unwrap();
    assert_eq!(list.tags, sorted_seven());
    assert_eq!((list.pages, list.requests, list.truncated), (3, 3, false));
    assert_eq!(
        fake.requests(),
        [
            "GET /v2/lib/app/tags/list?n=3",
            "GET /v2/lib/app/tags/list?n=3&last=latest",
            "GET /v2/lib/app/tags/list?last=v1.9&n=3",
        ]
    );
}

#[test]
fn the_page_bound_truncates() {
    let next = r#"</v2/lib/app/tags/list?n=3&last=latest>; rel="next""#;
    let fake = FakeRegistry::start(vec![page(&SEVEN[..3], Some(next))]);
    let image = ImageRef::parse(&format!("{}/lib/app", fake.addr)).unwrap();
    let query = TagQuery {
        page_size: 3,
        max_pages: 1,
    };
    let list = list_tags(&client(), &image, &query).unwrap();
    assert_eq!((list.tags.len(), list.pages, list.truncated), (3, 1, true));
    assert_eq!(fake.requests().len(), 1);
}

#[test]
fn loops_and_foreign_links_are_invalid() {
    let same = r#"</v2/lib/app/tags/list?n=3>; rel="next""#;
    let fake = FakeRegistry::start(vec![page(&SEVEN[..3], Some(same))]);
    let image = ImageRef::parse(&format!("{}/lib/app", fake.addr)).unwrap();
    let err = list_tags(
        &client(),
        &image,
        &TagQuery {
            page_size: 3,
            max_pages: 10,
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, RegistryError::InvalidResponse { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("already fetched"), "{err}");

    let foreign = r#"<http://other.example.com/v2/lib/app/tags/list?n=3&last=x>; rel="next""#;
    let fake = FakeRegistry::start(vec![page(&SEVEN[..3], Some(foreign))]);
    let image = ImageRef::parse(&format!("{}/lib/app", fake.addr)).unwrap();
    let err = list_tags(&client(), &image, &TagQuery::default()).unwrap_err();
    assert!(
        matches!(err, RegistryError::InvalidResponse { .. }),
        "{err:?}"
    );
    assert_eq!(fake.requests().len(), 1, "the foreign link is not followed");
}
