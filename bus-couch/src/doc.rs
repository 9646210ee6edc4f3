//! Documents as they arrive (parsed and validated JSON) and as they leave (assembled from
//! a revision's stored body, its tree and its attachments).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::CouchError;
use crate::revtree::{Rev, path_from_revisions};

/// A stored attachment's metadata (its bytes are stored once per digest).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AttMeta {
    pub(crate) content_type: String,
    pub(crate) digest: String,
    pub(crate) length: u64,
    pub(crate) revpos: u64,
}

/// Attachments of one revision, by name.
pub(crate) type Atts = BTreeMap<String, AttMeta>;

/// An attachment in a write.
#[derive(Debug)]
pub(crate) enum AttInput {
    /// Keep what an earlier revision has under this name (or this digest).
    Stub { digest: Option<String> },
    /// New bytes.
    Data { content_type: String, data: Vec<u8> },
}

/// A document to write, validated.
#[derive(Debug)]
pub(crate) struct DocInput {
    pub(crate) id: String,
    pub(crate) rev: Option<Rev>,
    pub(crate) deleted: bool,
    /// `_revisions` as a path, newest first.
    pub(crate) revisions: Option<Vec<Rev>>,
    /// `None`: no `_attachments` field.
    pub(crate) atts: Option<BTreeMap<String, AttInput>>,
    pub(crate) body: Map<String, Value>,
}

/// `md5-<base64>`, the digest CouchDB and PouchDB give attachments.
pub(crate) fn digest(data: &[u8]) -> String {
    use md5::Digest as _;
    format!("md5-{}", B64.encode(md5::Md5::digest(data)))
}

/// Whether `id` may name a document (not `_local/`: those are separate).
pub(crate) fn validate_id(id: &str) -> Result<(), CouchError> {
    if id.is_empty() {
        return Err(CouchError::BadRequest(
            "Document id must not be empty".into(),
        ));
    }
    if id.starts_with('_') && !id.starts_with("_design/") {
        return Err(CouchError::BadRequest(
            "Only reserved document ids may start with underscore.".into(),
        ));
    }
    Ok(())
}

impl DocInput {
    /// Parses a document from its JSON. `id` overrides `_id` when the path names it.
    pub(crate) fn from_json(value: Value, id: Option<&str>) -> Result<DocInput, CouchError> {
        let Value::Object(mut map) = value else {
            return Err(CouchError::BadRequest(
                "Document must be a JSON object".into(),
            ));
        };
        let body_id = match map.remove("_id") {
            None => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => {
                return Err(CouchError::BadRequest(
                    "Document id must be a string".into(),
                ));
            }
        };
        let id = match (id, body_id) {
            (Some(path), Some(body)) if path != body => {
                return Err(CouchError::BadRequest(
                    "Document id in the body does not match the path".into(),
                ));
            }
            (Some(path), _) => path.to_owned(),
            (None, Some(body)) => body,
            (None, None) => String::new(),
        };
        let local = id.starts_with("_local/");
        let rev = match map.remove("_rev") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(match (Rev::parse(&s), s.strip_prefix("0-")) {
                (Some(r), _) => r,
                // A local document's revisions are `0-N` (in `_bulk_docs`, e.g. a delete).
                (None, Some(n)) if local && !n.is_empty() => Rev {
                    pos: 0,
                    hash: n.to_owned(),
                },
                _ => return Err(CouchError::BadRequest(format!("Invalid rev format: {s:?}"))),
            }),
            Some(_) => return Err(CouchError::BadRequest("Invalid rev format".into())),
        };
        let deleted = match map.remove("_deleted") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => b,
            Some(_) => return Err(CouchError::BadRequest("_deleted must be a boolean".into())),
        };
        let revisions = match map.remove("_revisions") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                path_from_revisions(&v)
                    .ok_or_else(|| CouchError::BadRequest("Invalid _revisions".into()))?,
            ),
        };
        let atts = match map.remove("_attachments") {
            None | Some(Value::Null) => None,
            Some(Value::Object(atts)) => Some(
                atts.into_iter()
                    .map(|(name, att)| Ok((name.clone(), parse_att(&name, att)?)))
                    .collect::<Result<_, CouchError>>()?,
            ),
            Some(_) => {
                return Err(CouchError::BadRequest(
                    "_attachments must be an object".into(),
                ));
            }
        };
        // Fields CouchDB accepts and ignores on writes.
        for ignored in [
            "_conflicts",
            "_deleted_conflicts",
            "_local_seq",
            "_revs_info",
        ] {
            map.remove(ignored);
        }
        // The replicator's own fields (CouchDB keeps them in the body).
        const KEPT: [&str; 5] = [
            "_replication_id",
            "_replication_state",
            "_replication_state_time",
            "_replication_state_reason",
            "_replication_stats",
        ];
        if let Some(bad) = map
            .keys()
            .find(|k| k.starts_with('_') && !KEPT.contains(&k.as_str()))
        {
            return Err(CouchError::DocValidation(format!(
                "Bad special document member: {bad}"
            )));
        }
        Ok(DocInput {
            id,
            rev,
            deleted,
            revisions,
            atts,
            body: map,
        })
    }
}

fn parse_att(name: &str, att: Value) -> Result<AttInput, CouchError> {
    if name.is_empty() || name.starts_with('_') {
        return Err(CouchError::BadRequest(format!(
            "Attachment name '{name}' must not be empty or start with an underscore"
        )));
    }
    let Value::Object(att) = att else {
        return Err(CouchError::BadRequest(format!(
            "Attachment {name} must be an object"
        )));
    };
    if att.get("stub").and_then(Value::as_bool) == Some(true) {
        return Ok(AttInput::Stub {
            digest: att.get("digest").and_then(Value::as_str).map(str::to_owned),
        });
    }
    let Some(data) = att.get("data") else {
        return Err(CouchError::BadRequest(format!(
            "Attachment {name} has neither data nor stub"
        )));
    };
    let Some(text) = data.as_str() else {
        return Err(CouchError::BadRequest(format!(
            "Attachment {name}: data must be a base64 string"
        )));
    };
    let data = B64
        .decode(text.as_bytes())
        .map_err(|e| CouchError::BadRequest(format!("Attachment {name}: invalid base64: {e}")))?;
    let content_type = att
        .get("content_type")
        .and_then(Value::as_str)
        .unwrap_or("application/octet-stream")
        .to_owned();
    Ok(AttInput::Data { content_type, data })
}

/// Options of a document read.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ReadOpts {
    pub(crate) revs: bool,
    pub(crate) conflicts: bool,
    pub(crate) deleted_conflicts: bool,
    pub(crate) revs_info: bool,
    pub(crate) attachments: bool,
    pub(crate) local_seq: bool,
}

/// Encodes bytes for an inline attachment.
pub(crate) fn base64(data: &[u8]) -> String {
    B64.encode(data)
}

/// The attachments object of a rendered document: stubs, or data when `inline` gives it.
pub(crate) fn atts_json(
    atts: &Atts,
    mut inline: impl FnMut(&AttMeta) -> Result<Option<Vec<u8>>, CouchError>,
) -> Result<Value, CouchError> {
    let mut out = Map::new();
    for (name, meta) in atts {
        let mut a = Map::new();
        a.insert("content_type".into(), meta.content_type.clone().into());
        a.insert("digest".into(), meta.digest.clone().into());
        a.insert("revpos".into(), meta.revpos.into());
        match inline(meta)? {
            Some(bytes) => {
                a.insert("data".into(), base64(&bytes).into());
            }
            None => {
                a.insert("length".into(), meta.length.into());
                a.insert("stub".into(), true.into());
            }
        }
        out.insert(name.clone(), Value::Object(a));
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_and_refuses() {
        let d = DocInput::from_json(
            json!({"_id": "a", "_rev": "1-x", "n": 1, "_attachments": {"f": {"content_type": "text/plain", "data": "aGk="}}}),
            None,
        )
        .unwrap();
        assert_eq!(d.id, "a");
        assert_eq!(d.rev.unwrap().to_string(), "1-x");
        assert!(matches!(&d.atts.unwrap()["f"], AttInput::Data { data, .. } if data == b"hi"));
        assert!(matches!(
            DocInput::from_json(json!({"_foo": 1}), None),
            Err(CouchError::DocValidation(_))
        ));
        assert!(matches!(
            DocInput::from_json(json!({"_rev": "x"}), None),
            Err(CouchError::BadRequest(_))
        ));
        assert!(DocInput::from_json(json!([1]), None).is_err());
        assert!(DocInput::from_json(json!({"_id": "b"}), Some("a")).is_err());
        assert!(validate_id("_foo").is_err());
        assert!(validate_id("_design/x").is_ok());
        assert_eq!(digest(b"hi"), "md5-SfaKXIST7CwL9ImCHCH8Ow==");
    }
}
