//! Fetching one file (a managed image's Dockerfile) from its repository at its branch.
//!
//! The request goes through `http` (retries, `Retry-After`, budget, GitHub rate limits) like
//! a trigger; this module builds it from the provider modules' URL and headers and says what
//! the answer means: the text, a missing file, something that is not a file, a file too
//! large or not UTF-8. Unlike a trigger, a missing token is no error: the request is then
//! sent without one, which is enough for a public repository.

use if_model::enrollment::{Provider, Source, check_relative_path};
use serde_json::Value;

use crate::error::ForgeError;
use crate::http::{self, Call, Method, Reply};
use crate::{Client, github, gitlab};

/// Fetches `path` (normally `source.dockerfile`) from `source.repo` at `source.branch`, as
/// text.
///
/// GitHub: `GET {github_api}/repos/{owner}/{repo}/contents/{path}?ref={branch}` with
/// `Accept: application/vnd.github.raw+json`. GitLab: `GET {gitlab_api}/projects/{project}/
/// repository/files/{path}/raw?ref={branch}` with the project and the path each encoded as
/// one segment. The provider's token goes in its usual header when the client has one.
///
/// Fails with [`ForgeError::InvalidPath`] (no request) for a path that is empty, absolute
/// or climbs with `..`; [`ForgeError::FileNotFound`] on a 404; [`ForgeError::NotAFile`] for
/// a directory, a submodule or a symlink; [`ForgeError::FileTooLarge`] past
/// [`crate::MAX_FILE_BYTES`]; [`ForgeError::NotUtf8`]; and like [`crate::trigger`] for
/// other statuses and transport failures.
pub fn fetch_file(client: &Client, source: &Source, path: &str) -> Result<String, ForgeError> {
    check_relative_path(path).map_err(|problem| ForgeError::InvalidPath {
        repo: source.repo.clone(),
        path: path.to_owned(),
        problem,
    })?;
    let provider = source.provider;
    let token = client.optional_token(provider)?;
    let (url, headers) = match provider {
        Provider::Github => (
            github::file_url(
                &client.endpoints.github_api,
                &source.repo,
                path,
                &source.branch,
            ),
            github::headers(github::ACCEPT_RAW, token.as_ref(), &client.user_agent),
        ),
        Provider::Gitlab => (
            gitlab::file_url(
                &client.endpoints.gitlab_api,
                &source.repo,
                path,
                &source.branch,
            ),
            gitlab::file_headers(token.as_ref(), &client.user_agent),
        ),
    };
    let call = Call {
        provider,
        method: Method::Get,
        url,
        headers,
        body: String::new(),
        secrets: client.secrets(),
    };
    let reply = http::send(client, &call)?;
    let file = File {
        source,
        path,
        attempts: reply.attempts,
    };
    match reply.status {
        200 => file.content(&call, reply),
        404 => Err(ForgeError::FileNotFound {
            provider,
            repo: source.repo.clone(),
            branch: source.branch.clone(),
            path: path.to_owned(),
            url: call.url.clone(),
            message: http::reply_message(&call, &reply),
            authenticated: token.is_some(),
            attempts: reply.attempts,
        }),
        _ => Err(http::rejected(&call, &reply)),
    }
}

/// The file asked for, for the errors about its content.
struct File<'a> {
    source: &'a Source,
    path: &'a str,
    attempts: u32,
}

impl File<'_> {
    /// The text of a 200 answer.
    fn content(&self, call: &Call, reply: Reply) -> Result<String, ForgeError> {
        let (provider, repo, branch, path, attempts) = (
            self.source.provider,
            self.source.repo.clone(),
            self.source.branch.clone(),
            self.path.to_owned(),
            self.attempts,
        );
        if reply.oversize {
            return Err(ForgeError::FileTooLarge {
                provider,
                repo,
                branch,
                path,
                size: reply.content_length,
                max: http::MAX_BODY,
                attempts,
            });
        }
        if provider == Provider::Github {
            match github_json(&reply) {
                Some(Json::NotAFile(kind)) => {
                    return Err(ForgeError::NotAFile {
                        provider,
                        repo,
                        branch,
                        path,
                        kind,
                        attempts,
                    });
                }
                Some(Json::Description) => {
                    return Err(http::invalid_response(
                        call,
                        &reply,
                        "the file's JSON description instead of its raw content",
                    ));
                }
                None => {}
            }
        }
        String::from_utf8(reply.body).map_err(|err| ForgeError::NotUtf8 {
            provider,
            repo,
            branch,
            path,
            offset: err.utf8_error().valid_up_to(),
            attempts,
        })
    }
}

/// What a JSON answer from GitHub's contents endpoint says instead of the raw file.
#[derive(Debug, PartialEq, Eq)]
enum Json {
    /// A directory's listing, or the description of a submodule or a symlink: the kind.
    NotAFile(String),
    /// The JSON description of a file (base64 content): the raw media type was ignored.
    Description,
}

/// GitHub answers a directory, a submodule or a symlink out of the repository with JSON
/// (`application/json`) whatever media type was asked; a file comes raw. `None` for a raw
/// answer (any other media type, or JSON that is not such a description).
fn github_json(reply: &Reply) -> Option<Json> {
    if reply.mime_type.as_deref() != Some("application/json") {
        return None;
    }
    match serde_json::from_slice::<Value>(&reply.body).ok()? {
        Value::Array(_) => Some(Json::NotAFile("directory".to_owned())),
        Value::Object(object) => match object.get("type").and_then(Value::as_str)? {
            "file" => Some(Json::Description),
            "dir" => Some(Json::NotAFile("directory".to_owned())),
            kind => Some(Json::NotAFile(kind.to_owned())),
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(mime_type: Option<&str>, body: &str) -> Reply {
        Reply {
            status: 200,
            body: body.as_bytes().to_vec(),
            oversize: false,
            mime_type: mime_type.map(str::to_owned),
            content_length: None,
            attempts: 1,
        }
    }

    #[test]
    fn json_listings_and_descriptions_are_recognised() {
        let json = Some("application/json");
        assert_eq!(
            github_json(&reply(json, r#"[{"type":"file","name":"a"}]"#)),
            Some(Json::NotAFile("directory".to_owned()))
        );
        assert_eq!(
            github_json(&reply(json, r#"{"type":"submodule","sha":"x"}"#)),
            Some(Json::NotAFile("submodule".to_owned()))
        );
        assert_eq!(
            github_json(&reply(json, r#"{"type":"file","content":"RlJPTQ=="}"#)),
            Some(Json::Description)
        );
    }

    #[test]
    fn raw_answers_are_content_even_when_they_look_like_json() {
        let raw = Some("application/vnd.github.raw+json");
        assert_eq!(github_json(&reply(raw, "[1, 2]")), None);
        assert_eq!(github_json(&reply(None, "[1, 2]")), None);
        let json = Some("application/json");
        assert_eq!(github_json(&reply(json, "FROM x")), None);
        assert_eq!(github_json(&reply(json, r#"{"a":1}"#)), None);
    }
}
