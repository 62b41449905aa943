//! Counts the subnormal numbers (0 < |x| < f32::MIN_POSITIVE, or f64's) in every tensor of a model
//! file or checkpoint (weights, and in a checkpoint the optimizer's moments too):
//! `cargo run --release --example subnormals -- model.safetensors.ckpt`.
use safetensors::{Dtype, SafeTensors};

fn main() {
    let path = std::env::args().nth(1).expect("usage: subnormals FILE.safetensors[.ckpt]");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let file = SafeTensors::deserialize(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut names = file.names();
    names.sort();
    let (mut all, mut sub) = (0usize, 0usize);
    for name in names {
        let t = file.tensor(name).unwrap();
        let data = t.data();
        let (n, s) = match t.dtype() {
            Dtype::F32 => {
                let v = data.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap()));
                (data.len() / 4, v.filter(|x| x.is_subnormal()).count())
            }
            Dtype::F64 => {
                let v = data.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap()));
                (data.len() / 8, v.filter(|x| x.is_subnormal()).count())
            }
            _ => continue,
        };
        println!("{name:<32} {n:>9} values, {s:>7} subnormal");
        all += n;
        sub += s;
    }
    println!("{:<32} {all:>9} values, {sub:>7} subnormal", "total");
}
