//! `mpirun -np N neuralnet train`: data-parallel training over MPI processes, run as a user would.
//!
//! Needs the binary built with the `distributed` feature and Open MPI's `mpirun` on the PATH
//! (`cargo test --features distributed`; Debian: `libopenmpi-dev openmpi-bin libclang-dev`).
//! Without them these tests are reported as ignored with the reason (a failure under
//! `NEURALNET_REQUIRE_ALL=1`). Every run keeps MPI's traffic on loopback. One test is for builds
//! without the feature, and is ignored in builds with it.

mod common;

use common::prereq::{self, test_needing, test_optional};
use neuralnet::Network;
use neuralnet::model_file;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn main() {
    prereq::run(vec![
        test_needing("one_process_under_mpirun_is_a_plain_run_bit_for_bit", mpi, one_process_is_a_plain_run),
        test_needing("two_processes_repeat_bit_for_bit_and_step_as_one_process", mpi, two_processes_step_as_one),
        test_needing("tcp_through_a_hostfile_gives_the_same_model", mpi, tcp_through_a_hostfile),
        test_needing("processes_started_differently_stop_with_one_line", mpi, processes_started_differently),
        test_needing("ctrl_c_stops_every_process_and_the_run_resumes_on_another_count", mpi, ctrl_c_then_resume),
        test_needing("a_killed_process_ends_the_job_and_the_run_resumes", mpi, a_killed_process),
        test_needing("a_stopped_process_trips_the_watchdog", mpi, a_stopped_process),
        test_needing("a_table_search_is_shared_and_chooses_as_one_process", mpi, a_table_search_is_shared),
        test_optional(
            "without_mpi_a_launch_of_several_processes_is_refused",
            no_mpi_in_this_build,
            refused_without_mpi,
        ),
    ]);
}

/// `mpirun`, when this build can use it.
fn mpi() -> Result<(), String> {
    if !cfg!(feature = "distributed") {
        return Err("built without the `distributed` feature (cargo test --features distributed)".into());
    }
    let found = Command::new("mpirun").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    match found {
        Ok(s) if s.success() => Ok(()),
        _ => Err("mpirun not found (Debian: apt-get install openmpi-bin libopenmpi-dev)".into()),
    }
}

fn no_mpi_in_this_build() -> Result<(), String> {
    match cfg!(feature = "distributed") {
        true => Err("this build has MPI; the check is for builds without the `distributed` feature".into()),
        false => Ok(()),
    }
}

/// `mpirun -np N [extra…] neuralnet`, traffic on loopback, allowed as root, no core binding (a
/// lone process would be bound to one core).
fn mpirun(np: usize, extra: &[&str]) -> Command {
    let mut c = Command::new("mpirun");
    c.args(["--bind-to", "none", "--oversubscribe", "-np", &np.to_string()])
        .args(extra)
        .arg(common::bin())
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_btl_tcp_if_include", "lo")
        .env("OMPI_MCA_oob_tcp_if_include", "lo")
        .stdin(Stdio::null());
    c
}

/// A directory with `rows` training images.
fn data(rows: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    common::write_tiny_dataset_of(dir.path(), rows, false);
    dir
}

fn train_args(data: &Path, out: &Path, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = ["train", "--data-dir"].iter().map(|s| s.to_string()).collect();
    a.push(data.display().to_string());
    a.extend(["--out".to_string(), out.display().to_string()]);
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: Output) -> String {
    let e = stderr(&o);
    assert!(o.status.success(), "failed ({}):\n{e}", o.status);
    e
}

fn network(path: &Path) -> Network<f32> {
    model_file::load(path).unwrap().network
}

const SMALL: &[&str] = &["--hidden", "24", "--epochs", "3", "--batch-size", "32", "--val-size", "60"];

fn one_process_is_a_plain_run(_: ()) {
    let d = data(300);
    for threads in ["1", "2"] {
        let (plain, under) = (d.path().join(format!("plain{threads}")), d.path().join(format!("mpi{threads}")));
        let extra = [SMALL, &["--threads", threads]].concat();
        ok(Command::new(common::bin()).args(train_args(d.path(), &plain, &extra)).output().unwrap());
        let e = ok(mpirun(1, &[]).args(train_args(d.path(), &under, &extra)).output().unwrap());
        assert!(!e.contains("processes"), "one process says nothing of processes:\n{e}");
        assert_eq!(network(&plain), network(&under), "{threads} thread(s)");
    }
}

fn two_processes_step_as_one(_: ()) {
    let d = data(300);
    // 300 − 172 held out = 128 rows, one batch: one step (dropout on, drawn per row).
    let one_step = ["--hidden", "32", "--epochs", "1", "--batch-size", "128", "--val-size", "172", "--dropout", "0.3"];
    let (a, b, c) = (d.path().join("a"), d.path().join("b"), d.path().join("c"));
    let e = ok(mpirun(2, &[]).args(train_args(d.path(), &a, &one_step)).output().unwrap());
    assert!(e.contains("1 thread(s) in each of 2 processes"), "two cores, two processes: one thread each\n{e}");
    assert_eq!(e.matches("test accuracy").count(), 1, "process 0 alone prints:\n{e}");
    assert!(e.contains("s summing gradients)"), "{e}");
    ok(mpirun(2, &[]).args(train_args(d.path(), &b, &one_step)).output().unwrap());
    assert_eq!(network(&a), network(&b), "two runs of two processes");
    let extra = [&one_step[..], &["--threads", "2"]].concat();
    ok(Command::new(common::bin()).args(train_args(d.path(), &c, &extra)).output().unwrap());
    // Equal to rounding: each tensor within a millionth of its norm.
    for (p, q) in network(&a).layers.iter().zip(&network(&c).layers) {
        for (x, y) in [(&p.weights, &q.weights), (&p.bias, &q.bias)] {
            let diff: f64 = x.iter().zip(y).map(|(u, v)| f64::from(u - v).powi(2)).sum::<f64>().sqrt();
            let norm: f64 = x.iter().map(|u| f64::from(*u).powi(2)).sum::<f64>().sqrt();
            assert!(diff <= 1e-6 * norm, "‖Δ‖ {diff:e} vs ‖w‖ {norm:e}");
        }
    }
}

fn tcp_through_a_hostfile(_: ()) {
    let d = data(300);
    let hosts = d.path().join("hosts");
    std::fs::write(&hosts, "localhost slots=2\n").unwrap();
    let (shm, tcp) = (d.path().join("shm"), d.path().join("tcp"));
    ok(mpirun(2, &[]).args(train_args(d.path(), &shm, SMALL)).output().unwrap());
    let h = hosts.display().to_string();
    ok(mpirun(2, &["--hostfile", &h, "--mca", "btl", "tcp,self"])
        .args(train_args(d.path(), &tcp, SMALL))
        .output()
        .unwrap());
    assert_eq!(network(&shm), network(&tcp));
}

fn processes_started_differently(_: ()) {
    let d = data(300);
    let out = d.path().join("m");
    let mut c = mpirun(1, &[]);
    c.args(train_args(d.path(), &out, &[SMALL, &["--lr", "0.01"]].concat()));
    c.args([":", "-np", "1"]).arg(common::bin()).args(train_args(d.path(), &out, &[SMALL, &["--lr", "0.02"]].concat()));
    let o = c.output().unwrap();
    let e = stderr(&o);
    assert!(!o.status.success());
    let ours: Vec<&str> = e.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(ours.len(), 1, "one line:\n{e}");
    assert!(ours[0].contains("process 1 has different settings from process 0"), "{e}");
    assert!(!out.exists(), "nothing trained");
}

/// Starts a long run of two processes, checkpointing every epoch, and waits for its first
/// checkpoint; returns the job and the checkpoint's path.
fn long_run(d: &Path, extra: &[&str]) -> (Child, PathBuf) {
    let out = d.join("long");
    let ckpt = d.join("long.ckpt");
    let args =
        [&["--hidden", "512", "--epochs", "40", "--batch-size", "16", "--checkpoint", "long.ckpt"], extra].concat();
    let child = mpirun(2, &[])
        .current_dir(d)
        .args(train_args(d, &out, &args))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !ckpt.exists() {
        assert!(t0.elapsed() < Duration::from_secs(120), "no checkpoint after two minutes");
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, ckpt)
}

/// Waits for `child` at most `limit`; returns its output and how long it took.
fn finish_within(mut child: Child, limit: Duration) -> (Output, Duration) {
    let t0 = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t0.elapsed() > limit {
            let _ = child.kill();
            panic!("still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (child.wait_with_output().unwrap(), t0.elapsed())
}

/// The processes `mpirun` started.
fn ranks(child: &Child) -> Vec<u32> {
    let o = Command::new("pgrep").args(["-P", &child.id().to_string()]).output().unwrap();
    String::from_utf8_lossy(&o.stdout).lines().filter_map(|l| l.trim().parse().ok()).collect()
}

fn signal(pid: u32, sig: &str) {
    assert!(Command::new("kill").args([sig, &pid.to_string()]).status().unwrap().success());
}

/// Resumes `ckpt` with `np` processes and checks the run completes.
fn resume(d: &Path, ckpt: &Path, np: usize) {
    let e = ok(mpirun(np, &[])
        .current_dir(d)
        .args(["train", "--resume", &ckpt.display().to_string(), "--epochs", "3"])
        .output()
        .unwrap());
    assert!(e.contains("resuming") && e.contains("saved model"), "{e}");
    assert!(d.join("long").exists());
}

fn ctrl_c_then_resume(_: ()) {
    let d = data(6000);
    let (job, ckpt) = long_run(d.path(), &[]);
    // Ctrl-C: `mpirun` passes SIGTERM to every process.
    signal(job.id(), "-INT");
    let (o, _) = finish_within(job, Duration::from_secs(30));
    let e = stderr(&o);
    assert_eq!(e.matches("resume with: mpirun -np 2 neuralnet train --resume").count(), 1, "process 0 says how:\n{e}");
    let saved = model_file::load_checkpoint(&ckpt).unwrap();
    assert!(saved.state.partial.is_some() || saved.state.epoch >= 1);
    // With another number of processes.
    resume(d.path(), &ckpt, 1);
}

fn a_killed_process(_: ()) {
    let d = data(6000);
    let (job, ckpt) = long_run(d.path(), &[]);
    let pids = ranks(&job);
    assert_eq!(pids.len(), 2, "{pids:?}");
    signal(pids[1], "-KILL");
    let (o, took) = finish_within(job, Duration::from_secs(15));
    let e = stderr(&o);
    assert!(!o.status.success());
    assert!(e.contains("rank 1") && e.contains("Killed"), "the launcher names the lost process:\n{e}");
    eprintln!("the job ended {took:?} after process 1 was killed");
    resume(d.path(), &ckpt, 2);
}

fn a_stopped_process(_: ()) {
    let d = data(6000);
    let (job, _) = long_run(d.path(), &["--comm-timeout", "2"]);
    let pids = ranks(&job);
    signal(pids[1], "-STOP");
    let (o, took) = finish_within(job, Duration::from_secs(15));
    let e = stderr(&o);
    assert!(!o.status.success());
    assert!(e.contains("error: process 0 waited 2 s in the gradient sum"), "{e}");
    eprintln!("the job ended {took:?} after process 1 was stopped");
    for p in pids {
        let _ = Command::new("kill").args(["-KILL", &p.to_string()]).status();
    }
}

fn a_table_search_is_shared(_: ()) {
    let d = tempfile::tempdir().unwrap();
    let csv = d.path().join("t.csv");
    let mut text = String::from("a,b,colour,label\n");
    for i in 0..240u32 {
        let (a, b) = ((i * 37 % 101) as f64 / 10.0, (i * 53 % 89) as f64 / 20.0);
        let colour = ["red", "green", "blue"][(i % 3) as usize];
        text += &format!("{a},{b},{colour},{}\n", if a + 2.0 * b > 9.0 { "yes" } else { "no" });
    }
    std::fs::write(&csv, text).unwrap();
    let run = |np: usize| {
        let args = ["train", "--csv", &csv.display().to_string(), "--target", "label", "--epochs", "30"];
        let out = d.path().join(format!("m{np}"));
        let e = ok(mpirun(np, &[]).args(args).args(["--out", &out.display().to_string()]).output().unwrap());
        e.lines().find(|l| l.starts_with("weight decay")).map(str::to_string).expect("the search's line")
    };
    assert_eq!(run(2), run(1));
}

fn refused_without_mpi(_: ()) {
    let d = data(300);
    let o = Command::new(common::bin())
        .args(train_args(d.path(), &d.path().join("m"), SMALL))
        .env("OMPI_COMM_WORLD_SIZE", "2")
        .env("OMPI_COMM_WORLD_RANK", "1")
        .output()
        .unwrap();
    let e = stderr(&o);
    assert!(!o.status.success());
    assert!(e.contains("one of 2 processes") && e.contains("--features distributed"), "{e}");
}
