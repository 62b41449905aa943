//! A trained model as an ONNX graph that takes the input as the user has it and returns what
//! `predict` returns, preprocessing included.
//!
//! - Images: input `pixels`, float32 `[batch, H·W]`, raw values (0–255, ink high); the model's
//!   normalisation `(raw / divide − mean) / std` is in the graph. Outputs `probabilities`
//!   `[batch, classes]` and `label` (int64 `[batch]`).
//! - Tables: input `numeric`, float64 `[batch, k]`, the numeric columns in the model's order, each
//!   standardised `(v − mean) / std` in float64, then cast to float32; each text column a string
//!   input `[batch, 1]` (`text_` + its name made an identifier), one-hot encoded against the sorted
//!   training categories (`ai.onnx.ml` `OneHotEncoder`, `zeros = 1`: an unseen category is all
//!   zeros; in a column capped to its most frequent categories, every other value is the block's
//!   last input, "other"). Columns left out in training (identifiers) are not inputs. With `--impute`, a missing number (NaN) becomes the training mean and a missing text
//!   cell (empty, `NA`, `N/A`, `NaN`, `null`, `?`, any case) the most frequent category. Outputs:
//!   `probabilities` and `label` (string, the class name), or `value` (float64 `[batch, 1]`, the
//!   target's units: `out · target_std + target_mean`).
//! - Each layer `z = Wx + b` is `MatMul` by `Wᵀ` and `Add`; each activation a standard operator.
//!   `probabilities` follows `predict`'s rule: a softmax output as it is; otherwise a row of
//!   non-negative outputs with a positive sum divided by its sum, any other row a softmax.
//!
//! Opset 17 with `ai.onnx.ml` 3, IR version 8 (ONNX 1.12): `Where` on strings needs opset 16, and
//! ONNX Runtime 1.12 or later, the reference runtime of the `onnx` package and most others read it.

use super::proto::{
    AttributeProto, Dimension, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto,
    TensorProto, TensorShapeProto, TensorType, TypeProto, ValueInfoProto, attribute_type as at, data_type as dt,
};
use crate::activation::Activation;
use crate::data::table::{Column, MISSING_MARKERS, Tabular, Task};
use crate::error::{Error, Result};
use crate::model_file::{Model, write_atomic};
use crate::network::Feature;
use crate::pool::POOL;
use prost::Message;
use std::path::Path;

/// The ONNX IR version written.
pub const IR_VERSION: i64 = 8;
/// The standard operator set version.
pub const OPSET: i64 = 17;
/// The `ai.onnx.ml` operator set version.
pub const ML_OPSET: i64 = 3;
const ML: &str = "ai.onnx.ml";

/// The graph being built: nodes in order, constants, and a counter for value names.
#[derive(Default)]
struct Graph {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    next: usize,
    uses_ml: bool,
}

fn attr(name: &str, r#type: i32) -> AttributeProto {
    AttributeProto { name: Some(name.into()), r#type: Some(r#type), ..Default::default() }
}
fn int(name: &str, v: i64) -> AttributeProto {
    AttributeProto { i: Some(v), ..attr(name, at::INT) }
}
fn float(name: &str, v: f32) -> AttributeProto {
    AttributeProto { f: Some(v), ..attr(name, at::FLOAT) }
}
fn strings(name: &str, v: &[String]) -> AttributeProto {
    AttributeProto { strings: v.iter().map(|s| s.as_bytes().to_vec()).collect(), ..attr(name, at::STRINGS) }
}
fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto { ints: v.to_vec(), ..attr(name, at::INTS) }
}

impl Graph {
    /// Adds `op` (standard domain) on `inputs`; returns its output's name.
    fn op(&mut self, op: &str, inputs: &[&str], attributes: Vec<AttributeProto>) -> String {
        self.op_in("", op, inputs, attributes)
    }

    fn op_in(&mut self, domain: &str, op: &str, inputs: &[&str], attribute: Vec<AttributeProto>) -> String {
        self.next += 1;
        let out = format!("{}_{}", op.to_lowercase(), self.next);
        self.uses_ml |= domain == ML;
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![out.clone()],
            name: Some(format!("n{}", self.next)),
            op_type: Some(op.into()),
            attribute,
            domain: (!domain.is_empty()).then(|| domain.into()),
        });
        out
    }

    /// Renames the last node's output to `name` (a graph output).
    fn name_last(&mut self, name: &str) -> String {
        if let Some(n) = self.nodes.last_mut() {
            n.output = vec![name.into()];
        }
        name.into()
    }

    fn constant(&mut self, data_type: i32, dims: &[usize], raw: Vec<u8>, strings: Vec<Vec<u8>>) -> String {
        self.next += 1;
        let name = format!("const_{}", self.next);
        self.initializers.push(TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type: Some(data_type),
            string_data: strings,
            name: Some(name.clone()),
            raw_data: (data_type != dt::STRING).then_some(raw),
        });
        name
    }

    fn f32s(&mut self, dims: &[usize], v: &[f32]) -> String {
        self.constant(dt::FLOAT, dims, v.iter().flat_map(|x| x.to_le_bytes()).collect(), Vec::new())
    }
    fn f64s(&mut self, dims: &[usize], v: &[f64]) -> String {
        self.constant(dt::DOUBLE, dims, v.iter().flat_map(|x| x.to_le_bytes()).collect(), Vec::new())
    }
    fn i64s(&mut self, dims: &[usize], v: &[i64]) -> String {
        self.constant(dt::INT64, dims, v.iter().flat_map(|x| x.to_le_bytes()).collect(), Vec::new())
    }
    fn strs(&mut self, dims: &[usize], v: &[String]) -> String {
        self.constant(dt::STRING, dims, Vec::new(), v.iter().map(|s| s.as_bytes().to_vec()).collect())
    }
    fn scalar(&mut self, v: f32) -> String {
        self.f32s(&[], &[v])
    }
}

/// A graph input or output: `[batch, width…]` of `elem_type`.
fn value(name: &str, elem_type: i32, dims: &[Option<usize>], doc: &str) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| match d {
            Some(n) => Dimension { dim_value: Some(*n as i64), dim_param: None },
            None => Dimension { dim_value: None, dim_param: Some("batch".into()) },
        })
        .collect();
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorType { elem_type: Some(elem_type), shape: Some(TensorShapeProto { dim }) }),
        }),
        doc_string: (!doc.is_empty()).then(|| doc.into()),
    }
}

/// The graph input name of a text column: `text_` + the name with every character outside
/// `[A-Za-z0-9_]` replaced by `_`.
pub fn text_input_name(column: &str) -> String {
    let id: String = column.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    format!("text_{id}")
}

/// `a = f(z)` for one layer's `z`.
fn activation(g: &mut Graph, z: &str, f: Activation) -> String {
    match f {
        Activation::Identity => z.to_string(),
        Activation::Relu => g.op("Relu", &[z], vec![]),
        Activation::Tanh => g.op("Tanh", &[z], vec![]),
        Activation::Softmax => g.op("Softmax", &[z], vec![int("axis", -1)]),
        Activation::LeakyRelu { alpha } => g.op("LeakyRelu", &[z], vec![float("alpha", alpha as f32)]),
        Activation::Step { threshold } => {
            let t = g.scalar(threshold as f32);
            let above = g.op("Greater", &[z, &t], vec![]);
            g.op("Cast", &[&above], vec![int("to", dt::FLOAT as i64)])
        }
        Activation::Sigmoid { k, c } => {
            let mut x = z.to_string();
            if c != 0.0 {
                let cc = g.scalar(c as f32);
                x = g.op("Sub", &[&x, &cc], vec![]);
            }
            if k != 1.0 {
                let kk = g.scalar(k as f32);
                x = g.op("Mul", &[&kk, &x], vec![]);
            }
            g.op("Sigmoid", &[&x], vec![])
        }
    }
}

/// The network's layers on `x` (float32 `[batch, inputs]`); returns the output's name. A
/// convolutional part reads the row as maps (`Reshape` to `[batch, C, H, W]`), runs `Conv` (W as
/// out × in × k × k, the same layout as ours and PyTorch's; `pads` P on every side) with its
/// activation and `MaxPool` (2×2, stride 2, odd sizes floored as ours), and `Flatten`s the last maps
/// in (channel, row, column) order for the dense layers.
fn layers(g: &mut Graph, model: &Model, x: &str) -> String {
    let mut a = x.to_string();
    if let Some(m) = model.network.input_maps() {
        let shape = g.i64s(&[4], &[-1, m.channels as i64, m.height as i64, m.width as i64]);
        a = g.op("Reshape", &[&a, &shape], vec![]);
        for f in &model.network.features {
            match f {
                Feature::Conv(c) => {
                    let (k, p) = (c.kernel as i64, c.pad() as i64);
                    let w = g.f32s(&[c.out_channels, c.input.channels, c.kernel, c.kernel], &c.weights);
                    let b = g.f32s(&[c.out_channels], &c.bias);
                    let attributes =
                        vec![ints("kernel_shape", &[k, k]), ints("pads", &[p, p, p, p]), ints("strides", &[1, 1])];
                    let z = g.op("Conv", &[&a, &w, &b], attributes);
                    a = activation(g, &z, c.activation);
                }
                Feature::Pool(_) => {
                    let (k, s) = (POOL as i64, POOL as i64);
                    a = g.op("MaxPool", &[&a], vec![ints("kernel_shape", &[k, k]), ints("strides", &[s, s])]);
                }
            }
        }
        a = g.op("Flatten", &[&a], vec![int("axis", 1)]);
    }
    for layer in &model.network.layers {
        let (n_out, n_in) = (layer.outputs, layer.inputs);
        // Wᵀ, inputs × outputs, so that a row of inputs times it is the row of z.
        let mut wt = vec![0f32; n_in * n_out];
        for o in 0..n_out {
            for i in 0..n_in {
                wt[i * n_out + o] = layer.weights[o * n_in + i];
            }
        }
        let w = g.f32s(&[n_in, n_out], &wt);
        let b = g.f32s(&[n_out], &layer.bias);
        let xw = g.op("MatMul", &[&a, &w], vec![]);
        let z = g.op("Add", &[&xw, &b], vec![]);
        a = activation(g, &z, layer.activation);
    }
    a
}

/// `probabilities` by `predict`'s rule, and the index of the largest output (int64 `[batch]`).
fn probabilities(g: &mut Graph, model: &Model, out: &str) -> (String, String) {
    let softmax_output = model.network.layers.last().is_some_and(|l| l.activation == Activation::Softmax);
    if softmax_output {
        g.op("Identity", &[out], vec![]);
    } else {
        let zero = g.scalar(0.0);
        let axes = g.i64s(&[1], &[1]);
        let sum = g.op("ReduceSum", &[out, &axes], vec![int("keepdims", 1)]);
        let min = g.op("ReduceMin", &[out], vec![ints("axes", &[1]), int("keepdims", 1)]);
        let nonneg = g.op("GreaterOrEqual", &[&min, &zero], vec![]);
        let positive = g.op("Greater", &[&sum, &zero], vec![]);
        let normalise = g.op("And", &[&nonneg, &positive], vec![]);
        let divided = g.op("Div", &[out, &sum], vec![]);
        let soft = g.op("Softmax", &[out], vec![int("axis", -1)]);
        g.op("Where", &[&normalise, &divided, &soft], vec![]);
    }
    let p = g.name_last("probabilities");
    let index = g.op("ArgMax", &[&p], vec![int("axis", 1), int("keepdims", 0)]);
    (p, index)
}

/// Every spelling, in any case, of the cells read as missing.
fn missing_spellings() -> Vec<String> {
    let mut all = Vec::new();
    for m in MISSING_MARKERS {
        let chars: Vec<char> = m.chars().collect();
        let letters: Vec<usize> = (0..chars.len()).filter(|&i| chars[i].is_ascii_alphabetic()).collect();
        for mask in 0..(1usize << letters.len()) {
            let mut c = chars.clone();
            for (bit, &i) in letters.iter().enumerate() {
                if mask & (1 << bit) != 0 {
                    c[i] = c[i].to_ascii_uppercase();
                }
            }
            all.push(c.into_iter().collect());
        }
    }
    all
}

/// The table's inputs encoded as the network's input row (float32 `[batch, width]`).
fn table_inputs(g: &mut Graph, t: &Tabular, inputs: &mut Vec<ValueInfoProto>) -> String {
    let numeric: Vec<(&str, f64, f64)> = t
        .columns
        .iter()
        .filter_map(|c| match c {
            Column::Numeric { name, mean, std } => Some((name.as_str(), *mean, *std)),
            Column::Categorical { .. } => None,
        })
        .collect();
    let mut standardised = None;
    if !numeric.is_empty() {
        let k = numeric.len();
        let names: Vec<&str> = numeric.iter().map(|c| c.0).collect();
        inputs.push(value(
            "numeric",
            dt::DOUBLE,
            &[None, Some(k)],
            &format!("the numeric columns, in this order: {}", names.join(", ")),
        ));
        let means: Vec<f64> = numeric.iter().map(|c| c.1).collect();
        let stds: Vec<f64> = numeric.iter().map(|c| c.2).collect();
        let mean = g.f64s(&[k], &means);
        let std = g.f64s(&[k], &stds);
        let mut x = "numeric".to_string();
        if t.impute {
            let nan = g.op("IsNaN", &[&x], vec![]);
            x = g.op("Where", &[&nan, &mean, &x], vec![]);
        }
        let centred = g.op("Sub", &[&x, &mean], vec![]);
        let scaled = g.op("Div", &[&centred, &std], vec![]);
        standardised = Some(g.op("Cast", &[&scaled], vec![int("to", dt::FLOAT as i64)]));
    }
    let mut parts = Vec::new();
    let mut numeric_index = 0;
    for c in &t.columns {
        match c {
            Column::Numeric { .. } => {
                let Some(s) = &standardised else { continue };
                let i = g.i64s(&[1], &[numeric_index]);
                parts.push(g.op("Gather", &[s, &i], vec![int("axis", 1)]));
                numeric_index += 1;
            }
            Column::Categorical { name, categories, mode, other } => {
                let input = text_input_name(name);
                inputs.push(value(&input, dt::STRING, &[None, Some(1)], &format!("the text column '{name}'")));
                let mut x = input.clone();
                if t.impute {
                    let keys = missing_spellings();
                    let ones = vec![1i64; keys.len()];
                    let missing = g.op_in(
                        ML,
                        "LabelEncoder",
                        &[&x],
                        vec![strings("keys_strings", &keys), ints("values_int64s", &ones), int("default_int64", 0)],
                    );
                    let is = g.op("Cast", &[&missing], vec![int("to", dt::BOOL as i64)]);
                    let fill = g.strs(&[1, 1], std::slice::from_ref(mode));
                    x = g.op("Where", &[&is, &fill, &x], vec![]);
                }
                let hot =
                    g.op_in(ML, "OneHotEncoder", &[&x], vec![strings("cats_strings", categories), int("zeros", 1)]);
                let shape = g.i64s(&[2], &[-1, categories.len() as i64]);
                let block = g.op("Reshape", &[&hot, &shape], vec![]);
                if *other {
                    // Every value outside the kept categories is "other": 1 − the block's sum.
                    let axes = g.i64s(&[1], &[1]);
                    let sum = g.op("ReduceSum", &[&block, &axes], vec![int("keepdims", 1)]);
                    let one = g.scalar(1.0);
                    let rest = g.op("Sub", &[&one, &sum], vec![]);
                    parts.push(g.op("Concat", &[&block, &rest], vec![int("axis", 1)]));
                } else {
                    parts.push(block);
                }
            }
        }
    }
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    g.op("Concat", &refs, vec![int("axis", 1)])
}

/// The ONNX model of `model`, as bytes.
pub fn to_onnx(model: &Model) -> Result<Vec<u8>> {
    Ok(build(model)?.encode_to_vec())
}

/// A graph input or output as a reader needs it: name, element type and shape, what it is.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Port {
    /// The name to feed or fetch.
    pub name: String,
    /// `float32 [batch, 784]`, `string [batch, 1]`, …
    pub kind: String,
    /// What it holds.
    pub doc: String,
}

/// The inputs and outputs of `model`'s ONNX graph.
pub fn signature(model: &Model) -> Result<(Vec<Port>, Vec<Port>)> {
    let g = build(model)?.graph.unwrap_or_default();
    let port = |v: &ValueInfoProto| {
        let t = v.r#type.as_ref().and_then(|t| t.tensor_type.as_ref());
        let elem = match t.and_then(|t| t.elem_type) {
            Some(dt::FLOAT) => "float32",
            Some(dt::DOUBLE) => "float64",
            Some(dt::INT64) => "int64",
            Some(dt::STRING) => "string",
            _ => "?",
        };
        let dims: Vec<String> = t
            .and_then(|t| t.shape.as_ref())
            .map(|s| {
                s.dim
                    .iter()
                    .map(|d| d.dim_param.clone().unwrap_or_else(|| d.dim_value.unwrap_or(0).to_string()))
                    .collect()
            })
            .unwrap_or_default();
        Port {
            name: v.name.clone().unwrap_or_default(),
            kind: format!("{elem} [{}]", dims.join(", ")),
            doc: v.doc_string.clone().unwrap_or_default(),
        }
    };
    Ok((g.input.iter().map(port).collect(), g.output.iter().map(port).collect()))
}

/// The ONNX model of `model`.
fn build(model: &Model) -> Result<ModelProto> {
    let info = &model.info;
    let net = &model.network;
    let (inputs_n, outputs_n) = (net.inputs(), net.outputs());
    let mut g = Graph::default();
    let mut inputs = Vec::new();
    let mut outputs = Vec::new();
    let mut meta = vec![("producer".to_string(), format!("neuralnet {}", env!("CARGO_PKG_VERSION")))];
    match &info.tabular {
        None => {
            let n = info.normalization.clone();
            let shape = info.input_shape.map_or(String::new(), |(r, c)| format!(" ({r}×{c} images, row by row)"));
            inputs.push(value(
                "pixels",
                dt::FLOAT,
                &[None, Some(inputs_n)],
                &format!(
                    "raw values{shape}, normalised inside the graph as (raw / {} − {}) / {}",
                    n.divide, n.mean, n.std
                ),
            ));
            let divide = g.scalar(n.divide as f32);
            let mut x = g.op("Div", &["pixels", &divide], vec![]);
            if n.mean != 0.0 {
                let mean = g.scalar(n.mean as f32);
                x = g.op("Sub", &[&x, &mean], vec![]);
            }
            if n.std != 1.0 {
                let std = g.scalar(n.std as f32);
                x = g.op("Div", &[&x, &std], vec![]);
            }
            let out = layers(&mut g, model, &x);
            probabilities(&mut g, model, &out);
            g.name_last("label");
            outputs.push(value("probabilities", dt::FLOAT, &[None, Some(outputs_n)], "predict's probabilities"));
            outputs.push(value("label", dt::INT64, &[None], "the class index of the largest output"));
            meta.push(("normalization".into(), serde_json::to_string(&n).unwrap_or_default()));
            if let Some((r, c)) = info.input_shape {
                meta.push(("input_shape".into(), format!("[{r}, {c}]")));
            }
        }
        Some(t) => {
            let x = table_inputs(&mut g, t, &mut inputs);
            let out = layers(&mut g, model, &x);
            match t.task {
                Task::Classify => {
                    let (_, index) = probabilities(&mut g, model, &out);
                    let classes = g.strs(&[t.classes.len()], &t.classes);
                    g.op("Gather", &[&classes, &index], vec![int("axis", 0)]);
                    g.name_last("label");
                    outputs.push(value(
                        "probabilities",
                        dt::FLOAT,
                        &[None, Some(outputs_n)],
                        "predict's probabilities",
                    ));
                    outputs.push(value("label", dt::STRING, &[None], "the class name"));
                }
                Task::Regress => {
                    let wide = g.op("Cast", &[&out], vec![int("to", dt::DOUBLE as i64)]);
                    let std = g.f64s(&[], &[t.target_std]);
                    let mean = g.f64s(&[], &[t.target_mean]);
                    let scaled = g.op("Mul", &[&wide, &std], vec![]);
                    g.op("Add", &[&scaled, &mean], vec![]);
                    g.name_last("value");
                    outputs.push(value("value", dt::DOUBLE, &[None, Some(outputs_n)], &format!("'{}'", t.target)));
                }
            }
            let columns: Vec<serde_json::Value> = t
                .columns
                .iter()
                .map(|c| match c {
                    Column::Numeric { name, .. } => serde_json::json!({"column": name, "input": "numeric"}),
                    Column::Categorical { name, .. } => {
                        serde_json::json!({"column": name, "input": text_input_name(name)})
                    }
                })
                .collect();
            meta.push(("columns".into(), serde_json::Value::Array(columns).to_string()));
            meta.push(("target".into(), t.target.clone()));
            meta.push(("impute".into(), t.impute.to_string()));
        }
    }
    if let Some(c) = &info.classes {
        meta.push(("classes".into(), serde_json::to_string(c).unwrap_or_default()));
    }
    if let Some(a) = info.test_accuracy {
        meta.push(("test_accuracy".into(), a.to_string()));
    }
    meta.push(("architecture".into(), info.architecture.describe()));
    let mut opset_import = vec![OperatorSetIdProto { domain: Some(String::new()), version: Some(OPSET) }];
    if g.uses_ml {
        opset_import.push(OperatorSetIdProto { domain: Some(ML.into()), version: Some(ML_OPSET) });
    }
    let m = ModelProto {
        ir_version: Some(IR_VERSION),
        producer_name: Some("neuralnet".into()),
        producer_version: Some(env!("CARGO_PKG_VERSION").into()),
        doc_string: Some("A neuralnet model: the input as the user has it, predict's outputs".into()),
        graph: Some(GraphProto {
            node: g.nodes,
            name: Some("neuralnet".into()),
            initializer: g.initializers,
            doc_string: None,
            input: inputs,
            output: outputs,
        }),
        opset_import,
        metadata_props: meta
            .into_iter()
            .map(|(k, v)| StringStringEntryProto { key: Some(k), value: Some(v) })
            .collect(),
    };
    if m.graph.as_ref().is_some_and(|g| g.node.is_empty()) {
        return Err(Error::InvalidValue { what: "model".into(), message: "it has no layers to export".into() });
    }
    Ok(m)
}

/// Writes `model` as ONNX to `path`, atomically (a temporary file, then a rename).
pub fn save(model: &Model, path: &Path) -> Result<()> {
    write_atomic(path, &to_onnx(model)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_inputs_are_identifiers() {
        assert_eq!(text_input_name("size (cm)"), "text_size__cm_");
        assert_eq!(text_input_name("città"), "text_citt_");
        assert_eq!(text_input_name("a_b9"), "text_a_b9");
    }

    #[test]
    fn every_case_of_every_missing_marker_is_listed() {
        let all = missing_spellings();
        for m in ["", "NA", "na", "nA", "N/A", "n/A", "NaN", "nan", "NULL", "nUlL", "?"] {
            assert!(all.iter().any(|s| s == m), "{m}");
        }
        // 1 + 4 + 4 + 8 + 16 + 1 spellings ("", na, n/a, nan, null, ?), each once.
        assert_eq!(all.len(), 34);
        assert!(all.iter().all(|s| crate::data::table::is_missing(s)));
    }
}
