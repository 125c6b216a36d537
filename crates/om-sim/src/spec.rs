//! What a simulated endpoint serves and how it behaves: model specs, the
//! default model set and the endpoint spec with its defaults.

use std::time::Duration;

use om_core::{Capabilities, Capability, ModelName};

use crate::fault::Faults;
use crate::reply::ReplyMode;
use om_core::rng::SplitMix64;

/// One installed model, as `/api/tags`, `/api/show` and `/api/ps` describe it.
///
/// Plain data: build one by hand for a custom fleet, or start from
/// [`default_models`].
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    /// The model's name (`llama3.2:latest`).
    pub name: ModelName,
    /// Architecture family (`llama`, `qwen2`, `nomic-bert`); also the
    /// `general.architecture` of `/api/show`.
    pub family: String,
    /// Parameter count as Ollama prints it (`3.2B`, `137M`).
    pub parameter_size: String,
    /// Quantization level (`Q4_K_M`, `F16`).
    pub quantization: String,
    /// Trained context length; `num_ctx` is capped at it.
    pub context_length: u64,
    /// Embedding width; the length of `/api/embed` vectors.
    pub embedding_length: u64,
    /// What the model can do.
    pub capabilities: Capabilities,
    /// Bytes on disk.
    pub size_bytes: u64,
    /// 64 hex characters, no `sha256:` prefix.
    pub digest: String,
}

impl ModelSpec {
    /// A copy of `base` under another name, with a digest derived from the
    /// new name (what pulling an unknown model or `/api/copy` produce).
    #[must_use]
    pub fn renamed(base: &Self, name: ModelName) -> Self {
        let digest = derived_digest(name.as_key());
        Self { name, digest, ..base.clone() }
    }

    /// The parameter count as a number (`"3.2B"` → 3 200 000 000); 0 when the
    /// text is not a count.
    pub fn parameter_count(&self) -> u64 {
        let text = self.parameter_size.trim();
        let (number, scale) = match text.chars().last() {
            Some('B' | 'b') => (&text[..text.len() - 1], 1e9),
            Some('M' | 'm') => (&text[..text.len() - 1], 1e6),
            Some('K' | 'k') => (&text[..text.len() - 1], 1e3),
            _ => (text, 1.0),
        };
        number.parse::<f64>().map_or(0, |n| (n * scale).round() as u64)
    }

    /// True when the model has `cap`.
    pub fn has(&self, cap: Capability) -> bool {
        self.capabilities.has(cap)
    }

    /// The spec of the model called `name`: the default model of that name
    /// ([`default_model`]) when there is one, otherwise one derived from the
    /// name alone, so any valid Ollama name can be served.
    ///
    /// The derivation reads the family from the name's base (`codellama` is
    /// a `llama`, `qwen2.5-coder` a `qwen2`, an unknown base is its own
    /// family), the parameter count from a size in the tag or name (`13b`,
    /// `1.5b`, `135m`, `8x7b`, `mini`), a context window from the tag
    /// (`128k`) or else the family's usual one (8192 when unknown), the
    /// quantization from the tag (else `Q4_K_M`, `F16` for embedding models)
    /// and a size on disk to match (about 0.6 bytes a parameter at
    /// `Q4_K_M`). Names with `embed` in them and BERT families can only
    /// embed; the rest complete, with tools, insert or thinking where the
    /// model line is known for them. The digest is derived from the name.
    ///
    /// ```
    /// use om_core::{Capability, ModelName};
    /// use om_sim::ModelSpec;
    ///
    /// let spec = ModelSpec::from_name(ModelName::parse("codellama:13b")?);
    /// assert_eq!((spec.family.as_str(), spec.parameter_size.as_str()), ("llama", "13B"));
    /// assert_eq!(spec.context_length, 16_384);
    /// assert!(spec.has(Capability::Completion));
    /// let embed = ModelSpec::from_name(ModelName::parse("mxbai-embed-large")?);
    /// assert!(embed.has(Capability::Embedding) && !embed.has(Capability::Completion));
    /// # Ok::<(), om_core::ParseNameError>(())
    /// ```
    #[must_use]
    pub fn from_name(name: ModelName) -> Self {
        default_models()
            .into_iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| crate::derived::derive(name))
    }
}

/// A 64-hex-character digest derived from `seed_text`, stable across runs.
pub(crate) fn derived_digest(seed_text: &str) -> String {
    let seed = seed_text
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    let mut rng = SplitMix64::new(seed);
    let words: [u64; 4] = std::array::from_fn(|_| rng.next_u64());
    format!("{:016x}{:016x}{:016x}{:016x}", words[0], words[1], words[2], words[3])
}

fn named(name: &str) -> ModelName {
    ModelName::parse(name).expect("the default model names are valid")
}

/// The models a simulated endpoint serves unless told otherwise:
///
/// | name | family | size | quantization | context | capabilities |
/// |---|---|---|---|---|---|
/// | `llama3.2:latest` | llama | 3.2B | `Q4_K_M` | 131072 | completion, tools |
/// | `qwen2.5-coder:7b` | qwen2 | 7.6B | `Q4_K_M` | 32768 | completion, tools, insert |
/// | `qwen3:8b` | qwen3 | 8.2B | `Q4_K_M` | 40960 | completion, tools, thinking |
/// | `nomic-embed-text:latest` | nomic-bert | 137M | `F16` | 2048 | embedding (768 wide) |
pub fn default_models() -> Vec<ModelSpec> {
    use Capability::{Completion, Embedding, Insert, Thinking, Tools};
    vec![
        ModelSpec {
            name: named("llama3.2:latest"),
            family: "llama".to_owned(),
            parameter_size: "3.2B".to_owned(),
            quantization: "Q4_K_M".to_owned(),
            context_length: 131_072,
            embedding_length: 3072,
            capabilities: Capabilities::of(&[Completion, Tools]),
            size_bytes: 2_019_393_189,
            digest: "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72".to_owned(),
        },
        ModelSpec {
            name: named("qwen2.5-coder:7b"),
            family: "qwen2".to_owned(),
            parameter_size: "7.6B".to_owned(),
            quantization: "Q4_K_M".to_owned(),
            context_length: 32_768,
            embedding_length: 3584,
            capabilities: Capabilities::of(&[Completion, Tools, Insert]),
            size_bytes: 4_683_087_332,
            digest: derived_digest("qwen2.5-coder:7b"),
        },
        ModelSpec {
            name: named("qwen3:8b"),
            family: "qwen3".to_owned(),
            parameter_size: "8.2B".to_owned(),
            quantization: "Q4_K_M".to_owned(),
            context_length: 40_960,
            embedding_length: 4096,
            capabilities: Capabilities::of(&[Completion, Tools, Thinking]),
            size_bytes: 5_225_388_164,
            digest: derived_digest("qwen3:8b"),
        },
        ModelSpec {
            name: named("nomic-embed-text:latest"),
            family: "nomic-bert".to_owned(),
            parameter_size: "137M".to_owned(),
            quantization: "F16".to_owned(),
            context_length: 2048,
            embedding_length: 768,
            capabilities: Capabilities::of(&[Embedding]),
            size_bytes: 274_302_450,
            digest: derived_digest("nomic-embed-text:latest"),
        },
    ]
}

/// The default model called `name` (any spelling Ollama accepts), if any;
/// [`ModelSpec::from_name`] serves any other name too.
pub fn default_model(name: &str) -> Option<ModelSpec> {
    let wanted = ModelName::parse(name).ok()?;
    default_models().into_iter().find(|m| m.name == wanted)
}

/// How one simulated endpoint behaves. Plain data with Ollama-like defaults;
/// the `with_*` helpers make one-line variations in tests.
///
/// ```
/// use std::time::Duration;
/// use om_sim::EndpointSpec;
///
/// let spec = EndpointSpec::default()
///     .with_name("gpu-box")
///     .with_load_time(Duration::from_millis(50))
///     .with_num_parallel(2);
/// assert_eq!(spec.models.len(), 4);
/// assert_eq!(spec.max_queue, 512);
/// ```
#[derive(Debug, Clone)]
pub struct EndpointSpec {
    /// A label for logs (`sim-0`, `gpu-box`).
    pub name: String,
    /// Installed models; [`default_models`] by default.
    pub models: Vec<ModelSpec>,
    /// Generation speed of a request running alone, after the first token
    /// (default 200). Concurrent requests share it: see
    /// [`batch_exponent`](Self::batch_exponent).
    pub tokens_per_sec: f64,
    /// Time from a loaded model to the first token for a request running
    /// alone: prompt evaluation (default 20 ms). Concurrent requests share it
    /// like generation.
    pub ttft: Duration,
    /// How batching scales the endpoint's compute (default 0.5).
    ///
    /// Every request evaluating a prompt or generating — across all loaded
    /// models and all parallel slots — shares one box. With `n` of them
    /// active, aggregate throughput is `tokens_per_sec ×`
    /// [`speedup(n)`](Self::speedup) with `speedup(n) = min(n^batch_exponent,
    /// max_speedup)`, and each gets `speedup(n) / n` of a lone request's
    /// speed, re-evaluated whenever `n` changes. At 0.5 two concurrent
    /// requests each run at about 0.71× a lone one. 1 (with a large
    /// [`max_speedup`](Self::max_speedup)) makes requests independent, as
    /// if each had its own box; 0 makes them strictly share one. Values
    /// outside `[0, 1]` are clamped.
    pub batch_exponent: f64,
    /// The most that batching multiplies aggregate throughput by (default
    /// 2.0; at least 1, [`f64::INFINITY`] for no cap). Values below 1 count
    /// as 1.
    pub max_speedup: f64,
    /// Time to load a model that is not loaded (default 300 ms).
    pub load_time: Duration,
    /// Parallel requests per loaded model, `OLLAMA_NUM_PARALLEL` (default 1).
    pub num_parallel: usize,
    /// Requests that may wait for a model load, `OLLAMA_MAX_QUEUE`
    /// (default 512); more get 503.
    pub max_queue: usize,
    /// Models loaded at once, `OLLAMA_MAX_LOADED_MODELS` (default 3; 0 means
    /// no limit).
    pub max_loaded_models: usize,
    /// Idle time before a model unloads when a request gives no `keep_alive`,
    /// `OLLAMA_KEEP_ALIVE` (default 5 min; [`Duration::MAX`] means forever).
    pub keep_alive: Duration,
    /// Seeds replies and fault decisions, so runs are reproducible.
    pub seed: u64,
    /// How reply text is made (default lorem).
    pub reply: ReplyMode,
    /// What `/api/version` reports (default `0.33.0`).
    pub version: String,
    /// Injected failures (all off by default).
    pub faults: Faults,
}

impl Default for EndpointSpec {
    fn default() -> Self {
        Self {
            name: "sim".to_owned(),
            models: default_models(),
            tokens_per_sec: 200.0,
            ttft: Duration::from_millis(20),
            batch_exponent: 0.5,
            max_speedup: 2.0,
            load_time: Duration::from_millis(300),
            num_parallel: 1,
            max_queue: 512,
            max_loaded_models: 3,
            keep_alive: Duration::from_mins(5),
            seed: 0,
            reply: ReplyMode::Lorem,
            version: "0.33.0".to_owned(),
            faults: Faults::default(),
        }
    }
}

impl EndpointSpec {
    /// Aggregate throughput of `active` concurrent requests relative to one
    /// alone: `min(active^batch_exponent, max_speedup)`, 1 for `active` ≤ 1.
    ///
    /// ```
    /// use om_sim::EndpointSpec;
    ///
    /// let spec = EndpointSpec::default();
    /// assert!((spec.speedup(2) - 2f64.sqrt()).abs() < 1e-12);
    /// assert!((spec.speedup(4) - 2.0).abs() < 1e-12);
    /// assert!((spec.speedup(16) - 2.0).abs() < 1e-12);
    /// ```
    pub fn speedup(&self, active: usize) -> f64 {
        crate::compute::speedup(self.batch_exponent, self.max_speedup, active)
    }

    /// Tokens per second of the whole endpoint with `active` requests
    /// generating at once: `tokens_per_sec × speedup(active)`.
    pub fn aggregate_tokens_per_sec(&self, active: usize) -> f64 {
        self.tokens_per_sec * self.speedup(active)
    }

    /// Tokens per second each of `active` concurrent requests gets:
    /// `tokens_per_sec × speedup(active) / active` (a lone request's speed
    /// for `active` ≤ 1).
    pub fn tokens_per_sec_each(&self, active: usize) -> f64 {
        self.aggregate_tokens_per_sec(active) / active.max(1) as f64
    }

    /// With this name.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// With exactly these models.
    #[must_use]
    pub fn with_models(mut self, models: Vec<ModelSpec>) -> Self {
        self.models = models;
        self
    }

    /// With one more model.
    #[must_use]
    pub fn with_model(mut self, model: ModelSpec) -> Self {
        self.models.push(model);
        self
    }

    /// With this generation speed.
    #[must_use]
    pub fn with_tokens_per_sec(mut self, tokens_per_sec: f64) -> Self {
        self.tokens_per_sec = tokens_per_sec;
        self
    }

    /// With this time to first token.
    #[must_use]
    pub fn with_ttft(mut self, ttft: Duration) -> Self {
        self.ttft = ttft;
        self
    }

    /// With this batching exponent (see [`EndpointSpec::batch_exponent`]).
    #[must_use]
    pub fn with_batch_exponent(mut self, batch_exponent: f64) -> Self {
        self.batch_exponent = batch_exponent;
        self
    }

    /// With this cap on the batching speedup (see
    /// [`EndpointSpec::max_speedup`]).
    #[must_use]
    pub fn with_max_speedup(mut self, max_speedup: f64) -> Self {
        self.max_speedup = max_speedup;
        self
    }

    /// With concurrent requests that do not slow each other down (exponent
    /// 1, no cap): every request paces at [`EndpointSpec::tokens_per_sec`]
    /// however many run, as if each had a box of its own.
    #[must_use]
    pub fn with_unshared_compute(self) -> Self {
        self.with_batch_exponent(1.0).with_max_speedup(f64::INFINITY)
    }

    /// With this model load time.
    #[must_use]
    pub fn with_load_time(mut self, load_time: Duration) -> Self {
        self.load_time = load_time;
        self
    }

    /// With this many parallel slots per model.
    #[must_use]
    pub fn with_num_parallel(mut self, num_parallel: usize) -> Self {
        self.num_parallel = num_parallel;
        self
    }

    /// With this pending-load queue capacity.
    #[must_use]
    pub fn with_max_queue(mut self, max_queue: usize) -> Self {
        self.max_queue = max_queue;
        self
    }

    /// With at most this many models loaded at once (0: no limit).
    #[must_use]
    pub fn with_max_loaded_models(mut self, max_loaded_models: usize) -> Self {
        self.max_loaded_models = max_loaded_models;
        self
    }

    /// With this default keep-alive ([`Duration::MAX`]: forever).
    #[must_use]
    pub fn with_keep_alive(mut self, keep_alive: Duration) -> Self {
        self.keep_alive = keep_alive;
        self
    }

    /// With this seed.
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// With this reply mode.
    #[must_use]
    pub fn with_reply(mut self, reply: ReplyMode) -> Self {
        self.reply = reply;
        self
    }

    /// Reporting this version.
    #[must_use]
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// With these faults at start-up (change them later through
    /// [`SimControl`](crate::SimControl)).
    #[must_use]
    pub fn with_faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_set_is_the_documented_one() {
        let models = default_models();
        let names: Vec<String> = models.iter().map(|m| m.name.to_string()).collect();
        assert_eq!(
            names,
            ["llama3.2:latest", "qwen2.5-coder:7b", "qwen3:8b", "nomic-embed-text:latest"]
        );
        for m in &models {
            assert_eq!(m.digest.len(), 64, "{}", m.name);
            assert!(m.digest.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        assert!(models[2].has(Capability::Thinking));
        assert_eq!(models[3].capabilities, Capabilities::of(&[Capability::Embedding]));
    }

    #[test]
    fn parameter_counts() {
        let m = default_model("llama3.2").unwrap();
        assert_eq!(m.parameter_count(), 3_200_000_000);
        assert_eq!(default_model("nomic-embed-text").unwrap().parameter_count(), 137_000_000);
        assert!(default_model("nope").is_none());
    }

    #[test]
    fn from_name_keeps_the_defaults_and_derives_the_rest() {
        for model in default_models() {
            let name = ModelName::parse(&model.name.to_string().to_uppercase()).unwrap();
            assert_eq!(ModelSpec::from_name(name), model);
        }
        let derived = ModelSpec::from_name("llama3.2:1b".parse().unwrap());
        assert_eq!(derived.parameter_size, "1B");
        assert_eq!(derived.name.to_string(), "llama3.2:1b");
    }

    #[test]
    fn sharing_arithmetic() {
        let close = |a: f64, b: f64| assert!((a - b).abs() < 1e-9, "{a} is not {b}");
        let spec = EndpointSpec::default().with_tokens_per_sec(100.0);
        close(spec.tokens_per_sec_each(0), 100.0);
        close(spec.tokens_per_sec_each(1), 100.0);
        close(spec.tokens_per_sec_each(2), 100.0 * std::f64::consts::FRAC_1_SQRT_2);
        close(spec.aggregate_tokens_per_sec(4), 200.0);
        close(spec.tokens_per_sec_each(8), 25.0);
        let unshared = spec.with_unshared_compute();
        close(unshared.tokens_per_sec_each(8), 100.0);
        close(unshared.aggregate_tokens_per_sec(8), 800.0);
    }

    #[test]
    fn renamed_gets_its_own_digest() {
        let base = default_model("llama3.2").unwrap();
        let copy = ModelSpec::renamed(&base, "me/copy".parse().unwrap());
        assert_ne!(copy.digest, base.digest);
        assert_eq!(copy.family, base.family);
    }
}
