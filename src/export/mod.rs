//! Trained models in formats other runtimes read: [`onnx`] (the graph, preprocessing included) on
//! the messages of [`proto`].

pub mod onnx;
pub mod proto;
