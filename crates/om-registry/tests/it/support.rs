//! Fleet builders shared by the tests.

use om_core::{Capabilities, Capability, EndpointId, ModelName};
use om_registry::{
    Config, EndpointSpec, Health, InstanceIdx, Loaded, LoadedModel, ModelInfo, Registry, Snapshot,
};

pub(crate) fn name(text: &str) -> ModelName {
    text.parse().expect("valid model name")
}

pub(crate) fn id(text: &str) -> EndpointId {
    EndpointId::new(text)
}

pub(crate) fn spec(endpoint: &str) -> EndpointSpec {
    EndpointSpec::new(id(endpoint), format!("{endpoint}:11434").parse().expect("valid address"))
}

pub(crate) fn model(text: &str, family: &str) -> ModelInfo {
    let mut info = ModelInfo::new(name(text));
    family.clone_into(&mut info.family);
    info.families = vec![family.to_owned()];
    info.context_length = Some(8192);
    info.capabilities = Capabilities::of(&[Capability::Completion, Capability::Tools]);
    info.digest = format!("{:0>64}", text.len());
    info
}

pub(crate) fn loaded(text: &str) -> LoadedModel {
    LoadedModel {
        name: name(text),
        state: Loaded { expires_at: None, context_length: Some(4096), size_vram: 1 },
    }
}

/// A registry with endpoints `a` and `b`, healthy, with `llama3.2` (family
/// llama) on both and `qwen2.5-coder:7b` (family qwen2) on `b`.
pub(crate) fn two_endpoints(config: Config) -> Registry {
    let registry = Registry::new(config);
    let mut edit = registry.edit();
    for e in ["a", "b"] {
        edit.upsert_endpoint(spec(e)).expect("valid spec");
        edit.set_health(&id(e), Health::Healthy).expect("known endpoint");
    }
    let (a, b) = (id("a"), id("b"));
    edit.replace_models(&a, vec![model("llama3.2", "llama")]).expect("known endpoint");
    let on_b = vec![model("llama3.2", "llama"), model("qwen2.5-coder:7b", "qwen2")];
    edit.replace_models(&b, on_b).expect("known endpoint");
    edit.publish();
    registry
}

pub(crate) fn instance(snapshot: &Snapshot, endpoint: &str, model: &str) -> InstanceIdx {
    snapshot.find_instance(&id(endpoint), &name(model)).expect("instance exists")
}
