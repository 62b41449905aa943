//! The MPI world (feature `distributed`): the processes started by `mpirun`, `srun` or any MPI
//! launcher, through rsmpi on the system's MPI library.
//!
//! MPI has no timeouts: a process whose peer has died or stopped waits in a collective for
//! ever. A watchdog thread aborts the job when one collective has waited longer than the
//! timeout, saying where; a panic aborts the job too (an unwinding panic would otherwise leave
//! the other processes waiting). MPI is initialised with `MPI_THREAD_MULTIPLE`, as the training
//! loop calls it from a pool thread and the watchdog may abort from its own.

use super::Collective;
use crate::error::{Error, Result};
use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator, CommunicatorCollectives, Root};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The processes of an MPI job.
pub struct Mpi {
    rank: usize,
    size: usize,
    local_size: usize,
    watch: Arc<Watch>,
    /// Finalises MPI when dropped (after the watchdog is told to stop).
    _universe: Universe,
}

/// What the watchdog watches: since when this process has been waiting in which collective.
struct Watch {
    base: Instant,
    /// Nanoseconds since `base` + 1 when the current collective began; 0 when in none.
    since: AtomicU64,
    what: Mutex<&'static str>,
    done: AtomicBool,
}

impl Watch {
    fn enter(&self, what: &'static str) {
        *self.what.lock().unwrap_or_else(PoisonError::into_inner) = what;
        self.since.store(self.base.elapsed().as_nanos() as u64 + 1, Ordering::Release);
    }

    fn leave(&self) {
        self.since.store(0, Ordering::Release);
    }
}

impl Mpi {
    /// Initialises MPI (once per process) and starts the watchdog, which ends the job when one
    /// collective has waited more than `timeout`.
    pub fn init(timeout: Duration) -> Result<Mpi> {
        let fail = |m: &str| Error::Distributed(format!("cannot start MPI: {m}"));
        let (universe, threading) = mpi::initialize_with_threading(mpi::Threading::Multiple)
            .ok_or_else(|| fail("it was already initialised in this process"))?;
        if threading < mpi::Threading::Serialized {
            return Err(fail(&format!(
                "the MPI library grants {threading:?} threading; training needs at least Serialized (calls from one thread at a time)"
            )));
        }
        let world = universe.world();
        let (rank, size) = (world.rank() as usize, world.size() as usize);
        let local_size = world.split_shared(0).size() as usize;
        let watch = Arc::new(Watch {
            base: Instant::now(),
            since: AtomicU64::new(0),
            what: Mutex::new(""),
            done: AtomicBool::new(false),
        });
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            eprintln!("process {rank} panicked: stopping the job");
            SimpleCommunicator::world().abort(101);
        }));
        let w = watch.clone();
        std::thread::Builder::new()
            .name("mpi-watchdog".into())
            .spawn(move || watchdog(&w, rank, timeout))
            .map_err(|e| fail(&format!("cannot start the watchdog thread: {e}")))?;
        Ok(Mpi { rank, size, local_size, watch, _universe: universe })
    }

    /// How many of the job's processes run on this machine (sharing its cores).
    pub fn local_size(&self) -> usize {
        self.local_size
    }

    fn run<R>(&self, what: &'static str, f: impl FnOnce(&SimpleCommunicator) -> R) -> R {
        self.watch.enter(what);
        let r = f(&SimpleCommunicator::world());
        self.watch.leave();
        r
    }
}

/// Aborts the job when this process has waited in one collective longer than `timeout`.
fn watchdog(w: &Watch, rank: usize, timeout: Duration) {
    let tick = Duration::from_millis(100).min(timeout / 4).max(Duration::from_millis(10));
    while !w.done.load(Ordering::Acquire) {
        std::thread::sleep(tick);
        let since = w.since.load(Ordering::Acquire);
        if since == 0 {
            continue;
        }
        let waited = w.base.elapsed().saturating_sub(Duration::from_nanos(since - 1));
        if waited > timeout {
            let what = *w.what.lock().unwrap_or_else(PoisonError::into_inner);
            eprintln!(
                "error: process {rank} waited {:.0} s in {what} without an answer from the other processes: one of them has stopped or died (--comm-timeout sets the limit); stopping the job",
                waited.as_secs_f64()
            );
            SimpleCommunicator::world().abort(3);
        }
    }
}

impl Drop for Mpi {
    fn drop(&mut self) {
        self.watch.done.store(true, Ordering::Release);
    }
}

impl Collective for Mpi {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.size
    }
    fn sum_f32(&self, send: &[f32], recv: &mut [f32], what: &'static str) {
        self.run(what, |w| w.all_reduce_into(send, recv, SystemOperation::sum()));
    }
    fn sum_f64(&self, send: &[f64], recv: &mut [f64], what: &'static str) {
        self.run(what, |w| w.all_reduce_into(send, recv, SystemOperation::sum()));
    }
    fn broadcast(&self, buf: &mut [u8], what: &'static str) {
        self.run(what, |w| w.process_at_rank(0).broadcast_into(buf));
    }
}
