//! `GET /v1/models` and `GET /v1/models/{model}` (`OLLAMA_API.md` §7.4).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ModelName;
use crate::time::parse_rfc3339;
use crate::wire::{ListResponse, ModelEntry, ShowResponse};

/// The model list. `data` is `null` when there are no models, as in Ollama.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelList {
    /// `list`.
    pub object: String,
    /// The models (`null` on the wire when empty).
    #[serde(serialize_with = "null_when_empty", deserialize_with = "empty_when_null", default)]
    pub data: Vec<ModelObject>,
}

/// One model.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelObject {
    /// The model's listed name (`llama3.2:latest`) or the requested one.
    pub id: String,
    /// `model`.
    pub object: String,
    /// `modified_at` in Unix seconds.
    pub created: i64,
    /// The namespace (`library` for official models).
    pub owned_by: String,
}

impl ModelList {
    /// The list for a native `/api/tags` response.
    pub fn from_native(native: &ListResponse) -> Self {
        Self {
            object: "list".to_owned(),
            data: native.models.iter().map(ModelObject::from_entry).collect(),
        }
    }
}

impl ModelObject {
    /// The object for one `/api/tags` entry.
    pub fn from_entry(entry: &ModelEntry) -> Self {
        Self::new(&entry.name, &entry.modified_at)
    }

    /// The object `GET /v1/models/{model}` returns: `id` is the path
    /// parameter, `created` the `modified_at` of `/api/show`.
    pub fn from_show(show: &ShowResponse, model: &str) -> Self {
        Self::new(model, show.modified_at.as_deref().unwrap_or_default())
    }

    fn new(id: &str, modified_at: &str) -> Self {
        // Go's ParseName yields empty parts for a name it cannot parse.
        let owned_by = ModelName::parse(id).map(|n| n.namespace().to_owned()).unwrap_or_default();
        let created = parse_rfc3339(modified_at).map_or(0, |ns| ns.div_euclid(1_000_000_000));
        Self {
            id: id.to_owned(),
            object: "model".to_owned(),
            created: i64::try_from(created).unwrap_or(0),
            owned_by,
        }
    }
}

fn null_when_empty<S: Serializer>(data: &[ModelObject], serializer: S) -> Result<S::Ok, S::Error> {
    if data.is_empty() { serializer.serialize_none() } else { data.serialize(serializer) }
}

fn empty_when_null<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<ModelObject>, D::Error> {
    Ok(Option::<Vec<ModelObject>>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn empty_list_is_null() {
        let list = ModelList::from_native(&ListResponse::default());
        assert_eq!(serde_json::to_string(&list).unwrap(), r#"{"object":"list","data":null}"#);
        let back: ModelList = serde_json::from_str(r#"{"object":"list","data":null}"#).unwrap();
        assert!(back.data.is_empty());
    }

    #[test]
    fn entries_convert() {
        let native = ListResponse {
            models: vec![
                ModelEntry {
                    name: "llama3.2:latest".to_owned(),
                    modified_at: "2025-05-04T17:37:44.706015396-07:00".to_owned(),
                    ..ModelEntry::default()
                },
                ModelEntry {
                    name: "hf.co/user/repo:Q4_K_M".to_owned(),
                    modified_at: "1970-01-01T00:00:10Z".to_owned(),
                    ..ModelEntry::default()
                },
            ],
        };
        let list = serde_json::to_value(ModelList::from_native(&native)).unwrap();
        assert_eq!(
            list,
            json!({"object": "list", "data": [
                {"id": "llama3.2:latest", "object": "model", "created": 1_746_405_464,
                 "owned_by": "library"},
                {"id": "hf.co/user/repo:Q4_K_M", "object": "model", "created": 10,
                 "owned_by": "user"}]})
        );
    }

    #[test]
    fn from_show_uses_the_path_name() {
        let show = ShowResponse {
            modified_at: Some("1970-01-01T00:01:00Z".to_owned()),
            ..ShowResponse::default()
        };
        let m = ModelObject::from_show(&show, "llama3.2");
        assert_eq!((m.id.as_str(), m.created, m.owned_by.as_str()), ("llama3.2", 60, "library"));
    }
}
