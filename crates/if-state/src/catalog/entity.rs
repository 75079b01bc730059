//! The entity of one enrolled image and of one base image: annotations, tags, links and
//! description from its entry and state.

use std::collections::BTreeMap;

use if_model::digest::Digest;
use if_model::enrollment::{ImageEntry, Provider};
use if_model::state::{BaseImageState, ImageState};

use super::{CatalogOptions, Entity, Link, Source, annotation, source_of};

pub(super) fn image_entity(
    entry: &ImageEntry,
    state: Option<&ImageState>,
    name: &str,
    depends_on: Vec<String>,
    options: &CatalogOptions,
) -> Entity {
    let source = source_of(entry);
    let mut a = BTreeMap::new();
    let mut put = |key: &str, value: Option<String>| {
        if let Some(v) = value {
            a.insert(annotation(key), v);
        }
    };
    put("image-name", Some(entry.name.clone()));
    put("kind", Some(source.as_str().to_string()));
    put("registry", Some(entry.registry.clone()));
    put("repository", Some(entry.repository.clone()));
    put("auto-rebuild", Some(entry.auto_rebuild.to_string()));
    put("rebuild-delay", Some(entry.rebuild_delay.to_string()));
    put("allow-tags", entry.allow_tags.clone());
    let mut tags = vec![source.as_str().to_string()];
    let mut links = Vec::new();
    let mut description = match source {
        Source::Managed => "Container image built by Image Factory".to_string(),
        _ => "External container image watched by Image Factory".to_string(),
    };
    if let Some(src) = &entry.source {
        let provider = src.provider.as_str();
        tags.push(provider.to_string());
        put("source-provider", Some(provider.to_string()));
        put("source-repo", Some(src.repo.clone()));
        put("source-branch", Some(src.branch.clone()));
        put("dockerfile", Some(src.dockerfile.clone()));
        let (repo_url, file_url, forge) = match src.provider {
            Provider::Github => {
                let repo = format!("https://github.com/{}", src.repo);
                let file = format!("{repo}/blob/{}/{}", src.branch, src.dockerfile);
                (repo, file, "GitHub")
            }
            Provider::Gitlab => {
                let repo = format!("https://gitlab.com/{}", src.repo);
                let file = format!("{repo}/-/blob/{}/{}", src.branch, src.dockerfile);
                (repo, file, "GitLab")
            }
        };
        put("source-url", Some(repo_url.clone()));
        description = format!(
            "{description} from {} ({forge}, {}).",
            src.repo, src.dockerfile
        );
        links.push(Link {
            url: repo_url,
            title: format!("Source repository ({forge})"),
        });
        links.push(Link {
            url: file_url,
            title: "Dockerfile".to_string(),
        });
    } else {
        description.push('.');
    }
    if let Some(s) = state {
        put("current-digest", s.current_digest.as_ref().map(digest_text));
        put("current-version", s.current_version.clone());
        put("last-built", s.last_built.map(|t| t.to_string()));
        let rebuild = s.rebuild_state.as_ref();
        put(
            "rebuild-status",
            Some(
                rebuild
                    .and_then(|r| r.status.clone())
                    .unwrap_or_else(|| "monitoring".to_string()),
            ),
        );
        put(
            "rebuild-scheduled-for",
            rebuild
                .and_then(|r| r.rebuild_scheduled_for)
                .map(|t| t.to_string()),
        );
        put(
            "rebuild-reason",
            rebuild.and_then(|r| r.rebuild_reason.clone()),
        );
        put("rebuild-error", rebuild.and_then(|r| r.last_error.clone()));
        put("discovery-status", s.discovery_status.clone());
        put("discovery-error", s.discovery_error.clone());
        put("last-discovery", s.last_discovery.map(|t| t.to_string()));
        put("check-error", s.check_error.clone());
        put(
            "check-error-since",
            s.check_error_since.map(|t| t.to_string()),
        );
    }
    Entity {
        source,
        image_name: entry.name.clone(),
        name: name.to_string(),
        title: entry.repo_url(),
        description,
        annotations: a,
        tags,
        links,
        owner: options.owner.clone(),
        system: options.system.clone(),
        depends_on,
    }
}

pub(super) fn base_entity(base: &BaseImageState, name: &str, options: &CatalogOptions) -> Entity {
    let reference = base.image_ref();
    let title = reference
        .as_ref()
        .map(|r| r.familiar())
        .or_else(|| base.full_image.clone())
        .unwrap_or_else(|| base.name.clone());
    let mut a = BTreeMap::new();
    let mut put = |key: &str, value: Option<String>| {
        if let Some(v) = value {
            a.insert(annotation(key), v);
        }
    };
    put("image-name", Some(base.name.clone()));
    put("kind", Some(Source::Base.as_str().to_string()));
    put(
        "registry",
        reference
            .as_ref()
            .map(|r| r.registry().to_string())
            .or_else(|| base.registry.clone()),
    );
    put(
        "repository",
        reference
            .as_ref()
            .map(|r| r.repository().to_string())
            .or_else(|| base.repository.clone()),
    );
    put(
        "tag",
        reference
            .as_ref()
            .and_then(|r| r.tag().map(str::to_string))
            .or_else(|| base.tag.clone()),
    );
    put(
        "current-digest",
        base.current_digest.as_ref().map(digest_text),
    );
    put("last-updated", base.last_updated.map(|t| t.to_string()));
    put("last-checked", base.last_checked.map(|t| t.to_string()));
    put("check-error", base.check_error.clone());
    put(
        "check-error-since",
        base.check_error_since.map(|t| t.to_string()),
    );
    let mut dependents = base.dependent_images.clone();
    dependents.sort();
    dependents.dedup();
    let used_by = if dependents.is_empty() {
        String::new()
    } else {
        format!("; used by {}", dependents.join(", "))
    };
    Entity {
        source: Source::Base,
        image_name: base.name.clone(),
        name: name.to_string(),
        title: title.clone(),
        description: format!("Base image {title}, watched by Image Factory{used_by}."),
        annotations: a,
        tags: vec![Source::Base.as_str().to_string()],
        links: Vec::new(),
        owner: options.owner.clone(),
        system: options.system.clone(),
        depends_on: Vec::new(),
    }
}

fn digest_text(d: &Digest) -> String {
    d.to_string()
}
