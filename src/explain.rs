//! What `explain` works on: a small network given as JSON, traced by the reference path, and the
//! machine-readable form of every number of one gradient-descent step.
//!
//! Input format: `{"layers": [{"W": [[…]], "b": […], "activation": "sigmoid"}, …], "loss": "half_mse",
//! "x": [[…], …], "y": [[…], …], "lr": 0.1}` — `W` is outputs × inputs, `x`/`y` one row per sample.
//!
//! A convolutional network names its input's shape and puts its convolution and pooling layers
//! first, each marked by `"type"`:
//!
//! ```json
//! {"input": [1, 5, 5],
//!  "layers": [{"type": "conv", "W": [[[[1, 0], [0, -1]]]], "b": [0.1], "activation": "relu", "padding": "valid"},
//!             {"type": "pool"},
//!             {"W": [[0.5, -0.3, 0.2, 0.1]], "b": [0], "activation": "sigmoid"}],
//!  "loss": "half_mse", "x": [[[[0, 1, …], …]]], "y": [[1]], "lr": 0.1}
//! ```
//!
//! `"input"` is channels, rows, columns; a convolution's `W` is out × in × k × k (as PyTorch's
//! `nn.Conv2d` stores it), `b` one bias per output channel, `"padding"` `valid` (the default) or
//! `same`; `"pool"` is 2×2 max pooling. A row of `x` may be nested (channels × rows × columns) or
//! flat in that order; the first dense layer reads the last map flattened the same way.

use crate::activation::Activation;
use crate::conv::{Conv2d, Maps, Padding};
use crate::error::{Error, Result, shape_error};
use crate::layer::Dense;
use crate::loss::Loss;
use crate::network::{Feature, Network};
use crate::pool::MaxPool2d;
use crate::trace::Trace;
use serde::Deserialize;
use serde_json::{Value, json};
use std::path::Path;

/// Inputs larger than this are refused: explain is for networks a person reads.
pub const MAX_PARAMETERS: usize = 100_000;

/// Nor more than this many numbers in every layer's maps or vectors, over all samples: a small
/// file may not ask for huge maps.
pub const MAX_VALUES: usize = 1_000_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LayerSpec {
    #[serde(rename = "type", default)]
    _kind: Option<String>,
    #[serde(rename = "W")]
    w: Vec<Vec<f64>>,
    b: Vec<f64>,
    activation: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConvSpec {
    #[serde(rename = "type")]
    _kind: String,
    #[serde(rename = "W")]
    w: Vec<Vec<Vec<Vec<f64>>>>,
    b: Vec<f64>,
    activation: String,
    #[serde(default)]
    padding: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PoolSpec {
    #[serde(rename = "type")]
    _kind: String,
    #[serde(default)]
    size: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NetSpec {
    #[serde(default)]
    input: Option<Vec<usize>>,
    layers: Vec<Value>,
    loss: String,
    x: Vec<Value>,
    y: Vec<Vec<f64>>,
    lr: Option<f64>,
}

fn invalid(what: impl Into<String>, message: impl Into<String>) -> Error {
    Error::InvalidValue { what: what.into(), message: message.into() }
}

/// The numbers of a (possibly nested) array, in order.
fn flatten(v: &Value, out: &mut Vec<f64>, what: &str) -> Result<()> {
    match v {
        Value::Number(n) => out.push(n.as_f64().ok_or_else(|| invalid(what, format!("{n} is not a number")))?),
        Value::Array(items) => {
            for item in items {
                flatten(item, out, what)?;
            }
        }
        other => return Err(invalid(what, format!("expected numbers (or arrays of them), found {other}"))),
    }
    Ok(())
}

/// A convolution from its JSON form, on maps `input`.
fn conv_layer(spec: ConvSpec, input: Maps) -> Result<Conv2d<f64>> {
    let out = spec.w.len();
    let k = spec.w.first().and_then(|o| o.first()).map_or(0, Vec::len);
    for (o, per_out) in spec.w.iter().enumerate() {
        if per_out.len() != input.channels {
            return Err(shape_error(
                format!("W[{o}]"),
                format!("{} kernels, one per input channel (the input is {input})", input.channels),
                format!("{}", per_out.len()),
                None,
            ));
        }
        for (c, kernel) in per_out.iter().enumerate() {
            if kernel.len() != k || kernel.iter().any(|row| row.len() != k) {
                return Err(shape_error(
                    format!("W[{o}][{c}]"),
                    format!("a {k}×{k} kernel like W[0][0]"),
                    format!("{} rows of {:?} entries", kernel.len(), kernel.iter().map(Vec::len).collect::<Vec<_>>()),
                    None,
                ));
            }
        }
    }
    if spec.b.len() != out {
        return Err(shape_error(
            "b",
            format!("{out} entries, one per output channel"),
            format!("{}", spec.b.len()),
            None,
        ));
    }
    let padding = match spec.padding.as_deref().unwrap_or("valid") {
        "valid" => Padding::Valid,
        "same" => Padding::Same,
        other => return Err(invalid("padding", format!("'{other}' (expected valid or same)"))),
    };
    let mut c = Conv2d::zeros(input, out, k, padding, Activation::parse(&spec.activation)?)?;
    c.weights = spec.w.concat().concat().concat();
    c.bias = spec.b;
    crate::error::check_finite("W", &c.weights, c.weights.len())?;
    crate::error::check_finite("b", &c.bias, c.bias.len())?;
    Ok(c)
}

/// A network with samples and a learning rate: everything one explained step needs.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    /// The network (f64).
    pub network: Network<f64>,
    /// Inputs, one per sample.
    pub x: Vec<Vec<f64>>,
    /// Targets, one per sample.
    pub y: Vec<Vec<f64>>,
    /// Learning rate η.
    pub lr: f64,
}

impl Problem {
    /// The article's 2-2-1 example.
    pub fn article() -> Self {
        Self {
            network: crate::article::network(),
            x: vec![crate::article::X.to_vec()],
            y: vec![vec![crate::article::Y]],
            lr: crate::article::LR,
        }
    }

    /// The problem in the JSON file at `path` (see [`Problem::from_json`]), or the article's
    /// example when there is none; the flag says which (`true`: the article's).
    pub fn load(path: Option<&Path>) -> Result<(Self, bool)> {
        let Some(path) = path else {
            return Ok((Self::article(), true));
        };
        let text = std::fs::read_to_string(path).map_err(|error| Error::Read { path: path.to_path_buf(), error })?;
        let problem =
            Self::from_json(&text).map_err(|e| Error::InFile { path: path.to_path_buf(), error: Box::new(e) })?;
        Ok((problem, false))
    }

    /// Parses and checks the JSON input format, naming the layer and shape at fault.
    pub fn from_json(text: &str) -> Result<Self> {
        let spec: NetSpec = serde_json::from_str(text)
            .map_err(|e| Error::InvalidValue { what: "network JSON".into(), message: e.to_string() })?;
        if spec.layers.is_empty() {
            return Err(shape_error("network JSON", "at least one layer", "\"layers\": []", None));
        }
        let mut maps = match spec.input.as_deref() {
            None => None,
            Some(&[c, h, w]) => {
                let n = c.checked_mul(h).and_then(|n| n.checked_mul(w)).unwrap_or(usize::MAX);
                if n == 0 || n > MAX_VALUES {
                    return Err(invalid(
                        "\"input\"",
                        format!("{c}×{h}×{w}: every size must be at least 1 and the input at most {MAX_VALUES} values"),
                    ));
                }
                Some(Maps::new(c, h, w))
            }
            Some(other) => {
                return Err(shape_error("\"input\"", "[channels, rows, columns]", format!("{other:?}"), None));
            }
        };
        let mut features = Vec::new();
        let mut layers = Vec::with_capacity(spec.layers.len());
        let mut params = 0usize;
        // Numbers held per sample: the input and every layer's vectors (z, a, δ and the like).
        let mut values = maps.map_or(0, |m: Maps| m.len());
        for (i, value) in spec.layers.into_iter().enumerate() {
            let kind = value.get("type").and_then(Value::as_str).unwrap_or("dense").to_string();
            let parse_error = |e: serde_json::Error| invalid(format!("layer {}", i + 1), e.to_string());
            let at_layer = |e: Error| prefix(e, i + 1);
            if kind != "dense" && !layers.is_empty() {
                return Err(invalid(
                    format!("layer {}", i + 1),
                    format!("a {kind} layer after a dense one; convolution and pooling layers come first"),
                ));
            }
            let size = match kind.as_str() {
                "conv" | "pool" => {
                    let Some(input) = maps else {
                        return Err(invalid(
                            format!("layer {}", i + 1),
                            format!("a {kind} layer needs the input's shape: \"input\": [channels, rows, columns]"),
                        ));
                    };
                    let feature = if kind == "conv" {
                        let spec: ConvSpec = serde_json::from_value(value).map_err(parse_error)?;
                        Feature::Conv(conv_layer(spec, input).map_err(at_layer)?)
                    } else {
                        let spec: PoolSpec = serde_json::from_value(value).map_err(parse_error)?;
                        if spec.size.is_some_and(|s| s != crate::pool::POOL) {
                            return Err(invalid(format!("layer {}", i + 1), "only 2×2 pooling (\"size\": 2) exists"));
                        }
                        Feature::Pool(MaxPool2d::new(input).map_err(at_layer)?)
                    };
                    params += feature.parameter_count();
                    maps = Some(feature.output());
                    features.push(feature);
                    maps.map_or(0, |m| m.len())
                }
                "dense" => {
                    let l: LayerSpec = serde_json::from_value(value).map_err(parse_error)?;
                    let act = Activation::parse(&l.activation)?;
                    let layer = Dense::from_rows(&l.w, &l.b, act).map_err(at_layer)?;
                    params += layer.parameter_count();
                    layers.push(layer);
                    l.b.len()
                }
                other => {
                    return Err(invalid(
                        format!("layer {}", i + 1),
                        format!("unknown \"type\": '{other}' (expected dense, conv or pool)"),
                    ));
                }
            };
            if params > MAX_PARAMETERS {
                return Err(invalid(
                    "network JSON",
                    format!("more than {MAX_PARAMETERS} parameters; explain is meant for small networks"),
                ));
            }
            values = values.saturating_add(size);
            if values.saturating_mul(spec.x.len().max(1)) > MAX_VALUES {
                return Err(invalid(
                    "network JSON",
                    format!(
                        "more than {MAX_VALUES} numbers in the layers' maps over all samples; explain is meant for \
                         small networks"
                    ),
                ));
            }
        }
        if layers.is_empty() {
            return Err(shape_error("network JSON", "at least one dense layer (the output)", "none", None));
        }
        if maps.is_some() && features.is_empty() {
            return Err(invalid("\"input\"", "is only for networks with convolution or pooling layers"));
        }
        let loss = Loss::parse(&spec.loss)?;
        let network = Network::with_features(features, layers, loss)?;
        let x = spec
            .x
            .iter()
            .enumerate()
            .map(|(s, row)| {
                let mut v = Vec::new();
                flatten(row, &mut v, &format!("row {} of \"x\"", s + 1)).map(|()| v)
            })
            .collect::<Result<Vec<_>>>()?;
        if spec.x.is_empty() || spec.x.len() != spec.y.len() {
            return Err(shape_error(
                "\"x\" and \"y\"",
                "the same number of rows (at least one)",
                format!("{} and {}", spec.x.len(), spec.y.len()),
                None,
            ));
        }
        for (s, (x, y)) in x.iter().zip(&spec.y).enumerate() {
            if x.len() != network.inputs() {
                let what = match network.input_maps() {
                    Some(m) => format!("the input {m}"),
                    None => format!("layer 1 has {} inputs", network.inputs()),
                };
                return Err(shape_error(
                    format!("row {} of \"x\"", s + 1),
                    format!("{} values ({what})", network.inputs()),
                    format!("{}", x.len()),
                    None,
                ));
            }
            if y.len() != network.outputs() {
                return Err(shape_error(
                    format!("row {} of \"y\"", s + 1),
                    format!("{} values (the last layer has {} outputs)", network.outputs(), network.outputs()),
                    format!("{}", y.len()),
                    None,
                ));
            }
            crate::error::check_finite(&format!("row {} of \"x\"", s + 1), x, x.len())?;
            crate::error::check_finite(&format!("row {} of \"y\"", s + 1), y, y.len())?;
        }
        let lr = spec.lr.unwrap_or(0.1);
        if !(lr.is_finite() && lr > 0.0) {
            return Err(Error::InvalidValue {
                what: "\"lr\"".into(),
                message: format!("must be a positive number, got {lr}"),
            });
        }
        Ok(Self { network, x, y: spec.y, lr })
    }

    /// Traces one gradient-descent step of the batch-mean loss.
    pub fn trace(&self) -> Result<Trace> {
        crate::trace::trace(&self.network, &self.x, &self.y, self.lr)
    }

    /// Applies the traced step's updates (the parameters after the step).
    pub fn apply(&mut self, t: &Trace) {
        for (l, layer) in self.network.layers.iter_mut().enumerate() {
            layer.weights = t.updated_w[l].concat();
            layer.bias = t.updated_b[l].clone();
        }
        for (k, f) in self.network.features.iter_mut().enumerate() {
            if let Feature::Conv(c) = f {
                c.weights = t.feature_updated_w[k].clone();
                c.bias = t.feature_updated_b[k].clone();
            }
        }
    }
}

fn prefix(e: Error, layer: usize) -> Error {
    match e {
        Error::Shape { context, expected, actual, hint } => {
            Error::Shape { context: format!("layer {layer}: {context}"), expected, actual, hint }
        }
        other => other,
    }
}

/// One sample's flat maps as nested arrays, channels × rows × columns.
fn nested(v: &[f64], m: Maps) -> Value {
    json!(v.chunks(m.area().max(1)).map(|c| c.chunks(m.width.max(1)).collect::<Vec<_>>()).collect::<Vec<_>>())
}

/// Every number of a traced step of `net` as JSON: `"loss"` and `"layers"`, in the network's order,
/// each with its `"type"`. A dense layer has `"z"`, `"a"`, `"delta"` (batch × width, `δ = ∂L/∂z` of
/// the batch-mean loss), `"dL_dW"`, `"updated_W"` (outputs × inputs), `"dL_db"`, `"updated_b"`; a
/// convolution the same with maps (batch × channels × rows × columns), `"dL_da"` (what comes down
/// from above, before `⊙ f′`) and `W` out × in × k × k; a pooling layer `"a"`, `"dL_da"` and
/// `"winner"` (each window's winning input, as a flat index into the maps below).
pub fn to_json(net: &Network<f64>, t: &Trace) -> Value {
    let per_sample = |f: &dyn Fn(&crate::trace::SampleTrace) -> Value| t.samples.iter().map(f).collect::<Vec<_>>();
    let mut layers: Vec<Value> = net
        .features
        .iter()
        .enumerate()
        .map(|(k, f)| {
            let out = f.output();
            match f {
                Feature::Conv(c) => {
                    let kk = c.kernel * c.kernel;
                    let w = |v: &[f64]| {
                        json!(
                            v.chunks(c.input.channels * kk)
                                .map(|o| o
                                    .chunks(kk)
                                    .map(|q| q.chunks(c.kernel).collect::<Vec<_>>())
                                    .collect::<Vec<_>>())
                                .collect::<Vec<_>>()
                        )
                    };
                    json!({
                        "type": "conv",
                        "z": per_sample(&|s| nested(&s.features[k].z, out)),
                        "a": per_sample(&|s| nested(&s.features[k].a, out)),
                        "dL_da": per_sample(&|s| nested(&s.features[k].back, out)),
                        "delta": per_sample(&|s| nested(&s.features[k].delta, out)),
                        "dL_dW": w(&t.feature_grad_w[k]),
                        "dL_db": t.feature_grad_b[k],
                        "updated_W": w(&t.feature_updated_w[k]),
                        "updated_b": t.feature_updated_b[k],
                    })
                }
                Feature::Pool(_) => json!({
                    "type": "pool",
                    "a": per_sample(&|s| nested(&s.features[k].a, out)),
                    "dL_da": per_sample(&|s| nested(&s.features[k].back, out)),
                    "winner": per_sample(&|s| json!(s.features[k].winner)),
                }),
            }
        })
        .collect();
    layers.extend((0..t.grad_w.len()).map(|l| {
        json!({
            "type": "dense",
            "z": t.samples.iter().map(|s| s.z[l].clone()).collect::<Vec<_>>(),
            "a": t.samples.iter().map(|s| s.a[l].clone()).collect::<Vec<_>>(),
            "delta": t.samples.iter().map(|s| s.delta[l].clone()).collect::<Vec<_>>(),
            "dL_dW": t.grad_w[l],
            "dL_db": t.grad_b[l],
            "updated_W": t.updated_w[l],
            "updated_b": t.updated_b[l],
        })
    }));
    json!({ "loss": t.loss, "layers": layers })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_format() {
        let p = Problem::from_json(
            r#"{"layers": [{"W": [[0.1, 0.2], [0.3, 0.4]], "b": [0.1, 0.2], "activation": "sigmoid"},
                           {"W": [[0.5, 0.6]], "b": [0.3], "activation": "sigmoid"}],
                "loss": "half_mse", "x": [[0.5, 0.1]], "y": [[1.0]]}"#,
        )
        .unwrap();
        assert_eq!(p, Problem::article());
    }

    #[test]
    fn inconsistent_shapes_are_named() {
        let e = Problem::from_json(
            r#"{"layers": [{"W": [[0.1, 0.2], [0.3]], "b": [0.1, 0.2], "activation": "relu"}],
                "loss": "half_mse", "x": [[0.5, 0.1]], "y": [[1.0, 0.0]]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("layer 1") && e.contains("row 1 of W"), "{e}");
        let e = Problem::from_json(
            r#"{"layers": [{"W": [[0.1, 0.2]], "b": [0.1], "activation": "relu"},
                           {"W": [[0.5, 0.6]], "b": [0.3], "activation": "sigmoid"}],
                "loss": "half_mse", "x": [[0.5, 0.1]], "y": [[1.0]]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("layer 2") && e.contains("1 inputs") && e.contains("2 inputs"), "{e}");
        let e = Problem::from_json(
            r#"{"layers": [{"W": [[0.1, 0.2]], "b": [0.1], "activation": "sigmoid"}],
                "loss": "half_mse", "x": [[0.5]], "y": [[1.0]]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("row 1 of \"x\""), "{e}");
        assert!(Problem::from_json("{").is_err());
        assert!(Problem::from_json(r#"{"layers": [], "loss": "half_mse", "x": [], "y": []}"#).is_err());
    }

    #[test]
    fn load_reads_a_file_or_gives_the_article_s_example() {
        let (p, article) = Problem::load(None).unwrap();
        assert!(article);
        assert_eq!(p, Problem::article());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("net.json");
        std::fs::write(&file, r#"{"layers": [{"W": [[0.5, -1]], "b": [0.1], "activation": "sigmoid"}], "loss": "half_mse", "x": [[1, 2]], "y": [[1]]}"#).unwrap();
        let (p, article) = Problem::load(Some(&file)).unwrap();
        assert!(!article);
        assert_eq!(p.network.sizes(), vec![2, 1]);
        let missing = dir.path().join("missing.json");
        let e = Problem::load(Some(&missing)).unwrap_err().to_string();
        assert!(e.starts_with(&format!("cannot read {}: ", missing.display())), "{e}");
        std::fs::write(&file, "{").unwrap();
        let e = Problem::load(Some(&file)).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}: invalid network JSON", file.display())), "{e}");
    }
}
