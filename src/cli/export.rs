//! `neuralnet export MODEL [--out FILE.onnx]`: the model as an ONNX graph for other runtimes.

use anyhow::{Context, Result};
use clap::Args;
use neuralnet::export::onnx;
use neuralnet::model_file;
use std::path::PathBuf;

/// Arguments of `export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The model file.
    model: PathBuf,
    /// Where to write the ONNX file [default: MODEL with the extension .onnx].
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(args: ExportArgs) -> Result<()> {
    let model = model_file::load(&args.model)?;
    let out = args.out.unwrap_or_else(|| args.model.with_extension("onnx"));
    onnx::save(&model, &out).with_context(|| format!("cannot export to {}", out.display()))?;
    let (inputs, outputs) = onnx::signature(&model)?;
    let list =
        |ports: &[onnx::Port]| ports.iter().map(|p| format!("{} {}", p.name, p.kind)).collect::<Vec<_>>().join(", ");
    eprintln!(
        "wrote {} (ONNX opset {}, ai.onnx.ml {}, IR {}): inputs {}; outputs {}",
        out.display(),
        onnx::OPSET,
        onnx::ML_OPSET,
        onnx::IR_VERSION,
        list(&inputs),
        list(&outputs)
    );
    Ok(())
}
