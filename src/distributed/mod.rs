//! Data parallelism across processes, as DistributedDataParallel and Horovod do it: every process
//! holds the whole network and works on its share of each mini-batch; the shares of the
//! batch-mean gradient
//!
//! `∂L/∂θ = Σₚ (rowsₚ / B) · ∂Lₚ/∂θ`   (`∂Lₚ/∂θ`: the mean gradient over process `p`'s rows)
//!
//! are summed across processes by one all-reduce before every step, and every process makes the
//! same update, so the weights stay the same everywhere.
//!
//! This module holds what training needs from the processes ([`Collective`]: a sum and a
//! broadcast), the one-process and in-process worlds ([`Solo`], [`InProcess`]), and the checks
//! that the processes agree ([`Digest`], [`agree`]). The MPI world is in `mpi` (feature
//! `distributed`).

#[cfg(feature = "distributed")]
pub mod mpi;

use crate::dataset::{Dataset, Targets};
use crate::error::{Error, Result};
use crate::kernels::Float;
use crate::kernels::float::{Floats, FloatsMut};
use crate::network::Network;
use sha2::Digest as _;
use std::ops::Range;
use std::sync::{Arc, Barrier, Mutex, PoisonError};

/// What a data-parallel run needs from its processes. Every process calls the same operations in
/// the same order; each returns once every process has made it. `what` names the operation for
/// a process that waits too long (see `mpi`).
pub trait Collective: Send + Sync {
    /// This process's number, from 0.
    fn rank(&self) -> usize;
    /// The number of processes.
    fn size(&self) -> usize;
    /// `recv ← Σ over processes of send`, the same in every process.
    fn sum_f32(&self, send: &[f32], recv: &mut [f32], what: &'static str);
    /// [`Collective::sum_f32`] in double precision.
    fn sum_f64(&self, send: &[f64], recv: &mut [f64], what: &'static str);
    /// Process 0's `buf` into every process's `buf` (of the same length everywhere).
    fn broadcast(&self, buf: &mut [u8], what: &'static str);
}

/// The environment variables by which MPI launchers tell a process it is one of a job: Open MPI's
/// `mpirun`, PMIx (Slurm's `srun --mpi=pmix`, Kubernetes' MPI operator) and PMI (MPICH's Hydra,
/// `srun --mpi=pmi2`).
pub const LAUNCHER_VARIABLES: [&str; 4] = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"];

/// What an MPI launcher's environment says about this process.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Launch {
    /// The number of processes, when the environment says (`OMPI_COMM_WORLD_SIZE`, `PMI_SIZE`;
    /// PMIx tells it only through MPI).
    pub size: Option<usize>,
    /// This process's number, when the environment says.
    pub rank: Option<usize>,
}

/// Whether an MPI launcher started this process (see [`LAUNCHER_VARIABLES`]), and what it says.
pub fn launched() -> Option<Launch> {
    let var = |name: &str| std::env::var(name).ok();
    let number = |names: &[&str]| names.iter().find_map(|v| var(v).and_then(|s| s.trim().parse().ok()));
    LAUNCHER_VARIABLES.iter().any(|v| var(v).is_some()).then(|| Launch {
        size: number(&["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"]),
        rank: number(&["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"]),
    })
}

/// `recv ← Σ over processes of send` for either float type.
pub fn sum<T: Float>(c: &dyn Collective, send: &[T], recv: &mut [T], what: &'static str) {
    match (T::typed(send), T::typed_mut(recv)) {
        (Floats::F32(s), FloatsMut::F32(r)) => c.sum_f32(s, r, what),
        (Floats::F64(s), FloatsMut::F64(r)) => c.sum_f64(s, r, what),
        // `send` and `recv` are both `[T]`: one type.
        _ => unreachable!("send and receive buffers of one type"),
    }
}

/// Process 0's bytes, of any length, in every process (`bytes` is ignored elsewhere).
pub fn broadcast_bytes(c: &dyn Collective, bytes: Vec<u8>, what: &'static str) -> Vec<u8> {
    let mut len = (bytes.len() as u64).to_le_bytes();
    c.broadcast(&mut len, what);
    let mut buf = bytes;
    buf.resize(u64::from_le_bytes(len) as usize, 0);
    c.broadcast(&mut buf, what);
    buf
}

/// The rows of a batch of `n` that process `rank` of `size` takes: contiguous, sizes differing by
/// at most one.
pub fn share(n: usize, rank: usize, size: usize) -> Range<usize> {
    n * rank / size..n * (rank + 1) / size
}

/// One process alone: sums and broadcasts are copies.
#[derive(Clone, Copy, Debug, Default)]
pub struct Solo;

impl Collective for Solo {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn sum_f32(&self, send: &[f32], recv: &mut [f32], _: &'static str) {
        recv.copy_from_slice(send);
    }
    fn sum_f64(&self, send: &[f64], recv: &mut [f64], _: &'static str) {
        recv.copy_from_slice(send);
    }
    fn broadcast(&self, _: &mut [u8], _: &'static str) {}
}

/// Processes played by threads of one process, for tests and for reading: the same operations,
/// with sums taken in process order. [`InProcess::world`] makes all of them; give each to its own
/// thread.
pub struct InProcess {
    rank: usize,
    size: usize,
    shared: Arc<Shared>,
}

struct Shared {
    barrier: Barrier,
    f32s: Mutex<Vec<Vec<f32>>>,
    f64s: Mutex<Vec<Vec<f64>>>,
    bytes: Mutex<Vec<u8>>,
}

impl InProcess {
    /// A world of `size` processes, process `p` at index `p`.
    pub fn world(size: usize) -> Vec<InProcess> {
        let shared = Arc::new(Shared {
            barrier: Barrier::new(size),
            f32s: Mutex::new(vec![Vec::new(); size]),
            f64s: Mutex::new(vec![Vec::new(); size]),
            bytes: Mutex::new(Vec::new()),
        });
        (0..size).map(|rank| InProcess { rank, size, shared: shared.clone() }).collect()
    }

    fn sum<T: Copy + std::iter::Sum>(&self, slots: &Mutex<Vec<Vec<T>>>, send: &[T], recv: &mut [T]) {
        slots.lock().unwrap_or_else(PoisonError::into_inner)[self.rank] = send.to_vec();
        self.shared.barrier.wait();
        {
            let all = slots.lock().unwrap_or_else(PoisonError::into_inner);
            for (i, r) in recv.iter_mut().enumerate() {
                *r = all.iter().map(|s| s[i]).sum();
            }
        }
        self.shared.barrier.wait();
    }
}

impl Collective for InProcess {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.size
    }
    fn sum_f32(&self, send: &[f32], recv: &mut [f32], _: &'static str) {
        self.sum(&self.shared.f32s, send, recv)
    }
    fn sum_f64(&self, send: &[f64], recv: &mut [f64], _: &'static str) {
        self.sum(&self.shared.f64s, send, recv)
    }
    fn broadcast(&self, buf: &mut [u8], _: &'static str) {
        if self.rank == 0 {
            *self.shared.bytes.lock().unwrap_or_else(PoisonError::into_inner) = buf.to_vec();
        }
        self.shared.barrier.wait();
        if self.rank != 0 {
            buf.copy_from_slice(&self.shared.bytes.lock().unwrap_or_else(PoisonError::into_inner));
        }
        self.shared.barrier.wait();
    }
}

/// A SHA-256 digest of what must be the same in every process: settings, data, weights.
#[derive(Clone, Default)]
pub struct Digest(sha2::Sha256);

impl Digest {
    /// Adds bytes.
    pub fn bytes(mut self, b: &[u8]) -> Self {
        self.0.update((b.len() as u64).to_le_bytes());
        self.0.update(b);
        self
    }

    /// Adds numbers, by their bits.
    pub fn floats<T: Float>(mut self, v: &[T]) -> Self {
        self.0.update((v.len() as u64).to_le_bytes());
        let mut buf = [0u8; 4096];
        match T::typed(v) {
            Floats::F32(v) => {
                for chunk in v.chunks(buf.len() / 4) {
                    for (b, x) in buf.chunks_exact_mut(4).zip(chunk) {
                        b.copy_from_slice(&x.to_le_bytes());
                    }
                    self.0.update(&buf[..4 * chunk.len()]);
                }
            }
            Floats::F64(v) => {
                for chunk in v.chunks(buf.len() / 8) {
                    for (b, x) in buf.chunks_exact_mut(8).zip(chunk) {
                        b.copy_from_slice(&x.to_le_bytes());
                    }
                    self.0.update(&buf[..8 * chunk.len()]);
                }
            }
        }
        self
    }

    /// Adds a data set: its features, targets and shape.
    pub fn dataset<T: Float>(self, d: &Dataset<T>) -> Self {
        let mut shape = self.bytes(&(d.features as u64).to_le_bytes()).floats(&d.x);
        if let Some(b) = &d.blocks {
            let at: Vec<u8> = b.at.iter().flat_map(|&(s, w)| [s as u64, w as u64]).flat_map(u64::to_le_bytes).collect();
            let hot: Vec<u8> = b.hot.iter().flat_map(|h| h.to_le_bytes()).collect();
            shape = shape.bytes(&at).bytes(&hot);
        }
        match &d.targets {
            Targets::Classes { labels, classes } => {
                let labels: Vec<u8> = labels.iter().flat_map(|l| l.to_le_bytes()).collect();
                shape.bytes(&(*classes as u64).to_le_bytes()).bytes(&labels)
            }
            Targets::Values { y, width } => shape.bytes(&(*width as u64).to_le_bytes()).floats(y),
        }
    }

    /// Adds every weight and bias of a network.
    pub fn network<T: Float>(self, net: &Network<T>) -> Self {
        net.tensors().fold(self, |d, t| d.floats(t))
    }

    /// The digest.
    pub fn finish(self) -> [u8; 32] {
        self.0.finalize().into()
    }
}

/// Which processes differ from process 0, and in what (see [`disagreement`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Disagreement {
    /// The first process that differs.
    pub process: usize,
    /// The names of the items in which it differs.
    pub items: Vec<String>,
    /// How many other processes differ too.
    pub others: usize,
}

/// Compares every process's digest of each named item with process 0's; every process gets the
/// same answer.
pub fn disagreement(c: &dyn Collective, items: &[(&str, [u8; 32])], what: &'static str) -> Option<Disagreement> {
    if c.size() == 1 || items.is_empty() {
        return None;
    }
    let mut theirs: Vec<u8> = items.iter().flat_map(|(_, d)| *d).collect();
    c.broadcast(&mut theirs, what);
    // differs[p · items + i] = 1 when process p's item i differs from process 0's.
    let mut differs = vec![0.0; c.size() * items.len()];
    for (i, ((_, mine), zero)) in items.iter().zip(theirs.chunks_exact(32)).enumerate() {
        differs[c.rank() * items.len() + i] = f64::from(u8::from(mine[..] != zero[..]));
    }
    let mut all = vec![0.0; differs.len()];
    c.sum_f64(&differs, &mut all, what);
    let rows = || all.chunks_exact(items.len()).enumerate().filter(|(_, r)| r.iter().any(|&d| d > 0.0));
    let (process, row) = rows().next()?;
    Some(Disagreement {
        process,
        items: items.iter().zip(row).filter(|(_, d)| **d > 0.0).map(|((name, _), _)| name.to_string()).collect(),
        others: rows().count() - 1,
    })
}

/// Checks at start-up that every process has the same settings and data as process 0 (each item
/// a name and a [`Digest`]); otherwise every process returns the same error, naming the first
/// process and the items that differ.
pub fn agree(c: &dyn Collective, items: &[(&str, [u8; 32])]) -> Result<()> {
    match disagreement(c, items, "the comparison of settings and data") {
        None => Ok(()),
        Some(d) => Err(Error::Distributed(format!(
            "process {}{} has different {} from process 0: every process must be started with the same arguments and see the same files",
            d.process,
            if d.others > 0 { format!(" (and {} other(s))", d.others) } else { String::new() },
            d.items.join(" and ")
        ))),
    }
}

/// Process 0's weights into every process's `net` (whose shapes must be the same: see [`agree`]).
pub fn broadcast_network<T: Float>(c: &dyn Collective, net: &mut Network<T>) {
    if c.size() == 1 {
        return;
    }
    for tensor in net.tensors_mut() {
        let mut bytes: Vec<u8> = tensor.iter().flat_map(|x| x.f64().to_le_bytes()).collect();
        c.broadcast(&mut bytes, "the initial weights");
        for (x, b) in tensor.iter_mut().zip(bytes.chunks_exact(8)) {
            *x = T::of(f64::from_le_bytes(b.try_into().unwrap_or([0; 8])));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `f` in every process of an in-process world of `size`, returning each one's result.
    pub(crate) fn in_world<R: Send>(size: usize, f: impl Fn(&InProcess) -> R + Sync) -> Vec<R> {
        let world = InProcess::world(size);
        std::thread::scope(|s| {
            let handles: Vec<_> = world.iter().map(|c| s.spawn(|| f(c))).collect();
            handles.into_iter().map(|h| h.join().expect("a process panicked")).collect()
        })
    }

    #[test]
    fn shares_cover_the_batch_once() {
        for (n, size) in [(128, 2), (7, 3), (2, 5), (0, 2)] {
            let all: Vec<usize> = (0..size).flat_map(|r| share(n, r, size)).collect();
            assert_eq!(all, (0..n).collect::<Vec<_>>());
            assert!((0..size).all(|r| share(n, r, size).len() >= n / size));
        }
    }

    #[test]
    fn in_process_sums_and_broadcasts_reach_every_process() {
        let out = in_world(3, |c| {
            let mut r = [0.0f32; 2];
            c.sum_f32(&[c.rank() as f32, 1.0], &mut r, "test");
            let b = broadcast_bytes(c, vec![c.rank() as u8 + 7; 3 - c.rank()], "test");
            (r, b)
        });
        for (r, b) in out {
            assert_eq!(r, [3.0, 3.0]);
            assert_eq!(b, vec![7, 7, 7]);
        }
    }

    #[test]
    fn agreement_names_the_process_and_the_item_that_differ() {
        let out = in_world(3, |c| {
            let data = Digest::default().bytes(&[1, 2]).finish();
            let settings = Digest::default().bytes(&[u8::from(c.rank() == 2)]).finish();
            agree(c, &[("settings", settings), ("training data", data)])
        });
        for r in out {
            let e = r.unwrap_err().to_string();
            assert!(e.contains("process 2 has different settings from process 0"), "{e}");
            assert!(!e.contains("training data"), "{e}");
        }
        let same = in_world(2, |c| agree(c, &[("settings", Digest::default().finish())]));
        assert!(same.iter().all(|r| r.is_ok()));
    }

    #[test]
    fn process_zeros_weights_reach_every_process() {
        use crate::{Activation, Architecture, Loss};
        let arch = Architecture::mlp(&[3, 4, 2], Activation::Tanh, Activation::Softmax, Loss::CrossEntropy);
        let nets = in_world(2, |c| {
            let mut net: Network<f32> = arch.build(c.rank() as u64 + 1).unwrap();
            broadcast_network(c, &mut net);
            net
        });
        assert_eq!(nets[0], nets[1]);
        assert_eq!(nets[0], arch.build(1).unwrap());
    }
}
