//! `neuralnet info MODEL`: everything a model file holds.

use super::common::Format;
use anyhow::Result;
use clap::Args;
use neuralnet::conv::Padding;
use neuralnet::data::table::Column;
use neuralnet::export::onnx;
use neuralnet::model_file;
use neuralnet::network::Feature;
use std::path::PathBuf;

/// Arguments of `info`.
#[derive(Args, Debug)]
pub struct InfoArgs {
    /// The model file.
    model: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

pub fn run(args: InfoArgs) -> Result<()> {
    let m = model_file::load(&args.model)?;
    let info = &m.info;
    let signature = onnx::signature(&m);
    if args.format == Format::Json {
        let onnx = match &signature {
            Ok((inputs, outputs)) => {
                serde_json::json!({"exportable": true, "opset": onnx::OPSET, "inputs": inputs, "outputs": outputs})
            }
            Err(e) => serde_json::json!({"exportable": false, "why": e.to_string()}),
        };
        let v = serde_json::json!({
            "file": args.model,
            "format_version": model_file::version_for(&m.network),
            "parameters": m.network.parameter_count(),
            "model": info,
            "onnx": onnx,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("model file:     {}", args.model.display());
    println!("format version: {}", model_file::version_for(&m.network));
    println!("architecture:   {} ({} parameters)", info.architecture.describe(), m.network.parameter_count());
    // Layers are numbered over the whole network, convolution and pooling first, as `explain` does.
    for (k, f) in m.network.features.iter().enumerate() {
        match f {
            Feature::Conv(c) => println!(
                "  layer {}: conv: W {}×{}×{}×{}, b {}, {} padding, activation {} → {}",
                k + 1,
                c.out_channels,
                c.input.channels,
                c.kernel,
                c.kernel,
                c.out_channels,
                if c.padding == Padding::Same { "same" } else { "valid" },
                c.activation,
                c.output()
            ),
            Feature::Pool(p) => println!("  layer {}: pool: 2×2 max → {}", k + 1, p.output()),
        }
    }
    let first = m.network.features.len() + 1;
    for (i, l) in m.network.layers.iter().enumerate() {
        println!("  layer {}: W {}×{}, b {}, activation {}", first + i, l.outputs, l.inputs, l.outputs, l.activation);
    }
    println!("loss:           {}", info.architecture.loss);
    let n = &info.normalization;
    println!("input:          x = (raw / {} − {}) / {}", n.divide, n.mean, n.std);
    if let Some((r, c)) = info.input_shape {
        println!("input shape:    {r}×{c} image");
    }
    if let Some(classes) = &info.classes {
        println!("classes:        {}", classes.join(", "));
    }
    if let Some(acc) = info.test_accuracy {
        println!("test accuracy:  {:.2}%", acc * 100.0);
    }
    if let Some(t) = &info.tabular {
        let cols: Vec<String> = t
            .columns
            .iter()
            .map(|c| match c {
                Column::Numeric { name, mean, std } => format!("{name} (numeric, mean {mean}, std {std})"),
                Column::Categorical { name, categories, other, .. } => format!(
                    "{name} (text, {} categories{})",
                    categories.len(),
                    if *other { " + 'other' for the rest" } else { "" }
                ),
            })
            .collect();
        println!("columns:        {}", cols.join(", "));
        if !t.dropped.is_empty() {
            println!("left out:       {} (ignored in new files)", t.dropped.join(", "));
        }
    }
    let ports = |p: &[onnx::Port]| p.iter().map(|p| format!("{} {}", p.name, p.kind)).collect::<Vec<_>>().join(", ");
    match &signature {
        Ok((inputs, outputs)) => {
            println!("exportable:     ONNX (neuralnet export): inputs {}; outputs {}", ports(inputs), ports(outputs))
        }
        Err(e) => println!("exportable:     not to ONNX: {e}"),
    }
    if !info.training.is_null() {
        println!("training:       {}", serde_json::to_string(&info.training)?);
    }
    Ok(())
}
