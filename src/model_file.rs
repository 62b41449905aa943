//! Model files: safetensors with the architecture and everything needed to use the model in its
//! metadata, so one file is a complete model. Saves are atomic; loads check everything.
//!
//! Tensor names are `layers.{i}.weight` (outputs × inputs, row-major) and `layers.{i}.bias`, `i`
//! from 0 — the layout of PyTorch's `nn.Linear`. In an `nn.Sequential` that interleaves
//! activations (`Linear, ReLU, Linear, …`) the same tensors are called `0.weight`, `2.weight`, …:
//! rename `layers.{i}` ↔ `{2i}` to move a state dict between the two.

use crate::activation::Activation;
use crate::error::{Error, Result};
use crate::layer::Dense;
use crate::loss::Loss;
use crate::network::Network;
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The model-file format version this build writes; it reads this and every older one.
pub const FORMAT_VERSION: u32 = 1;

/// The metadata key that marks a neuralnet model file.
const FORMAT_KEY: &str = "format";
const FORMAT_NAME: &str = "neuralnet";
const VERSION_KEY: &str = "format_version";
const META_KEY: &str = "neuralnet";

/// How raw inputs become the network's `x`: `x = (raw / divide − mean) / std`, per feature when
/// `feature_mean`/`feature_std` are given, else with the scalar `mean`/`std`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalization {
    /// Raw values are divided by this first (255 for 8-bit pixels).
    pub divide: f64,
    /// Subtracted after dividing.
    pub mean: f64,
    /// Divided by last.
    pub std: f64,
}

impl Default for Normalization {
    fn default() -> Self {
        Self { divide: 1.0, mean: 0.0, std: 1.0 }
    }
}

impl Normalization {
    /// Pixels 0–255 scaled to 0–1, as the training data was.
    pub fn pixels() -> Self {
        Self { divide: 255.0, mean: 0.0, std: 1.0 }
    }

    /// Applies the normalisation to one raw value.
    pub fn apply(&self, raw: f64) -> f64 {
        (raw / self.divide - self.mean) / self.std
    }
}

/// Everything about a model except its weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Layer widths, input first.
    pub sizes: Vec<usize>,
    /// One activation per layer.
    pub activations: Vec<Activation>,
    /// The loss it was trained with.
    pub loss: Loss,
    /// Input normalisation.
    #[serde(default)]
    pub normalization: Normalization,
    /// Image shape (rows, columns) when the inputs are images.
    #[serde(default)]
    pub input_shape: Option<(usize, usize)>,
    /// Class names, output index order (classification).
    #[serde(default)]
    pub classes: Option<Vec<String>>,
    /// The training settings, as given.
    #[serde(default)]
    pub training: serde_json::Value,
    /// Test accuracy measured at the end of training.
    #[serde(default)]
    pub test_accuracy: Option<f64>,
}

/// A network with its metadata: what a model file holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// The weights and architecture.
    pub network: Network<f32>,
    /// Everything else.
    pub info: ModelInfo,
}

impl Model {
    /// A model from a trained network and the rest of its description.
    pub fn new(network: Network<f32>, mut info: ModelInfo) -> Self {
        info.sizes = network.sizes();
        info.activations = network.layers.iter().map(|l| l.activation).collect();
        info.loss = network.loss;
        Self { network, info }
    }
}

fn file_error(path: &Path, message: impl Into<String>) -> Error {
    Error::ModelFile { path: path.to_path_buf(), message: message.into() }
}

/// The model as safetensors bytes.
pub fn to_bytes(model: &Model) -> Result<Vec<u8>> {
    let mut bytes: Vec<(String, Vec<u8>, Vec<usize>)> = Vec::new();
    for (i, l) in model.network.layers.iter().enumerate() {
        bytes.push((format!("layers.{i}.weight"), le_bytes(&l.weights), vec![l.outputs, l.inputs]));
        bytes.push((format!("layers.{i}.bias"), le_bytes(&l.bias), vec![l.outputs]));
    }
    let views = bytes
        .iter()
        .map(|(name, b, shape)| Ok((name.clone(), TensorView::new(Dtype::F32, shape.clone(), b).map_err(to_msg)?)))
        .collect::<std::result::Result<Vec<_>, String>>()
        .map_err(|m| file_error(Path::new("<model>"), m))?;
    let mut meta = HashMap::new();
    meta.insert(FORMAT_KEY.to_string(), FORMAT_NAME.to_string());
    meta.insert(VERSION_KEY.to_string(), FORMAT_VERSION.to_string());
    meta.insert(
        META_KEY.to_string(),
        serde_json::to_string(&model.info).map_err(|e| file_error(Path::new("<model>"), e.to_string()))?,
    );
    safetensors::tensor::serialize(views, Some(meta)).map_err(|e| file_error(Path::new("<model>"), e.to_string()))
}

fn to_msg(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn le_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, flushed and synced,
/// then renamed over `path`. A crash leaves the old file or the new one, never a torn one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new().prefix(".neuralnet-").suffix(".tmp").tempfile_in(&dir).map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    // Temporary files are private (0600); a saved model is an ordinary file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644)).map_err(io)?;
    }
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    // Make the rename itself durable.
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Saves `model` to `path` atomically.
pub fn save(model: &Model, path: &Path) -> Result<()> {
    write_atomic(path, &to_bytes(model)?)
}

/// Loads and checks a model file, saying precisely what is wrong with a bad one.
pub fn load(path: &Path) -> Result<Model> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    from_bytes(&bytes, path)
}

/// Parses and checks model-file bytes (`path` only names the source in errors).
pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Model> {
    let err = |m: String| file_error(path, m);
    let st = SafeTensors::deserialize(bytes).map_err(|e| err(format!("not a valid safetensors file: {e}")))?;
    let (_, header) =
        SafeTensors::read_metadata(bytes).map_err(|e| err(format!("not a valid safetensors file: {e}")))?;
    let meta = header.metadata().as_ref().ok_or_else(|| err("no metadata: not a neuralnet model file".into()))?;
    if meta.get(FORMAT_KEY).map(String::as_str) != Some(FORMAT_NAME) {
        return Err(err("metadata has no \"format\": \"neuralnet\": not a neuralnet model file".into()));
    }
    let version: u32 = meta
        .get(VERSION_KEY)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| err(format!("missing or unreadable \"{VERSION_KEY}\" in metadata")))?;
    if version > FORMAT_VERSION {
        return Err(err(format!(
            "written by a newer neuralnet (format version {version}); this build reads versions up to {FORMAT_VERSION}: upgrade neuralnet"
        )));
    }
    let info: ModelInfo =
        serde_json::from_str(meta.get(META_KEY).ok_or_else(|| err("metadata lacks the model description".into()))?)
            .map_err(|e| err(format!("model description in metadata is malformed: {e}")))?;
    let n = info.sizes.len().saturating_sub(1);
    if n == 0 || info.activations.len() != n {
        return Err(err(format!(
            "metadata describes {} layer sizes and {} activations; need at least 2 sizes and one activation per layer",
            info.sizes.len(),
            info.activations.len()
        )));
    }
    if st.len() != 2 * n {
        return Err(err(format!(
            "metadata describes {n} layers ({} tensors) but the file holds {} tensors",
            2 * n,
            st.len()
        )));
    }
    let mut layers = Vec::with_capacity(n);
    for i in 0..n {
        let (inputs, outputs) = (info.sizes[i], info.sizes[i + 1]);
        let weights = read_tensor(&st, &format!("layers.{i}.weight"), &[outputs, inputs], &err)?;
        let bias = read_tensor(&st, &format!("layers.{i}.bias"), &[outputs], &err)?;
        layers.push(Dense { inputs, outputs, weights, bias, activation: info.activations[i] });
    }
    let network = Network::from_layers(layers, info.loss).map_err(|e| err(e.to_string()))?;
    Ok(Model { network, info })
}

fn read_tensor(st: &SafeTensors<'_>, name: &str, shape: &[usize], err: &dyn Fn(String) -> Error) -> Result<Vec<f32>> {
    let t = st.tensor(name).map_err(|_| err(format!("tensor '{name}' is missing")))?;
    if t.dtype() != Dtype::F32 {
        return Err(err(format!("tensor '{name}' has dtype {:?}; expected F32", t.dtype())));
    }
    if t.shape() != shape {
        return Err(err(format!(
            "tensor '{name}' has shape {:?} but the metadata's layer sizes give {:?}",
            t.shape(),
            shape
        )));
    }
    let v: Vec<f32> = t.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(err(format!("tensor '{name}' holds a non-finite value ({}) at index {i}", v[i])));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Init;

    fn model() -> Model {
        let net = Network::<f32>::new(
            &[4, 3, 2],
            Activation::Relu,
            Activation::Softmax,
            Loss::CrossEntropy,
            Init::HeUniform,
            5,
        )
        .unwrap();
        Model::new(
            net,
            ModelInfo {
                sizes: vec![],
                activations: vec![],
                loss: Loss::CrossEntropy,
                normalization: Normalization::pixels(),
                input_shape: Some((2, 2)),
                classes: Some(vec!["a".into(), "b".into()]),
                training: serde_json::json!({"epochs": 3}),
                test_accuracy: Some(0.5),
            },
        )
    }

    #[test]
    fn round_trip_is_exact() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.safetensors");
        let m = model();
        save(&m, &p).unwrap();
        assert_eq!(load(&p).unwrap(), m);
    }

    #[test]
    fn byte_layout_follows_the_safetensors_spec() {
        // 8-byte little-endian header length, then a JSON header, then the raw little-endian data.
        let m = model();
        let b = to_bytes(&m).unwrap();
        let n = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
        let header: serde_json::Value = serde_json::from_slice(&b[8..8 + n]).unwrap();
        let w = &header["layers.0.weight"];
        assert_eq!(w["dtype"], "F32");
        assert_eq!(w["shape"], serde_json::json!([3, 4]));
        let start = w["data_offsets"][0].as_u64().unwrap() as usize + 8 + n;
        let first = f32::from_le_bytes(b[start..start + 4].try_into().unwrap());
        assert_eq!(first, m.network.layers[0].weights[0]);
        assert_eq!(header["__metadata__"]["format"], "neuralnet");
    }

    fn replace_bytes(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
        let i = hay.windows(from.len()).position(|w| w == from).expect("pattern present");
        let mut v = hay.to_vec();
        v[i..i + from.len()].copy_from_slice(to);
        v
    }

    #[test]
    fn malformed_files_are_refused_with_a_reason() {
        let p = Path::new("bad.safetensors");
        let good = to_bytes(&model()).unwrap();
        let e = from_bytes(&[], p).unwrap_err().to_string();
        assert!(e.contains("bad.safetensors") && e.contains("not a valid safetensors"), "{e}");
        let e = from_bytes(&good[..good.len() - 3], p).unwrap_err().to_string();
        assert!(e.contains("not a valid safetensors"), "{e}");
        let e = from_bytes(b"hello world, not a model", p).unwrap_err().to_string();
        assert!(e.contains("not a valid safetensors"), "{e}");

        // Metadata that disagrees with the tensors (same-length edits keep the header valid).
        let bytes = replace_bytes(&good, br#"\"sizes\":[4,3,2]"#, br#"\"sizes\":[4,5,2]"#);
        let e = from_bytes(&bytes, p).unwrap_err().to_string();
        assert!(e.contains("layers.0.weight") && e.contains("[3, 4]") && e.contains("[5, 4]"), "{e}");

        // A newer format version.
        let bytes = replace_bytes(&good, br#""format_version":"1""#, br#""format_version":"9""#);
        let e = from_bytes(&bytes, p).unwrap_err().to_string();
        assert!(e.contains("newer") && e.contains("9"), "{e}");
    }
}
