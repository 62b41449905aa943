//! A bare `MPI_Allreduce` (sum of `f32`) between the processes of an MPI job: the reference the
//! training's gradient sum is measured against (BENCHMARKS.md, "Training on several processes").
//!
//! `mpirun -np 2 target/release/examples/allreduce FLOATS [REPS] [EVICT_MB]` prints, from process
//! 0, one JSON line: the size and the median, 10th and 90th percentile of one call, in
//! microseconds, each call started together after a barrier (after 20 untimed calls). With
//! `EVICT_MB`, each process first writes that many megabytes elsewhere, as a training step's
//! compute does, so that the buffers are no longer in cache.

use mpi::collective::SystemOperation;
use mpi::traits::{Communicator, CommunicatorCollectives};
use std::time::Instant;

fn main() {
    let arg = |i: usize, default: usize| std::env::args().nth(i).and_then(|s| s.parse().ok()).unwrap_or(default);
    let (floats, reps, evict_mb) = (arg(1, 636_015), arg(2, 400), arg(3, 0));
    let Some(universe) = mpi::initialize() else {
        eprintln!("MPI was already initialised");
        std::process::exit(1);
    };
    let world = universe.world();
    let send = vec![1.0f32; floats];
    let mut recv = vec![0.0f32; floats];
    let mut other = vec![0u8; evict_mb << 20];
    for _ in 0..20 {
        world.all_reduce_into(&send[..], &mut recv[..], SystemOperation::sum());
    }
    let mut us: Vec<f64> = (0..reps)
        .map(|i| {
            other.iter_mut().for_each(|b| *b = b.wrapping_add(i as u8));
            world.barrier();
            let t0 = Instant::now();
            world.all_reduce_into(&send[..], &mut recv[..], SystemOperation::sum());
            t0.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    us.sort_by(f64::total_cmp);
    let at = |q: f64| us[((us.len() - 1) as f64 * q).round() as usize];
    if world.rank() == 0 {
        println!(
            "{{\"processes\": {}, \"floats\": {floats}, \"bytes\": {}, \"reps\": {reps}, \"evict_mb\": {evict_mb}, \"median_us\": {:.1}, \"p10_us\": {:.1}, \"p90_us\": {:.1}}}",
            world.size(),
            4 * floats,
            at(0.5),
            at(0.1),
            at(0.9)
        );
    }
}
