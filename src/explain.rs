//! What `explain` works on: a small network given as JSON, traced by the reference path, and the
//! machine-readable form of every number of one gradient-descent step.
//!
//! Input format: `{"layers": [{"W": [[…]], "b": […], "activation": "sigmoid"}, …], "loss": "half_mse",
//! "x": [[…], …], "y": [[…], …], "lr": 0.1}` — `W` is outputs × inputs, `x`/`y` one row per sample.

use crate::activation::Activation;
use crate::error::{Error, Result, shape_error};
use crate::layer::Dense;
use crate::loss::Loss;
use crate::network::Network;
use crate::trace::Trace;
use serde::Deserialize;
use serde_json::{Value, json};
use std::path::Path;

/// Inputs larger than this are refused: explain is for networks a person reads.
pub const MAX_PARAMETERS: usize = 100_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LayerSpec {
    #[serde(rename = "W")]
    w: Vec<Vec<f64>>,
    b: Vec<f64>,
    activation: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NetSpec {
    layers: Vec<LayerSpec>,
    loss: String,
    x: Vec<Vec<f64>>,
    y: Vec<Vec<f64>>,
    lr: Option<f64>,
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
        let mut layers = Vec::with_capacity(spec.layers.len());
        let mut params = 0usize;
        for (i, l) in spec.layers.iter().enumerate() {
            let act = Activation::parse(&l.activation)?;
            let layer = Dense::from_rows(&l.w, &l.b, act).map_err(|e| prefix(e, i + 1))?;
            params += layer.parameter_count();
            if params > MAX_PARAMETERS {
                return Err(Error::InvalidValue {
                    what: "network JSON".into(),
                    message: format!("more than {MAX_PARAMETERS} parameters; explain is meant for small networks"),
                });
            }
            layers.push(layer);
        }
        let loss = Loss::parse(&spec.loss)?;
        let network = Network::from_layers(layers, loss)?;
        if spec.x.is_empty() || spec.x.len() != spec.y.len() {
            return Err(shape_error(
                "\"x\" and \"y\"",
                "the same number of rows (at least one)",
                format!("{} and {}", spec.x.len(), spec.y.len()),
                None,
            ));
        }
        for (s, (x, y)) in spec.x.iter().zip(&spec.y).enumerate() {
            if x.len() != network.inputs() {
                return Err(shape_error(
                    format!("row {} of \"x\"", s + 1),
                    format!("{} values (layer 1 has {} inputs)", network.inputs(), network.inputs()),
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
        Ok(Self { network, x: spec.x, y: spec.y, lr })
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

/// Every number of a traced step as JSON: `"loss"` and `"layers"`, each with `"z"`, `"a"`, `"delta"`
/// (batch × width, `δ = ∂L/∂z` of the batch-mean loss), `"dL_dW"`, `"updated_W"` (outputs × inputs),
/// `"dL_db"`, `"updated_b"`.
pub fn to_json(t: &Trace) -> Value {
    let layers: Vec<Value> = (0..t.grad_w.len())
        .map(|l| {
            json!({
                "z": t.samples.iter().map(|s| s.z[l].clone()).collect::<Vec<_>>(),
                "a": t.samples.iter().map(|s| s.a[l].clone()).collect::<Vec<_>>(),
                "delta": t.samples.iter().map(|s| s.delta[l].clone()).collect::<Vec<_>>(),
                "dL_dW": t.grad_w[l],
                "dL_db": t.grad_b[l],
                "updated_W": t.updated_w[l],
                "updated_b": t.updated_b[l],
            })
        })
        .collect();
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
