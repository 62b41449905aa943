//! Model files: safetensors with the architecture and everything needed to use the model in its
//! metadata, so one file is a complete model. Saves are atomic; loads check everything.
//!
//! Tensor names are `layers.{i}.weight` (outputs × inputs, row-major) and `layers.{i}.bias`, `i`
//! from 0 — the layout of PyTorch's `nn.Linear`. In an `nn.Sequential` that interleaves
//! activations (`Linear, ReLU, Linear, …`) the same tensors are called `0.weight`, `2.weight`, …:
//! rename `layers.{i}` ↔ `{2i}` to move a state dict between the two.
//!
//! A convolutional network's convolutions are `features.{k}.weight` (out × in × k × k, as
//! `nn.Conv2d` stores it) and `features.{k}.bias`, `k` counting every layer of the convolutional
//! part from 0 (pooling layers have no tensors but keep their place). In PyTorch's
//! `nn.Sequential(Conv2d, ReLU, MaxPool2d, …, Flatten, Linear, ReLU, Linear)` the convolution
//! `features.{k}` is module `k + (number of convolutions before it)` — each convolution is
//! followed by its activation module — and `layers.{i}` is module `F + 1 + 2i`
//! where `F` is the number of modules of the convolutional part (its layers plus one activation
//! per convolution) and `+ 1` the `Flatten`. Such files are format version 2; dense-only models
//! stay version 1, readable by older builds.

use crate::architecture::Architecture;
use crate::data::table::encode::Tabular;
use crate::dataset::Normalization;
use crate::error::{Error, InputKind, Result};
use crate::layer::Dense;
use crate::network::{Feature, Network};
use crate::optimizer::OptimizerState;
use crate::rng::Rng;
use crate::train::checkpoint::{Best, TrainerSnapshot};
use crate::train::report::{EpochReport, PartialEpoch};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The model-file format version this build writes; it reads this and every older one.
pub const FORMAT_VERSION: u32 = 2;

/// The metadata key that marks a neuralnet model file.
const FORMAT_KEY: &str = "format";
const FORMAT_NAME: &str = "neuralnet";
const VERSION_KEY: &str = "format_version";
const META_KEY: &str = "neuralnet";

/// Everything about a model except its weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The network's description (stored as `sizes`, `activations`, `loss`, as it always was).
    #[serde(flatten)]
    pub architecture: Architecture,
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
    /// For a model trained on a CSV table: the target, feature columns, category encodings,
    /// standardisation statistics and classes (absent in image models and older files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tabular: Option<Tabular>,
}

/// A network with its metadata: what a model file holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    /// The weights and architecture.
    pub network: Network<f32>,
    /// Everything else.
    pub info: ModelInfo,
}

impl ModelInfo {
    /// The description of a classifier of `rows × cols` 8-bit images into `classes` classes named
    /// "0", "1", …; the architecture is filled in by [`Model::new`].
    pub fn images(rows: usize, cols: usize, classes: usize) -> Self {
        Self {
            architecture: Architecture::new(rows * cols),
            normalization: Normalization::pixels(),
            input_shape: Some((rows, cols)),
            classes: Some((0..classes).map(|c| c.to_string()).collect()),
            training: serde_json::Value::Null,
            test_accuracy: None,
            tabular: None,
        }
    }
}

impl Model {
    /// A model from a trained network and the rest of its description.
    pub fn new(network: Network<f32>, mut info: ModelInfo) -> Self {
        info.architecture = Architecture::of(&network);
        Self { network, info }
    }

    /// What the model reads: the rows of a table when it carries a column description, else
    /// images.
    pub fn input_kind(&self) -> InputKind {
        if self.info.tabular.is_some() { InputKind::Table } else { InputKind::Images }
    }

    /// The model's column description; refuses an image model, naming `path` (the model file)
    /// and saying to `action` ("predict", "evaluate it") without `--csv`.
    pub fn require_table(&self, path: &Path, action: &'static str) -> Result<&Tabular> {
        self.info.tabular.as_ref().ok_or_else(|| Error::WrongInputKind {
            path: path.to_path_buf(),
            reads: InputKind::Images,
            action,
        })
    }

    /// Refuses a table model, naming `path` (the model file) and saying to `action` with
    /// `--csv FILE`.
    pub fn require_images(&self, path: &Path, action: &'static str) -> Result<()> {
        match self.input_kind() {
            InputKind::Images => Ok(()),
            InputKind::Table => {
                Err(Error::WrongInputKind { path: path.to_path_buf(), reads: InputKind::Table, action })
            }
        }
    }

    /// Refuses a model that cannot read photos as they are preprocessed (`side` × `side` pixels):
    /// a table model, or an image model of another input size.
    pub fn require_photos(&self, path: &Path, action: &'static str, side: usize) -> Result<()> {
        self.require_images(path, action)?;
        let shape = self.info.input_shape;
        if self.network.inputs() != side * side || shape.is_some_and(|s| s != (side, side)) {
            return Err(Error::PhotoSize { path: path.to_path_buf(), inputs: self.network.inputs(), shape, side });
        }
        Ok(())
    }
}

fn file_error(path: &Path, message: impl Into<String>) -> Error {
    Error::ModelFile { path: path.to_path_buf(), message: message.into() }
}

/// The model as safetensors bytes.
pub fn to_bytes(model: &Model) -> Result<Vec<u8>> {
    let path = Path::new("<model>");
    // Never write what reading refuses: the file would replace a good one with one that loads no
    // more (a diverged network, statistics that overflowed).
    check_writable(&model.network, &model.info).map_err(|m| file_error(path, m))?;
    let mut entries = Vec::new();
    tensor_entries("", &model.network, &mut entries);
    let info = serde_json::to_string(&model.info).map_err(|e| file_error(path, e.to_string()))?;
    let mut meta = HashMap::new();
    meta.insert(FORMAT_KEY.to_string(), FORMAT_NAME.to_string());
    meta.insert(VERSION_KEY.to_string(), version_for(&model.network).to_string());
    meta.insert(META_KEY.to_string(), info);
    serialize(&entries, meta, path)
}

fn to_msg(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// The format version a network needs: 2 with a convolutional part, else 1 (what every older
/// build reads).
pub fn version_for(net: &Network<f32>) -> u32 {
    if net.features.is_empty() { 1 } else { 2 }
}

fn le_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, flushed and synced,
/// then renamed over `path`. A crash leaves the old file or the new one, never a torn one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    // A device, pipe or socket (`/dev/null`, `/dev/stdout`, a FIFO) is written into, never
    // replaced by a file renamed over it; its write errors (`/dev/full`) are errors.
    if let Ok(meta) = std::fs::metadata(path)
        && !meta.is_file()
        && !meta.is_dir()
    {
        let mut f = std::fs::OpenOptions::new().write(true).open(path).map_err(io)?;
        return f.write_all(bytes).and_then(|()| f.flush()).map_err(io);
    }
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
    from_bytes(&read_file(path)?, path)
}

/// The most bytes read from something that is not a regular file (a pipe, a device): a model or
/// checkpoint streamed in is read up to this, so that `/dev/zero` is an error, not all of memory.
pub const MAX_STREAM_BYTES: u64 = 1 << 28;

/// A model or checkpoint file's bytes: a regular file whole (its size is on disk), anything else
/// up to [`MAX_STREAM_BYTES`].
fn read_file(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read as _;
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    if file.metadata().map_err(io)?.is_file() {
        return std::fs::read(path).map_err(io);
    }
    let mut bytes = Vec::new();
    file.take(MAX_STREAM_BYTES + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > MAX_STREAM_BYTES {
        return Err(file_error(path, format!("not a regular file, and more than {MAX_STREAM_BYTES} bytes long")));
    }
    Ok(bytes)
}

/// Parses and checks model-file bytes (`path` only names the source in errors).
pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Model> {
    let err = |m: String| file_error(path, m);
    let st = SafeTensors::deserialize(bytes).map_err(|e| err(format!("not a valid safetensors file: {e}")))?;
    let (_, header) =
        SafeTensors::read_metadata(bytes).map_err(|e| err(format!("not a valid safetensors file: {e}")))?;
    let meta = header.metadata().as_ref().ok_or_else(|| err("no metadata: not a neuralnet model file".into()))?;
    match meta.get(FORMAT_KEY).map(String::as_str) {
        Some(FORMAT_NAME) => {}
        Some(CHECKPOINT_NAME) => {
            return Err(err(
                "this is a training checkpoint, not a model: continue it with `neuralnet train --resume`".into()
            ));
        }
        _ => return Err(err("metadata has no \"format\": \"neuralnet\": not a neuralnet model file".into())),
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
    let n = info.architecture.layers.len();
    let convs = conv_count(&info.architecture);
    if st.len() != 2 * (n + convs) {
        return Err(err(format!(
            "metadata describes {} layers with parameters ({} tensors) but the file holds {} tensors",
            n + convs,
            2 * (n + convs),
            st.len()
        )));
    }
    let network = read_network(&st, "", &info, &err)?;
    check_description(&info, &network).map_err(err)?;
    Ok(Model { network, info })
}

/// What [`from_bytes`] would refuse in a model about to be written: a non-finite parameter, or a
/// description that does not fit the network ([`check_description`]).
fn check_writable(net: &Network<f32>, info: &ModelInfo) -> std::result::Result<(), String> {
    for (i, t) in net.tensors().enumerate() {
        if let Some(v) = t.iter().find(|v| !v.is_finite()) {
            return Err(format!(
                "not written: parameter tensor {} holds a non-finite value ({v}); training diverged",
                i + 1
            ));
        }
    }
    check_description(info, net).map_err(|m| format!("not written: {m}"))
}

/// That the description's names and shapes fit the network: as many class names as outputs, an
/// image shape or a table encoding as wide as the input (the commands index by them).
fn check_description(info: &ModelInfo, net: &Network<f32>) -> std::result::Result<(), String> {
    let (inputs, outputs) = (net.inputs(), net.outputs());
    let n = &info.normalization;
    if !(n.divide.is_finite() && n.divide != 0.0 && n.mean.is_finite() && n.std.is_finite() && n.std != 0.0) {
        return Err(format!(
            "the input normalisation (divide by {}, subtract {}, divide by {}) needs finite values and divisors other than 0",
            n.divide, n.mean, n.std
        ));
    }
    if let Some(c) = &info.classes
        && c.len() != outputs
    {
        return Err(format!("the description names {} classes but the network has {outputs} outputs", c.len()));
    }
    // Images of `rows × cols` pixels, in as many channels as the network's input maps have.
    let channels = net.input_maps().map_or(1, |m| m.channels);
    if let Some((rows, cols)) = info.input_shape
        && rows.checked_mul(cols).and_then(|p| p.checked_mul(channels)) != Some(inputs)
    {
        return Err(format!(
            "the description's {rows}×{cols} images ({channels} channel(s)) do not give the network's {inputs} inputs"
        ));
    }
    if let Some(t) = &info.tabular {
        if !(t.target_mean.is_finite() && t.target_std.is_finite() && t.target_std > 0.0) {
            return Err(format!(
                "the table's target statistics (mean {}, std {}) must be finite, the std above 0",
                t.target_mean, t.target_std
            ));
        }
        if t.width() != inputs {
            return Err(format!("the table encoding gives {} inputs but the network has {inputs}", t.width()));
        }
        if t.task == crate::data::table::Task::Classify && t.classes.len() != outputs {
            return Err(format!(
                "the table's target has {} classes but the network has {outputs} outputs",
                t.classes.len()
            ));
        }
    }
    Ok(())
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

/// The metadata marker of a checkpoint file.
const CHECKPOINT_NAME: &str = "neuralnet-checkpoint";

/// The parts of a [`TrainerSnapshot`] a checkpoint keeps besides tensors (as JSON, in this order).
#[derive(Serialize, Deserialize)]
struct TrainerMeta {
    epoch: usize,
    steps: u64,
    data_rng: Rng,
    history: Vec<EpochReport>,
    best: Option<(f64, usize)>,
    since_best: usize,
    partial: Option<PartialEpoch>,
    optimizer_slots: (usize, usize),
}

/// A checkpoint read back: the model, the trainer's state and the settings of the run.
pub struct Checkpoint {
    /// The weights and description at the time of the checkpoint.
    pub model: Model,
    /// Everything needed to continue the run exactly (`Trainer::restore` puts it back).
    pub state: TrainerSnapshot<f32>,
    /// The run's settings, as the caller stored them.
    pub settings: serde_json::Value,
}

/// The convolutions in a description.
fn conv_count(arch: &Architecture) -> usize {
    arch.features.iter().filter(|f| matches!(f, crate::architecture::FeatureSpec::Conv { .. })).count()
}

fn tensor_entries(prefix: &str, net: &Network<f32>, out: &mut Vec<(String, Vec<u8>, Vec<usize>, Dtype)>) {
    for (k, f) in net.features.iter().enumerate() {
        if let Feature::Conv(c) = f {
            let shape = vec![c.out_channels, c.input.channels, c.kernel, c.kernel];
            out.push((format!("{prefix}features.{k}.weight"), le_bytes(&c.weights), shape, Dtype::F32));
            out.push((format!("{prefix}features.{k}.bias"), le_bytes(&c.bias), vec![c.out_channels], Dtype::F32));
        }
    }
    for (i, l) in net.layers.iter().enumerate() {
        out.push((format!("{prefix}layers.{i}.weight"), le_bytes(&l.weights), vec![l.outputs, l.inputs], Dtype::F32));
        out.push((format!("{prefix}layers.{i}.bias"), le_bytes(&l.bias), vec![l.outputs], Dtype::F32));
    }
}

fn serialize(
    entries: &[(String, Vec<u8>, Vec<usize>, Dtype)],
    meta: HashMap<String, String>,
    path: &Path,
) -> Result<Vec<u8>> {
    let views = entries
        .iter()
        .map(|(name, b, shape, dt)| Ok((name.clone(), TensorView::new(*dt, shape.clone(), b).map_err(to_msg)?)))
        .collect::<std::result::Result<Vec<_>, String>>()
        .map_err(|m| file_error(path, m))?;
    let bytes = safetensors::tensor::serialize(views, Some(meta)).map_err(|e| file_error(path, e.to_string()))?;
    sorted_header(bytes).map_err(|m| file_error(path, m))
}

/// `bytes` (a safetensors file) with its JSON header's keys in sorted order. The crate writes the
/// metadata in its hash map's order, which changes from map to map, so the same model saved
/// twice gave different bytes; sorted, it gives the same (the header keeps its length, the
/// tensors their offsets).
fn sorted_header(mut bytes: Vec<u8>) -> std::result::Result<Vec<u8>, String> {
    let len = bytes.get(..8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes"))).ok_or("no header")?;
    let end = usize::try_from(len).ok().and_then(|l| l.checked_add(8)).filter(|&e| e <= bytes.len()).ok_or("header")?;
    // serde_json's maps are ordered by key, so a parsed header prints sorted.
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..end]).map_err(to_msg)?;
    let sorted = serde_json::to_string(&header).map_err(to_msg)?;
    if sorted.len() > end - 8 {
        return Err(format!("sorted header of {} bytes does not fit in {}", sorted.len(), end - 8));
    }
    bytes[8..8 + sorted.len()].copy_from_slice(sorted.as_bytes());
    bytes[8 + sorted.len()..end].fill(b' ');
    Ok(bytes)
}

/// Writes a checkpoint of a run atomically: model, and the trainer's `state` (optimizer moments,
/// generators, row order, progress, history, early-stopping state), and the caller's `settings`.
pub fn save_checkpoint(
    path: &Path,
    model: &Model,
    state: &TrainerSnapshot<f32>,
    settings: &serde_json::Value,
) -> Result<()> {
    check_writable(&model.network, &model.info).map_err(|m| file_error(path, m))?;
    let mut entries = Vec::new();
    tensor_entries("", &model.network, &mut entries);
    let opt = &state.optimizer;
    for (i, m) in opt.m.iter().enumerate() {
        entries.push((format!("optimizer.m.{i}"), le_bytes(m), vec![m.len()], Dtype::F32));
    }
    for (i, v) in opt.v.iter().enumerate() {
        entries.push((format!("optimizer.v.{i}"), le_bytes(v), vec![v.len()], Dtype::F32));
    }
    if let Some(best) = &state.best {
        tensor_entries("best.", &best.network, &mut entries);
    }
    let order: Vec<u8> = state.order.iter().flat_map(|&i| (i as u64).to_le_bytes()).collect();
    entries.push(("trainer.order".into(), order, vec![state.order.len()], Dtype::U64));
    let meta = TrainerMeta {
        epoch: state.epoch,
        steps: opt.steps,
        data_rng: state.data_rng.clone(),
        history: state.history.clone(),
        best: state.best.as_ref().map(|b| (b.loss, b.epoch)),
        since_best: state.since_best,
        partial: state.partial.clone(),
        optimizer_slots: (opt.m.len(), opt.v.len()),
    };
    let json = |v: serde_json::Result<String>| v.map_err(|e| file_error(path, e.to_string()));
    let mut md = HashMap::new();
    md.insert(FORMAT_KEY.to_string(), CHECKPOINT_NAME.to_string());
    md.insert(VERSION_KEY.to_string(), version_for(&model.network).to_string());
    md.insert(META_KEY.to_string(), json(serde_json::to_string(&model.info))?);
    md.insert("trainer".to_string(), json(serde_json::to_string(&meta))?);
    md.insert("settings".to_string(), json(serde_json::to_string(settings))?);
    write_atomic(path, &serialize(&entries, md, path)?)
}

/// Reads and checks a checkpoint written by [`save_checkpoint`].
pub fn load_checkpoint(path: &Path) -> Result<Checkpoint> {
    checkpoint_from_bytes(path, &read_file(path)?)
}

/// [`load_checkpoint`] from the file's bytes, read elsewhere (by the first process of a
/// distributed run, which sends them to the others); `path` names it in errors.
pub fn checkpoint_from_bytes(path: &Path, bytes: &[u8]) -> Result<Checkpoint> {
    let err = |m: String| file_error(path, m);
    let st = SafeTensors::deserialize(bytes).map_err(|e| err(format!("not a valid checkpoint file: {e}")))?;
    let (_, header) =
        SafeTensors::read_metadata(bytes).map_err(|e| err(format!("not a valid checkpoint file: {e}")))?;
    let meta = header.metadata().as_ref().ok_or_else(|| err("no metadata: not a neuralnet checkpoint".into()))?;
    match meta.get(FORMAT_KEY).map(String::as_str) {
        Some(CHECKPOINT_NAME) => {}
        Some(FORMAT_NAME) => {
            return Err(err("this is a model file, not a checkpoint (checkpoints end in .ckpt)".into()));
        }
        _ => return Err(err("not a neuralnet checkpoint".into())),
    }
    let version: u32 =
        meta.get(VERSION_KEY).and_then(|v| v.parse().ok()).ok_or_else(|| err("missing format version".into()))?;
    if version > FORMAT_VERSION {
        return Err(err(format!("written by a newer neuralnet (format version {version}); upgrade neuralnet")));
    }
    let get = |k: &str| meta.get(k).ok_or_else(|| err(format!("metadata lacks \"{k}\"")));
    let info: ModelInfo =
        serde_json::from_str(get(META_KEY)?).map_err(|e| err(format!("model description is malformed: {e}")))?;
    let tm: TrainerMeta =
        serde_json::from_str(get("trainer")?).map_err(|e| err(format!("trainer state is malformed: {e}")))?;
    let settings: serde_json::Value =
        serde_json::from_str(get("settings")?).map_err(|e| err(format!("settings are malformed: {e}")))?;
    let network = read_network(&st, "", &info, &err)?;
    let best = if tm.best.is_some() { Some(read_network(&st, "best.", &info, &err)?) } else { None };
    let lens: Vec<usize> = network.tensors().map(Vec::len).collect();
    let slot_len = |i: usize| lens[i];
    let slots = lens.len();
    let read_slots = |kind: &str, n: usize| -> Result<Vec<Vec<f32>>> {
        if n != 0 && n != slots {
            return Err(err(format!("optimizer state has {n} '{kind}' tensors; the network needs 0 or {slots}")));
        }
        (0..n).map(|i| read_tensor(&st, &format!("optimizer.{kind}.{i}"), &[slot_len(i)], &err)).collect()
    };
    let m = read_slots("m", tm.optimizer_slots.0)?;
    let v = read_slots("v", tm.optimizer_slots.1)?;
    // Second moments are means of squares: a negative one makes Adam's step the root of a negative.
    if let Some((i, x)) = v.iter().enumerate().find_map(|(i, t)| t.iter().find(|x| **x < 0.0).map(|x| (i, *x))) {
        return Err(err(format!("tensor 'optimizer.v.{i}' holds a negative second moment ({x})")));
    }
    let t = st.tensor("trainer.order").map_err(|_| err("tensor 'trainer.order' is missing".into()))?;
    if t.dtype() != Dtype::U64 || t.shape().len() != 1 {
        return Err(err("tensor 'trainer.order' must be a U64 vector".into()));
    }
    let order: Vec<usize> =
        t.data().chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as usize).collect();
    let state = TrainerSnapshot {
        epoch: tm.epoch,
        optimizer: OptimizerState { steps: tm.steps, m, v },
        data_rng: tm.data_rng,
        history: tm.history,
        best: tm.best.zip(best).map(|((loss, epoch), network)| Best { loss, epoch, network }),
        since_best: tm.since_best,
        order,
        partial: tm.partial,
    };
    state.check(&network).map_err(err)?;
    check_description(&info, &network).map_err(err)?;
    Ok(Checkpoint { model: Model { network, info }, state, settings })
}

fn read_network(
    st: &SafeTensors<'_>,
    prefix: &str,
    info: &ModelInfo,
    err: &dyn Fn(String) -> Error,
) -> Result<Network<f32>> {
    let arch = &info.architecture;
    let (sizes, activations) = (arch.sizes(), arch.activations());
    let n = activations.len();
    if n == 0 {
        return Err(err(format!(
            "metadata describes {} layer sizes and {} activations; need at least 2 sizes and one activation per layer",
            sizes.len(),
            n
        )));
    }
    let mut layers = Vec::with_capacity(n);
    for i in 0..n {
        let (inputs, outputs) = (sizes[i], sizes[i + 1]);
        let weights = read_tensor(st, &format!("{prefix}layers.{i}.weight"), &[outputs, inputs], err)?;
        let bias = read_tensor(st, &format!("{prefix}layers.{i}.bias"), &[outputs], err)?;
        layers.push(Dense { inputs, outputs, weights, bias, activation: activations[i] });
    }
    if arch.input_maps.is_none() {
        return Network::from_layers(layers, arch.loss).map_err(|e| err(e.to_string()));
    }
    let mut features = arch.feature_layers::<f32>().map_err(|e| err(e.to_string()))?;
    for (k, f) in features.iter_mut().enumerate() {
        if let Feature::Conv(c) = f {
            let shape = [c.out_channels, c.input.channels, c.kernel, c.kernel];
            c.weights = read_tensor(st, &format!("{prefix}features.{k}.weight"), &shape, err)?;
            c.bias = read_tensor(st, &format!("{prefix}features.{k}.bias"), &[c.out_channels], err)?;
        }
    }
    Network::with_features(features, layers, arch.loss).map_err(|e| err(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::Activation;
    use crate::init::Init;
    use crate::loss::Loss;

    fn model() -> Model {
        let net = Architecture::mlp(&[4, 3, 2], Activation::Relu, Activation::Softmax, Loss::CrossEntropy)
            .init(Init::HeUniform)
            .build::<f32>(5)
            .unwrap();
        Model::new(
            net,
            ModelInfo {
                architecture: Architecture::new(4),
                normalization: Normalization::pixels(),
                input_shape: Some((2, 2)),
                classes: Some(vec!["a".into(), "b".into()]),
                training: serde_json::json!({"epochs": 3}),
                test_accuracy: Some(0.5),
                tabular: None,
            },
        )
    }

    #[test]
    fn input_kind_checks_name_the_file_and_what_differs() {
        let path = Path::new("m.safetensors");
        let mut m = model();
        assert_eq!(m.input_kind(), InputKind::Images);
        m.require_images(path, "predict").unwrap();
        let e = m.require_table(path, "evaluate it").unwrap_err().to_string();
        assert_eq!(e, "m.safetensors was not trained on a CSV table (it reads images): evaluate it without --csv");
        m.require_photos(path, "predict", 2).unwrap();
        let e = m.require_photos(path, "predict", 28).unwrap_err().to_string();
        assert_eq!(
            e,
            "m.safetensors takes 4 inputs (2×2 images), but photos are read as 28×28 = 784 pixels (MNIST's size); use a model trained on MNIST-style images"
        );
        m.info.input_shape = Some((1, 4));
        assert!(matches!(m.require_photos(path, "predict", 2), Err(Error::PhotoSize { inputs: 4, .. })));
        m.info.input_shape = None;
        m.require_photos(path, "predict", 2).unwrap();

        m.info.tabular = Some(
            serde_json::from_value(serde_json::json!({
                "target": "y", "task": "classify", "classes": ["a", "b"],
                "columns": [{"kind": "numeric", "name": "x", "mean": 0.0, "std": 1.0}],
            }))
            .unwrap(),
        );
        assert_eq!(m.input_kind(), InputKind::Table);
        assert_eq!(m.require_table(path, "predict").unwrap().target, "y");
        let e = m.require_images(path, "predict").unwrap_err().to_string();
        assert_eq!(e, "m.safetensors was trained on a CSV table: predict with --csv FILE");
        let e = m.require_photos(path, "evaluate it", 2).unwrap_err().to_string();
        assert_eq!(e, "m.safetensors was trained on a CSV table: evaluate it with --csv FILE");
    }

    #[test]
    fn a_convolutional_model_and_its_checkpoint_round_trip_exactly() {
        use crate::conv::Maps;
        use crate::train::{TrainConfig, Trainer};
        let arch = Architecture::parse_spec(
            "conv:3:3:same,pool:2,conv:2:2,dense:5,dense:2",
            Maps::new(1, 6, 6),
            Activation::Relu,
            Activation::Softmax,
            Loss::CrossEntropy,
        )
        .unwrap();
        let net: Network<f32> = arch.build(3).unwrap();
        let m = Model::new(net, ModelInfo { input_shape: Some((6, 6)), ..model().info });
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("conv.safetensors");
        save(&m, &p).unwrap();
        let back = load(&p).unwrap();
        assert_eq!(back, m);
        assert_eq!(version_for(&back.network), 2);
        let b = to_bytes(&m).unwrap();
        let n = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
        let header: serde_json::Value = serde_json::from_slice(&b[8..8 + n]).unwrap();
        assert_eq!(header["features.0.weight"]["shape"], serde_json::json!([3, 1, 3, 3]));
        assert_eq!(header["features.2.weight"]["shape"], serde_json::json!([2, 3, 2, 2]));
        assert_eq!(header["layers.0.weight"]["shape"], serde_json::json!([5, 8]));
        assert_eq!(header["__metadata__"]["format_version"], "2");
        // A checkpoint keeps the optimizer's moments of every tensor, the convolutions' included.
        let data = crate::dataset::Dataset::classification(
            (0..4 * 36).map(|i| (i % 7) as f32 / 7.0).collect(),
            36,
            vec![0, 1, 0, 1],
            2,
        )
        .unwrap();
        let mut net = m.network.clone();
        let config =
            TrainConfig { batch_size: 2, optimizer: crate::optimizer::Optimizer::adam(0.01), ..Default::default() };
        let mut t = Trainer::new(&net, 4, &config);
        t.install(|t| t.step(&mut net, &data, &[0, 1], &config, 0.01));
        let snap = t.snapshot();
        assert_eq!(snap.optimizer.m.len(), 8);
        let ck = dir.path().join("conv.ckpt");
        save_checkpoint(&ck, &Model::new(net.clone(), m.info.clone()), &snap, &serde_json::json!({})).unwrap();
        let back = load_checkpoint(&ck).unwrap();
        assert_eq!(back.model.network, net);
        assert_eq!(back.state.optimizer.m, snap.optimizer.m);
        assert_eq!(back.state.optimizer.v, snap.optimizer.v);
        // A negative second moment (Adam would step by the root of a negative) is refused.
        let mut bad = snap.clone();
        bad.optimizer.v[1][0] = -1.0;
        save_checkpoint(&ck, &Model::new(net.clone(), m.info.clone()), &bad, &serde_json::json!({})).unwrap();
        let e = load_checkpoint(&ck).err().unwrap().to_string();
        assert!(e.contains("optimizer.v.1") && e.contains("negative second moment"), "{e}");
    }

    #[test]
    fn a_model_that_would_not_load_back_is_not_written() {
        let mut m = model();
        m.network.layers[1].weights[2] = f32::NAN;
        let e = to_bytes(&m).unwrap_err().to_string();
        assert!(e.contains("not written") && e.contains("non-finite") && e.contains("diverged"), "{e}");
        let mut m = model();
        m.info.classes = Some(vec!["a".into()]);
        assert!(to_bytes(&m).unwrap_err().to_string().contains("names 1 classes"));
    }

    #[cfg(unix)]
    #[test]
    fn a_pipe_is_written_into_not_replaced() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("model.fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        save(&model(), &fifo).unwrap();
        // (Checked before waiting on the reader, which a file renamed over the pipe would strand.)
        assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
        let read = from_bytes(&reader.join().unwrap(), &fifo).unwrap();
        assert_eq!(read.network, model().network);
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

    #[test]
    fn the_same_model_saves_to_the_same_bytes() {
        // The metadata goes through a hash map, whose order differs from map to map.
        let m = model();
        let first = to_bytes(&m).unwrap();
        for _ in 0..20 {
            assert_eq!(to_bytes(&m).unwrap(), first);
        }
        let n = u64::from_le_bytes(first[..8].try_into().unwrap()) as usize;
        let header = std::str::from_utf8(&first[8..8 + n]).unwrap();
        let keys = ["\"format\":", "\"format_version\":", "\"neuralnet\":"].map(|k| header.find(k).unwrap());
        assert!(keys.is_sorted(), "{header}");
        assert_eq!(from_bytes(&first, Path::new("m.safetensors")).unwrap(), m);
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

        // Class names or an image shape that do not fit the network (the commands index by them).
        let bytes = replace_bytes(&good, br#"\"classes\":[\"a\",\"b\"]"#, br#"\"classes\":[\"ab\"]     "#);
        let e = from_bytes(&bytes, p).unwrap_err().to_string();
        assert!(e.contains("names 1 classes") && e.contains("2 outputs"), "{e}");
        let bytes = replace_bytes(&good, br#"\"input_shape\":[2,2]"#, br#"\"input_shape\":[2,3]"#);
        let e = from_bytes(&bytes, p).unwrap_err().to_string();
        assert!(e.contains("2×3 images") && e.contains("4 inputs"), "{e}");

        // A normalisation that divides by zero.
        let bytes = replace_bytes(&good, br#"\"std\":1.0"#, br#"\"std\":0.0"#);
        let e = from_bytes(&bytes, p).unwrap_err().to_string();
        assert!(e.contains("normalisation") && e.contains("divide by 0"), "{e}");

        // A newer format version.
        let bytes = replace_bytes(&good, br#""format_version":"1""#, br#""format_version":"9""#);
        let e = from_bytes(&bytes, p).unwrap_err().to_string();
        assert!(e.contains("newer") && e.contains("9"), "{e}");
    }
}
