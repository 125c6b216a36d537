//! What the registry knows about one model on one endpoint, built from
//! `/api/tags`, `/api/show` and `/api/ps`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use om_core::wire::{ModelEntry, RunningModel, ShowResponse};
use om_core::{Capabilities, Capability, ModelName, ParseNameError};

/// One model as an endpoint has it.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// The normalised name.
    pub name: ModelName,
    /// Architecture family (`llama`, `qwen2`), lower-cased; may be empty.
    pub family: String,
    /// Every family the model belongs to, lower-cased.
    pub families: Vec<String>,
    /// The parameter size as Ollama prints it (`"7.6B"`).
    pub parameter_size: String,
    /// The parameter count: `general.parameter_count` from `/api/show`, or
    /// else [`parse_parameter_count`] of `parameter_size`.
    pub parameters: Option<u64>,
    /// `Q4_K_M`, `F16`, …
    pub quantization: String,
    /// The trained context length in tokens (`<arch>.context_length`), when
    /// known.
    pub context_length: Option<u64>,
    /// What the model can do.
    pub capabilities: Capabilities,
    /// Bytes on disk.
    pub size: u64,
    /// The manifest digest (64 hex characters); a new digest means the
    /// model changed.
    pub digest: String,
    /// When the model was last pulled or created there (`modified_at` of
    /// `/api/tags`), when the server said; a gateway lists the newest copy.
    pub modified_at: Option<SystemTime>,
    /// The weights' file format (`gguf`, `safetensors`); may be empty.
    pub format: String,
}

impl ModelInfo {
    /// A model with this name and nothing else known; it is assumed to do
    /// plain completion.
    pub fn new(name: ModelName) -> Self {
        Self {
            name,
            family: String::new(),
            families: Vec::new(),
            parameter_size: String::new(),
            parameters: None,
            quantization: String::new(),
            context_length: None,
            capabilities: Capabilities::of(&[Capability::Completion]),
            size: 0,
            digest: String::new(),
            modified_at: None,
            format: String::new(),
        }
    }

    /// Builds the model from its `/api/tags` entry and, when fetched, its
    /// `/api/show` response (which wins where both say something).
    ///
    /// Capabilities come from `show`, else from the tags entry; a server
    /// too old to list them is assumed to offer plain completion. The
    /// context length comes from `model_info["<arch>.context_length"]`, else
    /// from the tags entry's `details.context_length`.
    ///
    /// # Errors
    ///
    /// When the entry's name is not a valid model name.
    pub fn from_wire(
        entry: &ModelEntry,
        show: Option<&ShowResponse>,
    ) -> Result<Self, ParseNameError> {
        let text = if entry.model.is_empty() { &entry.name } else { &entry.model };
        let name: ModelName = text.parse()?;
        let details = show.map_or(&entry.details, |s| &s.details);
        let pick = |show: &str, tags: &str| {
            if show.is_empty() { tags.to_owned() } else { show.to_owned() }
        };
        let family = pick(&details.family, &entry.details.family).to_ascii_lowercase();
        let mut families: Vec<String> = details
            .families
            .as_ref()
            .or(entry.details.families.as_ref())
            .map(|f| f.iter().map(|f| f.to_ascii_lowercase()).collect())
            .unwrap_or_default();
        if !family.is_empty() && !families.contains(&family) {
            families.insert(0, family.clone());
        }
        let parameter_size = pick(&details.parameter_size, &entry.details.parameter_size);
        let parameters = show
            .and_then(|s| s.model_info.get("general.parameter_count"))
            .and_then(|v| {
                v.as_u64().or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f.round() as u64))
            })
            .or_else(|| parse_parameter_count(&parameter_size));
        let capabilities =
            show.and_then(|s| s.capabilities.as_ref()).or(entry.capabilities.as_ref()).map_or_else(
                || Capabilities::of(&[Capability::Completion]),
                |names| Capabilities::from_names(names.iter().map(String::as_str)),
            );
        Ok(Self {
            name,
            family,
            families,
            quantization: pick(&details.quantization_level, &entry.details.quantization_level),
            parameter_size,
            parameters,
            context_length: show
                .and_then(ShowResponse::context_length)
                .or(entry.details.context_length),
            capabilities,
            size: entry.size,
            digest: entry.digest.clone(),
            modified_at: om_core::time::parse_rfc3339(&entry.modified_at).map(unix_nanos_to_time),
            format: pick(&details.format, &entry.details.format),
        })
    }

    /// True when the model belongs to `family` (compared without case).
    pub fn is_family(&self, family: &str) -> bool {
        self.families.iter().any(|f| f.eq_ignore_ascii_case(family))
            || self.family.eq_ignore_ascii_case(family)
    }
}

/// A model loaded in an endpoint's memory, from `/api/ps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedModel {
    /// The normalised name.
    pub name: ModelName,
    /// How it is loaded.
    pub state: Loaded,
}

/// How a model is loaded: the `/api/ps` details an [`Instance`](crate::Instance) carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loaded {
    /// When it unloads if it stays idle (wall-clock), when the server said.
    pub expires_at: Option<SystemTime>,
    /// The runner's `num_ctx`, when the server said.
    pub context_length: Option<u64>,
    /// Bytes of the runner in GPU memory.
    pub size_vram: u64,
}

impl LoadedModel {
    /// Builds the entry from `/api/ps`.
    ///
    /// # Errors
    ///
    /// When the entry's name is not a valid model name.
    pub fn from_wire(running: &RunningModel) -> Result<Self, ParseNameError> {
        let text = if running.model.is_empty() { &running.name } else { &running.model };
        Ok(Self {
            name: text.parse()?,
            state: Loaded {
                expires_at: om_core::time::parse_rfc3339(&running.expires_at)
                    .map(unix_nanos_to_time),
                context_length: running.context_length,
                size_vram: running.size_vram,
            },
        })
    }
}

fn unix_nanos_to_time(nanos: i128) -> SystemTime {
    let magnitude = Duration::from_nanos(u64::try_from(nanos.unsigned_abs()).unwrap_or(u64::MAX));
    if nanos >= 0 {
        UNIX_EPOCH.checked_add(magnitude).unwrap_or(UNIX_EPOCH)
    } else {
        UNIX_EPOCH.checked_sub(magnitude).unwrap_or(UNIX_EPOCH)
    }
}

/// Parses Ollama's `parameter_size` (`"7.6B"`, `"137M"`, `"1.5K"`, `"2T"`,
/// or a plain number) into a parameter count. Case and surrounding spaces do
/// not matter; anything else gives `None`.
///
/// ```
/// use om_registry::parse_parameter_count;
/// assert_eq!(parse_parameter_count("7.6B"), Some(7_600_000_000));
/// assert_eq!(parse_parameter_count("137M"), Some(137_000_000));
/// assert_eq!(parse_parameter_count("big"), None);
/// ```
pub fn parse_parameter_count(text: &str) -> Option<u64> {
    let text = text.trim();
    let (number, scale): (&str, u128) = match text.as_bytes().last()?.to_ascii_uppercase() {
        b'K' => (&text[..text.len() - 1], 1_000),
        b'M' => (&text[..text.len() - 1], 1_000_000),
        b'B' => (&text[..text.len() - 1], 1_000_000_000),
        b'T' => (&text[..text.len() - 1], 1_000_000_000_000),
        _ => (text, 1),
    };
    // Integer arithmetic, so that "16384.4T" is exact; f64 is not past 2^53.
    let (whole, fraction) = number.trim_end().split_once('.').unwrap_or((number.trim_end(), ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits(whole) || !digits(fraction) {
        return None;
    }
    let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    // Digits beyond a millionth of the unit cannot matter for a count.
    let fraction = &fraction[..fraction.len().min(12)];
    let (numerator, denominator) = if fraction.is_empty() {
        (0, 1)
    } else {
        (fraction.parse::<u128>().ok()?, 10_u128.pow(fraction.len() as u32))
    };
    let value = whole.checked_mul(scale)? + (numerator * scale + denominator / 2) / denominator;
    u64::try_from(value).ok()
}

#[cfg(test)]
mod tests {
    use om_core::wire::ModelDetails;
    use proptest::prelude::*;

    use super::*;

    fn entry() -> ModelEntry {
        ModelEntry {
            name: "Qwen2.5-Coder:7b".into(),
            model: "Qwen2.5-Coder:7b".into(),
            size: 4_700_000_000,
            digest: "ab".repeat(32),
            details: ModelDetails {
                family: "Qwen2".into(),
                families: Some(vec!["qwen2".into()]),
                parameter_size: "7.6B".into(),
                quantization_level: "Q4_K_M".into(),
                context_length: Some(32_768),
                ..ModelDetails::default()
            },
            capabilities: Some(vec!["completion".into(), "tools".into(), "insert".into()]),
            ..ModelEntry::default()
        }
    }

    #[test]
    fn from_tags_entry_alone() {
        let info = ModelInfo::from_wire(&entry(), None).unwrap();
        assert_eq!(info.name, "qwen2.5-coder:7b".parse().unwrap());
        assert_eq!(info.family, "qwen2");
        assert_eq!(info.families, ["qwen2"]);
        assert_eq!(info.parameters, Some(7_600_000_000));
        assert_eq!(info.quantization, "Q4_K_M");
        assert_eq!(info.context_length, Some(32_768));
        assert!(info.capabilities.has(Capability::Tools));
        assert!(info.is_family("QWEN2"));
    }

    #[test]
    fn modified_at_and_format_are_kept() {
        let mut entry = entry();
        entry.modified_at = "2025-05-04T17:37:44.706015396-07:00".into();
        entry.details.format = "gguf".into();
        let info = ModelInfo::from_wire(&entry, None).unwrap();
        let nanos =
            u64::try_from(om_core::time::parse_rfc3339(&entry.modified_at).unwrap()).unwrap();
        assert_eq!(info.modified_at, Some(UNIX_EPOCH + Duration::from_nanos(nanos)));
        assert_eq!(info.format, "gguf");
        entry.modified_at = "yesterday".into();
        assert_eq!(ModelInfo::from_wire(&entry, None).unwrap().modified_at, None);
    }

    #[test]
    fn show_wins_where_it_speaks() {
        let show: ShowResponse = serde_json::from_value(serde_json::json!({
            "details": {"family": "qwen2", "parameter_size": "7.6B", "quantization_level": "Q8_0"},
            "model_info": {
                "general.architecture": "qwen2",
                "general.parameter_count": 7_615_616_512_u64,
                "qwen2.context_length": 131_072
            },
            "capabilities": ["completion", "tools", "thinking"]
        }))
        .unwrap();
        let info = ModelInfo::from_wire(&entry(), Some(&show)).unwrap();
        assert_eq!(info.parameters, Some(7_615_616_512));
        assert_eq!(info.context_length, Some(131_072));
        assert_eq!(info.quantization, "Q8_0");
        assert!(info.capabilities.has(Capability::Thinking));
        assert!(!info.capabilities.has(Capability::Insert));
    }

    #[test]
    fn old_servers_default_to_completion() {
        let mut e = entry();
        e.capabilities = None;
        let info = ModelInfo::from_wire(&e, None).unwrap();
        assert_eq!(info.capabilities, Capabilities::of(&[Capability::Completion]));
        e.model = "bad name".into();
        assert!(ModelInfo::from_wire(&e, None).is_err());
    }

    #[test]
    fn loaded_from_ps() {
        let running = RunningModel {
            name: "mistral:latest".into(),
            expires_at: "1970-01-01T00:00:10.5Z".into(),
            context_length: Some(4096),
            size_vram: 7,
            ..RunningModel::default()
        };
        let loaded = LoadedModel::from_wire(&running).unwrap();
        assert_eq!(loaded.name, "mistral".parse().unwrap());
        assert_eq!(loaded.state.expires_at, Some(UNIX_EPOCH + Duration::from_millis(10_500)));
        assert_eq!(loaded.state.context_length, Some(4096));
        let garbage = RunningModel { name: "x".into(), ..RunningModel::default() };
        assert_eq!(LoadedModel::from_wire(&garbage).unwrap().state.expires_at, None);
    }

    #[test]
    fn parameter_sizes() {
        let cases = [
            ("7.6B", Some(7_600_000_000)),
            ("137M", Some(137_000_000)),
            (" 1.5k ", Some(1_500)),
            ("2T", Some(2_000_000_000_000)),
            ("8x7B", None),
            ("350", Some(350)),
            ("0.5B", Some(500_000_000)),
            ("", None),
            ("B", None),
            (".B", None),
            (".5K", Some(500)),
            ("99999999999999999999T", None),
            ("1.2.3B", None),
            ("infB", None),
            ("1e9", None),
            ("-7B", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_parameter_count(text), want, "{text:?}");
        }
    }

    proptest! {
        #[test]
        fn parameter_size_round_trips(whole in 0_u64..100_000, tenth in 0_u64..10, unit in 0_usize..4) {
            let (suffix, scale) = [("K", 1_000_u64), ("M", 1_000_000), ("B", 1_000_000_000), ("T", 1_000_000_000_000)][unit];
            let text = format!("{whole}.{tenth}{suffix}");
            prop_assert_eq!(parse_parameter_count(&text), Some(whole * scale + tenth * scale / 10));
            prop_assert_eq!(parse_parameter_count(&text.to_lowercase()), Some(whole * scale + tenth * scale / 10));
        }

        #[test]
        fn parameter_size_never_panics(text in "\\PC{0,12}") {
            let _ = parse_parameter_count(&text);
        }
    }
}
