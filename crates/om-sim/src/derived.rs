//! Model specs derived from nothing but a model's name, so that a simulated
//! endpoint can serve any name a user gives it (`codellama:13b`,
//! `phi3:mini`, `hf.co/bartowski/Qwen2.5-Coder-7B-Instruct-GGUF:Q4_K_M`).
//!
//! A real Ollama reads these facts from the GGUF file; the simulator only has
//! the name, so it reads what the name says and fills in the rest from what
//! is typical of the family:
//!
//! - the family, context length, usual size and capabilities of well-known
//!   model lines (`llama3.1`, `qwen2.5-coder`, `mistral`, `gemma2`, …), the
//!   longest matching prefix winning; an unknown line is its own family;
//! - the parameter count from a size in the tag or the name (`13b`, `1.5b`,
//!   `135m`, `8x7b`, `mini`);
//! - a context window written in the tag (`128k`);
//! - the quantization from the tag (`q8_0`, `fp16`), else `Q4_K_M` (`F16`
//!   for embedding models), and a size on disk to match;
//! - embedding models (the name says `embed`, or a BERT family) can only
//!   embed; everything else completes, plus tools, insert or thinking where
//!   the line is known for them.

use om_core::Capability::{Embedding, Insert, Thinking, Tools};
use om_core::{Capabilities, Capability, ModelName};

use crate::spec::{ModelSpec, derived_digest};

/// What is typical of one model line.
struct Line {
    /// Matched against the start of the name with `-`, `_` and case
    /// ignored (`qwen2.5coder` matches `Qwen2.5-Coder-7B`).
    prefix: &'static str,
    family: &'static str,
    context_length: u64,
    /// Parameters of the line's default (`:latest`) size.
    parameters: u64,
    /// Capabilities beyond completion, or `Embedding` alone.
    extra: &'static [Capability],
    /// The vector width, for embedding lines; 0 derives it from the size.
    embedding_length: u64,
}

const B: u64 = 1_000_000_000;
const M: u64 = 1_000_000;

const fn line(
    prefix: &'static str,
    family: &'static str,
    context_length: u64,
    parameters: u64,
    extra: &'static [Capability],
) -> Line {
    Line { prefix, family, context_length, parameters, extra, embedding_length: 0 }
}

const fn embedder(
    prefix: &'static str,
    family: &'static str,
    context_length: u64,
    parameters: u64,
    embedding_length: u64,
) -> Line {
    Line { prefix, family, context_length, parameters, extra: &[Embedding], embedding_length }
}

/// Well-known model lines. Families are the `general.architecture` Ollama
/// reports (so Mistral's models are `llama`, Phi-4 is `phi3`), contexts the
/// trained windows of the library's default tags.
const LINES: &[Line] = &[
    line("llama", "llama", 8192, 7 * B, &[]),
    line("llama2", "llama", 4096, 7 * B, &[]),
    line("llama3", "llama", 8192, 8 * B, &[]),
    line("llama3.1", "llama", 131_072, 8 * B, &[Tools]),
    line("llama3.2", "llama", 131_072, 3_200 * M, &[Tools]),
    line("llama3.3", "llama", 131_072, 70_600 * M, &[Tools]),
    line("codellama", "llama", 16_384, 7 * B, &[Insert]),
    line("tinyllama", "llama", 2048, 1_100 * M, &[]),
    line("qwen", "qwen2", 32_768, 7_700 * M, &[]),
    line("qwen2", "qwen2", 32_768, 7_600 * M, &[]),
    line("qwen2.5", "qwen2", 32_768, 7_600 * M, &[Tools]),
    line("qwen2.5coder", "qwen2", 32_768, 7_600 * M, &[Tools, Insert]),
    line("qwen3", "qwen3", 40_960, 8_200 * M, &[Tools, Thinking]),
    line("phi", "phi2", 2048, 2_700 * M, &[]),
    line("phi3", "phi3", 4096, 3_800 * M, &[]),
    line("phi3.5", "phi3", 131_072, 3_800 * M, &[]),
    line("phi4", "phi3", 16_384, 14_700 * M, &[]),
    line("phi4mini", "phi3", 131_072, 3_800 * M, &[Tools]),
    line("mistral", "llama", 32_768, 7_200 * M, &[Tools]),
    line("mistralnemo", "llama", 131_072, 12_200 * M, &[Tools]),
    line("mistralsmall", "llama", 32_768, 23_600 * M, &[Tools]),
    line("mixtral", "llama", 32_768, 46_700 * M, &[Tools]),
    line("codestral", "llama", 32_768, 22_200 * M, &[Insert]),
    line("gemma", "gemma", 8192, 9 * B, &[]),
    line("gemma2", "gemma2", 8192, 9_200 * M, &[]),
    line("gemma3", "gemma3", 131_072, 4_300 * M, &[]),
    line("codegemma", "gemma", 8192, 9 * B, &[Insert]),
    line("deepseekr1", "qwen2", 131_072, 7_600 * M, &[Thinking]),
    line("deepseekcoder", "llama", 16_384, 1_300 * M, &[Insert]),
    line("deepseekcoderv2", "deepseek2", 163_840, 15_700 * M, &[Insert]),
    line("deepseekv3", "deepseek2", 163_840, 671 * B, &[]),
    line("starcoder2", "starcoder2", 16_384, 3 * B, &[Insert]),
    line("smollm", "llama", 2048, 1_700 * M, &[]),
    line("smollm2", "llama", 8192, 1_700 * M, &[]),
    embedder("nomicembed", "nomic-bert", 2048, 137 * M, 768),
    embedder("mxbaiembed", "bert", 512, 334 * M, 1024),
    embedder("allminilm", "bert", 512, 23 * M, 384),
    embedder("bge", "bert", 8192, 567 * M, 1024),
    embedder("snowflakearcticembed", "bert", 512, 335 * M, 1024),
];

/// Families whose models only embed.
const EMBEDDING_FAMILIES: [&str; 3] = ["nomic-bert", "bert", "all-minilm"];

/// Context length when neither the line nor the tag says.
const DEFAULT_CONTEXT: u64 = 8192;
/// Parameters when neither the line nor the name says: a typical chat
/// model, or a typical embedding model (`nomic-embed-text`'s).
const DEFAULT_PARAMETERS: u64 = 7 * B;
const DEFAULT_EMBEDDING_PARAMETERS: u64 = 137 * M;
/// The largest size or context read from a name; anything above is not a
/// size but some other number.
const MAX_PARAMETERS: u64 = 10_000 * B;
const MAX_CONTEXT: u64 = 1 << 24;

/// The spec of a model known only by `name`.
pub(crate) fn derive(name: ModelName) -> ModelSpec {
    let model = name.model().to_ascii_lowercase();
    let tag = name.tag().to_ascii_lowercase();
    let known = find_line(&model);
    let family = known.map_or_else(|| model.clone(), |l| l.family.to_owned());
    let embedding = model.contains("embed")
        || known.is_some_and(|l| l.extra.contains(&Embedding))
        || EMBEDDING_FAMILIES.contains(&family.as_str());
    let tokens = || tag.split('-').chain(model.split('-'));
    // A named size (`mini`) only counts in the tag: in the name it is part
    // of the line (`mistral-small` is not Phi-3 small).
    let parameters = tag
        .split('-')
        .find_map(named_size)
        .or_else(|| tokens().find_map(parameters_in))
        .or_else(|| known.map(|l| l.parameters))
        .unwrap_or(if embedding { DEFAULT_EMBEDDING_PARAMETERS } else { DEFAULT_PARAMETERS });
    let context_length = tag
        .split('-')
        .find_map(context_in)
        .or_else(|| known.map(|l| l.context_length))
        .unwrap_or(DEFAULT_CONTEXT);
    let quantization = tokens()
        .find_map(quantization_in)
        .unwrap_or_else(|| if embedding { "F16" } else { "Q4_K_M" }.to_owned());
    let capabilities = if embedding {
        Capabilities::of(&[Embedding])
    } else {
        let extra = known.map_or(&[][..], |l| l.extra);
        Capabilities::of(extra).with(Capability::Completion)
    };
    let embedding_length = match known {
        Some(l) if l.embedding_length > 0 => l.embedding_length,
        _ if embedding => 768,
        _ => hidden_size(parameters),
    };
    ModelSpec {
        digest: derived_digest(name.as_key()),
        family,
        parameter_size: human_number(parameters),
        size_bytes: (parameters as f64 * bytes_per_parameter(&quantization)).round() as u64,
        quantization,
        context_length,
        embedding_length,
        capabilities,
        name,
    }
}

/// The longest known line the name starts with, trying the whole name and
/// then each `-`-separated tail (so `meta-llama-3.1-8b` is a `llama3.1` and
/// `dolphin-mistral` a `mistral`).
fn find_line(model: &str) -> Option<&'static Line> {
    let mut starts = std::iter::once(0).chain(model.match_indices('-').map(|(i, _)| i + 1));
    starts.find_map(|start| {
        let compact: String = model[start..].chars().filter(|c| !matches!(c, '-' | '_')).collect();
        LINES.iter().filter(|l| compact.starts_with(l.prefix)).max_by_key(|l| l.prefix.len())
    })
}

/// A named size, as Phi-3 tags them (`mini` is 3.8B).
fn named_size(token: &str) -> Option<u64> {
    match token {
        "mini" => Some(3_800 * M),
        "small" => Some(7_400 * M),
        "medium" => Some(14 * B),
        _ => None,
    }
}

/// A size token: `7b`, `1.5b`, `135m`, `8x7b` (experts × size).
fn parameters_in(token: &str) -> Option<u64> {
    let (number, scale) = if let Some(n) = token.strip_suffix('b') {
        (n, 1e9)
    } else {
        (token.strip_suffix('m')?, 1e6)
    };
    let (experts, size) = match number.split_once('x') {
        Some((experts, size)) => (decimal(experts)?, size),
        None => (1.0, number),
    };
    let count = (experts * decimal(size)? * scale).round();
    (count >= 1.0 && count <= MAX_PARAMETERS as f64).then_some(count as u64)
}

/// A context token: `128k` is 131072.
fn context_in(token: &str) -> Option<u64> {
    let thousands: u64 = token.strip_suffix('k').filter(|n| is_digits(n))?.parse().ok()?;
    let context = thousands.checked_mul(1024)?;
    (context > 0 && context <= MAX_CONTEXT).then_some(context)
}

/// A quantization token as Ollama prints it: `q4_k_m` → `Q4_K_M`,
/// `fp16` → `F16`.
fn quantization_in(token: &str) -> Option<String> {
    match token {
        "fp16" | "f16" => return Some("F16".to_owned()),
        "bf16" => return Some("BF16".to_owned()),
        "fp32" | "f32" => return Some("F32".to_owned()),
        _ => {}
    }
    let rest = token.strip_prefix("iq").or_else(|| token.strip_prefix('q'))?;
    let bits = rest.chars().next().filter(char::is_ascii_digit)?;
    let tail = &rest[1..];
    let well_formed = tail.is_empty()
        || (tail.starts_with('_') && tail[1..].split('_').all(|p| !p.is_empty() && is_alnum(p)));
    (well_formed && bits != '0').then(|| token.to_ascii_uppercase())
}

/// Bytes on disk per parameter at a quantization (`Q4_K_M` ≈ 0.6).
fn bytes_per_parameter(quantization: &str) -> f64 {
    match quantization {
        "F32" => 4.0,
        "F16" | "BF16" => 2.0,
        q => match q.trim_start_matches("IQ").trim_start_matches('Q').chars().next() {
            Some('1') => 0.25,
            Some('2') => 0.35,
            Some('3') => 0.45,
            Some('5') => 0.7,
            Some('6') => 0.82,
            Some('8') => 1.07,
            _ => 0.6,
        },
    }
}

/// A typical hidden size (the `embedding_length` `/api/show` reports) for a
/// model of this many parameters.
fn hidden_size(parameters: u64) -> u64 {
    match parameters {
        p if p < B => 896,
        p if p < 2 * B => 2048,
        p if p < 4 * B => 3072,
        p if p < 10 * B => 4096,
        p if p < 20 * B => 5120,
        p if p < 40 * B => 6144,
        _ => 8192,
    }
}

/// A count the way Ollama prints parameter sizes (`format.HumanNumber`):
/// `7B`, `7.6B`, `137M`, `23M`.
fn human_number(count: u64) -> String {
    let (scale, unit) = match count {
        c if c >= B => (1e9, "B"),
        c if c >= M => (1e6, "M"),
        c if c >= 1000 => (1e3, "K"),
        c => return c.to_string(),
    };
    let number = count as f64 / scale;
    let one_decimal = format!("{number:.1}");
    match one_decimal.strip_suffix(".0") {
        Some(whole) => format!("{whole}{unit}"),
        None => format!("{one_decimal}{unit}"),
    }
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

fn is_alnum(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// `12` or `1.5`; nothing else (no sign, exponent or bare dot).
fn decimal(text: &str) -> Option<f64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, "0"));
    (is_digits(whole) && is_digits(fraction)).then(|| text.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn spec(name: &str) -> ModelSpec {
        derive(ModelName::parse(name).unwrap())
    }

    /// Name, family, size, context, quantization, capabilities.
    type Case =
        (&'static str, &'static str, &'static str, u64, &'static str, &'static [&'static str]);

    #[test]
    fn well_known_names() {
        let cases: &[Case] = &[
            ("codellama:13b", "llama", "13B", 16_384, "Q4_K_M", &["completion", "insert"]),
            ("phi3:mini", "phi3", "3.8B", 4096, "Q4_K_M", &["completion"]),
            ("phi3:mini-128k", "phi3", "3.8B", 131_072, "Q4_K_M", &["completion"]),
            ("phi3:medium", "phi3", "14B", 4096, "Q4_K_M", &["completion"]),
            (
                "qwen2.5-coder:1.5b",
                "qwen2",
                "1.5B",
                32_768,
                "Q4_K_M",
                &["completion", "tools", "insert"],
            ),
            ("qwen2.5:0.5b", "qwen2", "500M", 32_768, "Q4_K_M", &["completion", "tools"]),
            ("qwen3:4b", "qwen3", "4B", 40_960, "Q4_K_M", &["completion", "tools", "thinking"]),
            ("llama3.1:70b", "llama", "70B", 131_072, "Q4_K_M", &["completion", "tools"]),
            ("llama3.2:1b", "llama", "1B", 131_072, "Q4_K_M", &["completion", "tools"]),
            ("llama3:8b-instruct-q8_0", "llama", "8B", 8192, "Q8_0", &["completion"]),
            ("llama2", "llama", "7B", 4096, "Q4_K_M", &["completion"]),
            ("mistral", "llama", "7.2B", 32_768, "Q4_K_M", &["completion", "tools"]),
            ("mistral:7b", "llama", "7B", 32_768, "Q4_K_M", &["completion", "tools"]),
            ("mixtral:8x7b", "llama", "56B", 32_768, "Q4_K_M", &["completion", "tools"]),
            ("dolphin-mistral", "llama", "7.2B", 32_768, "Q4_K_M", &["completion", "tools"]),
            ("gemma2:2b", "gemma2", "2B", 8192, "Q4_K_M", &["completion"]),
            ("gemma3:27b", "gemma3", "27B", 131_072, "Q4_K_M", &["completion"]),
            ("deepseek-coder:6.7b", "llama", "6.7B", 16_384, "Q4_K_M", &["completion", "insert"]),
            (
                "deepseek-coder-v2:16b",
                "deepseek2",
                "16B",
                163_840,
                "Q4_K_M",
                &["completion", "insert"],
            ),
            ("deepseek-r1:14b", "qwen2", "14B", 131_072, "Q4_K_M", &["completion", "thinking"]),
            ("smollm:135m", "llama", "135M", 2048, "Q4_K_M", &["completion"]),
            ("tinyllama", "llama", "1.1B", 2048, "Q4_K_M", &["completion"]),
            ("mxbai-embed-large", "bert", "334M", 512, "F16", &["embedding"]),
            ("all-minilm:33m", "bert", "33M", 512, "F16", &["embedding"]),
            ("snowflake-arctic-embed:335m-l-fp16", "bert", "335M", 512, "F16", &["embedding"]),
            ("my-embedder-embed:latest", "my-embedder-embed", "137M", 8192, "F16", &["embedding"]),
            ("mistral-small", "llama", "23.6B", 32_768, "Q4_K_M", &["completion", "tools"]),
            ("phi4-mini", "phi3", "3.8B", 131_072, "Q4_K_M", &["completion", "tools"]),
            ("gpt-17", "gpt-17", "7B", 8192, "Q4_K_M", &["completion"]),
            ("me/Widget:3b-fp16", "widget", "3B", 8192, "F16", &["completion"]),
            (
                "hf.co/bartowski/Qwen2.5-Coder-7B-Instruct-GGUF:Q4_K_M",
                "qwen2",
                "7B",
                32_768,
                "Q4_K_M",
                &["completion", "tools", "insert"],
            ),
            (
                "hf.co/bartowski/Meta-Llama-3.1-8B-Instruct-GGUF:Q6_K",
                "llama",
                "8B",
                131_072,
                "Q6_K",
                &["completion", "tools"],
            ),
        ];
        for &(name, family, size, context, quantization, caps) in cases {
            let s = spec(name);
            assert_eq!(s.family, family, "{name}");
            assert_eq!(s.parameter_size, size, "{name}");
            assert_eq!(s.context_length, context, "{name}");
            assert_eq!(s.quantization, quantization, "{name}");
            assert_eq!(s.capabilities.names(), caps, "{name}");
            assert_eq!(s.name, ModelName::parse(name).unwrap(), "{name}");
        }
    }

    #[test]
    fn sizes_follow_parameters_and_quantization() {
        let q4 = spec("codellama:13b");
        assert_eq!(q4.parameter_count(), 13_000_000_000);
        assert_eq!(q4.size_bytes, 7_800_000_000);
        assert_eq!(q4.embedding_length, 5120);
        let f16 = spec("nomic-embed-text:v1.5");
        assert_eq!(f16.size_bytes, 274_000_000);
        assert_eq!(f16.embedding_length, 768);
        assert_ne!(spec("a:1b").digest, spec("b:1b").digest);
        assert_eq!(spec("A:1B").digest, spec("a:1b").digest, "the digest follows the identity");
    }

    #[test]
    fn odd_tokens_are_not_sizes() {
        for token in ["b", "m", ".5b", "1.b", "-1b", "1e3b", "0b", "x7b", "8xb", "99999999b"] {
            assert_eq!(parameters_in(token), None, "{token}");
        }
        assert_eq!(parameters_in("8x22b"), Some(176 * B));
        assert_eq!(context_in("0k"), None);
        assert_eq!(context_in("999999999999999999k"), None);
        assert_eq!(quantization_in("q"), None);
        assert_eq!(quantization_in("q4_"), None);
        assert_eq!(quantization_in("q0"), None);
        assert_eq!(quantization_in("iq3_xxs").as_deref(), Some("IQ3_XXS"));
    }

    #[test]
    fn human_numbers() {
        let cases = [
            (7 * B, "7B"),
            (7_600 * M, "7.6B"),
            (137 * M, "137M"),
            (1_500, "1.5K"),
            (12, "12"),
            (671 * B, "671B"),
        ];
        for (count, text) in cases {
            assert_eq!(human_number(count), text);
        }
    }

    fn part() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9][a-zA-Z0-9_.-]{0,16}"
    }

    proptest! {
        #[test]
        fn any_valid_name_yields_a_sane_spec(
            namespace in prop::option::of(part()),
            model in part(),
            tag in prop::option::of(part()),
        ) {
            let mut text = namespace.map(|ns| format!("{ns}/")).unwrap_or_default();
            text.push_str(&model);
            if let Some(tag) = tag {
                text.push(':');
                text.push_str(&tag);
            }
            let name = ModelName::parse(&text).unwrap();
            let s = ModelSpec::from_name(name.clone());
            prop_assert_eq!(&s.name, &name);
            prop_assert!(s.context_length > 0);
            prop_assert!(s.embedding_length > 0);
            prop_assert!(s.parameter_count() > 0, "{} from {text}", s.parameter_size);
            prop_assert!(s.size_bytes > 0);
            prop_assert_eq!(s.digest.len(), 64);
            prop_assert!(s.digest.bytes().all(|b| b.is_ascii_hexdigit()));
            prop_assert!(!s.family.is_empty());
            prop_assert!(!s.quantization.is_empty());
            let completion = s.has(Capability::Completion);
            prop_assert!(completion != s.has(Capability::Embedding));
        }
    }
}
