//! Subcommands, one file each. The CLI parses and prints; the mathematics lives in the library.

mod common;
mod data;
mod eval;
mod explain;
mod explain_model;
mod export;
mod fetch;
mod info;
mod lang;
mod neuron;
mod playground;
mod plot;
mod predict;
mod serve;
mod train;

use clap::{Parser, Subcommand};

/// Neural networks from the neuron to deep learning: train, evaluate and inspect MLPs.
#[derive(Parser, Debug)]
#[command(name = "neuralnet", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a network (by default a digit reader on MNIST) and save it.
    Train(Box<train::TrainArgs>),
    /// Evaluate a saved model on a test set: accuracy, per-class precision/recall, confusion matrix.
    Eval(eval::EvalArgs),
    /// Print everything a model file holds: architecture, normalisation, training settings.
    Info(info::InfoArgs),
    /// Write a model as ONNX, preprocessing included, for ONNX Runtime and other runtimes.
    Export(export::ExportArgs),
    /// Download and verify a data set into the cache (`mnist`).
    Fetch(fetch::FetchArgs),
    /// Every number of one forward and backward pass (default: the article's 2-2-1 example, checked).
    Explain(explain::ExplainArgs),
    /// The article's one-neuron decision (the cheese festival), or any neuron you describe.
    Neuron(neuron::NeuronArgs),
    /// Pictures (PNG and SVG): activations, a network, training curves, weights, confusion, XOR.
    Plot(plot::PlotArgs),
    /// Read digits from photos or scans (PNG, JPEG): top classes with probabilities.
    Predict(predict::PredictArgs),
    /// A page to draw digits on, with every layer shown live, and its JSON API (loopback by default).
    Serve(serve::ServeArgs),
    /// Watch a small network learn a 2-D data set, neuron by neuron, with every number (a page).
    Playground(playground::PlaygroundArgs),
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Train(a) => train::run(*a),
        Command::Eval(a) => eval::run(a),
        Command::Info(a) => info::run(a),
        Command::Export(a) => export::run(a),
        Command::Fetch(a) => fetch::run(a),
        Command::Explain(a) => explain::run(a),
        Command::Neuron(a) => neuron::run(a),
        Command::Plot(a) => plot::run(a),
        Command::Predict(a) => predict::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Playground(a) => playground::run(a),
    }
}
