//! The processes a run is one of: MPI's when a launcher (`mpirun`, `srun`) started this one and the
//! binary has the `distributed` feature; else this process alone, as always.

use anyhow::{Result, bail};
use neuralnet::distributed::{self, Collective, Solo};
use std::sync::Arc;

/// The processes of this run, and how many of them share this machine's cores.
pub(super) struct Processes {
    pub(super) comm: Arc<dyn Collective>,
    pub(super) on_this_machine: usize,
}

impl Processes {
    /// Joins the job that launched this process, if any; `timeout`: seconds one collective may
    /// wait before the job is stopped.
    pub(super) fn join(timeout: f64) -> Result<Self> {
        let alone = || Processes { comm: Arc::new(Solo), on_this_machine: 1 };
        let Some(launch) = distributed::launched() else { return Ok(alone()) };
        if !(timeout.is_finite() && timeout > 0.0) {
            bail!("--comm-timeout must be a positive number of seconds, got {timeout}");
        }
        #[cfg(feature = "distributed")]
        {
            let _ = launch;
            let mpi = distributed::mpi::Mpi::init(std::time::Duration::from_secs_f64(timeout))?;
            let on_this_machine = mpi.local_size();
            Ok(Processes { comm: Arc::new(mpi), on_this_machine })
        }
        #[cfg(not(feature = "distributed"))]
        {
            if launch.size.unwrap_or(1) > 1 || launch.rank.unwrap_or(0) > 0 {
                bail!(
                    "started by an MPI launcher as one of {} processes, but this neuralnet was built without MPI: build it with `cargo build --release --features distributed` (README, \"Training on a cluster\")",
                    launch.size.map_or("several".to_string(), |n| n.to_string())
                );
            }
            Ok(alone())
        }
    }

    pub(super) fn rank(&self) -> usize {
        self.comm.rank()
    }

    pub(super) fn size(&self) -> usize {
        self.comm.size()
    }

    /// The default thread count: this machine's cores shared between its processes.
    pub(super) fn default_threads(&self) -> usize {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        (cores / self.on_this_machine.max(1)).max(1)
    }
}
