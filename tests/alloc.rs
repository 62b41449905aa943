//! The training step allocates nothing after the first batch, for every optimizer, with dropout on,
//! and with data augmentation.

use neuralnet::train::Trainer;
use neuralnet::{Activation, Architecture, Dataset, Init, Loss, Method, Optimizer, TrainConfig};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static COUNTING: AtomicBool = AtomicBool::new(false);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

// One test function only, so no other test thread allocates while we count.
#[test]
fn training_step_allocates_nothing_after_the_first_batch() {
    let rows = 600;
    let features = 400;
    let labels: Vec<u32> = (0..rows).map(|i| (i % 3) as u32).collect();
    // Dense inputs, and inputs 80% zeros (an image's blank margins: the first layer's
    // sparse-input product).
    let dense: Vec<f32> = (0..rows * features).map(|i| ((i * 7919) % 101) as f32 / 101.0).collect();
    let sparse: Vec<f32> = dense.iter().enumerate().map(|(i, &v)| if i % 5 == 0 { v } else { 0.0 }).collect();
    // Trainers (and their thread pools) live to the end: a dropped pool's threads exit
    // asynchronously, and their teardown would be counted against the next run.
    let mut keep = Vec::new();
    let augment = neuralnet::data::augment::Augment::parse("affine,elastic", 20, 20, 0.0).unwrap();
    let runs =
        ["sgd", "momentum", "nesterov", "adam", "adamw"].map(|n| (n, None)).into_iter().chain([("adam", augment)]);
    for ((name, augment), x) in runs.flat_map(|r| [(r, &dense), (r, &sparse)]) {
        let data = Dataset::classification(x.clone(), features, labels.clone(), 3).unwrap();
        for threads in [1, 2] {
            let mut net =
                Architecture::mlp(&[features, 256, 64, 3], Activation::Relu, Activation::Softmax, Loss::CrossEntropy)
                    .init(Init::HeUniform)
                    .build::<f32>(3)
                    .unwrap();
            let config = TrainConfig {
                batch_size: 64,
                dropout: 0.3,
                threads,
                optimizer: Optimizer {
                    method: Method::parse(name, 0.9).unwrap(),
                    weight_decay: 1e-4,
                    ..Optimizer::sgd(0.01)
                },
                augment,
                ..TrainConfig::default()
            };
            let mut trainer = Trainer::new(&net, rows, &config);
            let idx: Vec<usize> = (0..rows).collect();
            // Training runs inside the trainer's pool, as `train` does.
            trainer.install(|trainer| {
                trainer.step(&mut net, &data, &idx[..64], &config, 0.01);
                ALLOCS.store(0, Ordering::SeqCst);
                COUNTING.store(true, Ordering::SeqCst);
                for s in 0..100 {
                    let start = (s * 64) % (rows - 64);
                    let lr = config.optimizer.lr_at(s as f64 / 10.0, 10);
                    trainer.step(&mut net, &data, &idx[start..start + 64], &config, lr);
                }
                COUNTING.store(false, Ordering::SeqCst);
            });
            keep.push(trainer);
            let n = ALLOCS.load(Ordering::SeqCst);
            assert_eq!(
                n,
                0,
                "{name} (augmented: {}, sparse inputs: {}) with {threads} thread(s): {n} allocations in 100 steps",
                augment.is_some(),
                std::ptr::eq(x, &sparse)
            );
        }
    }
    // A convolutional network (inputs as 1×20×20 images), with dropout on its dense layer and
    // augmentation, on one and two threads.
    let data = Dataset::classification(dense.clone(), features, labels.clone(), 3).unwrap();
    let spec = "conv:4:3:same,pool:2,conv:6:3,dense:16,dense:3";
    for (threads, augment) in [(1, None), (2, None), (1, augment)] {
        let arch = Architecture::parse_spec(
            spec,
            neuralnet::conv::Maps::new(1, 20, 20),
            Activation::Relu,
            Activation::Softmax,
            Loss::CrossEntropy,
        )
        .unwrap();
        let mut net = arch.build::<f32>(3).unwrap();
        let config = TrainConfig {
            batch_size: 32,
            dropout: 0.3,
            threads,
            optimizer: Optimizer::adam(0.01),
            augment,
            ..TrainConfig::default()
        };
        let mut trainer = Trainer::new(&net, rows, &config);
        let idx: Vec<usize> = (0..rows).collect();
        trainer.install(|trainer| {
            trainer.step(&mut net, &data, &idx[..32], &config, 0.01);
            ALLOCS.store(0, Ordering::SeqCst);
            COUNTING.store(true, Ordering::SeqCst);
            for s in 0..50 {
                let start = (s * 32) % (rows - 32);
                trainer.step(&mut net, &data, &idx[start..start + 32], &config, 0.01);
            }
            COUNTING.store(false, Ordering::SeqCst);
        });
        keep.push(trainer);
        let n = ALLOCS.load(Ordering::SeqCst);
        assert_eq!(
            n,
            0,
            "{spec} with {threads} thread(s), augmented {}: {n} allocations in 50 steps",
            augment.is_some()
        );
    }
}
