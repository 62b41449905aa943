"""A neuralnet convolutional model run by PyTorch: nn.Conv2d, nn.MaxPool2d and nn.Linear in an
nn.Sequential built from the model file's description, its state dict loaded through the documented
name mapping (features.{k} -> module k + convolutions before it; layers.{i} -> module F + 1 + 2i),
then the probabilities of the first N MNIST test images compared with neuralnet's own.

usage: python bench/conv_torch_check.py MODEL.safetensors OURS.json MNIST_DIR
  (OURS.json: cargo run --release --example mnist_outputs -- MODEL N > OURS.json)
"""
import json
import sys

import numpy as np
import torch
from safetensors import safe_open
from safetensors.numpy import load_file

model_path, ours_path, mnist_dir = sys.argv[1:4]
tensors = load_file(model_path)
with safe_open(model_path, framework="np") as f:
    desc = json.loads(f.metadata()["neuralnet"])


def activation(name):
    return {"relu": torch.nn.ReLU(), "tanh": torch.nn.Tanh(), "sigmoid": torch.nn.Sigmoid(),
            "identity": torch.nn.Identity(), "softmax": torch.nn.Softmax(dim=1)}[name]


modules, state = [], {}
channels = desc["input_maps"][0]
for k, spec in enumerate(desc["features"]):
    parts = spec.split(":")
    if parts[0] == "pool":
        modules.append(torch.nn.MaxPool2d(2))
        continue
    out, kernel = int(parts[1]), int(parts[2])
    conv = torch.nn.Conv2d(channels, out, kernel, padding="same" if parts[3] == "same" else 0)
    state[f"{len(modules)}.weight"] = tensors[f"features.{k}.weight"]
    state[f"{len(modules)}.bias"] = tensors[f"features.{k}.bias"]
    modules += [conv, activation(":".join(parts[4:]))]
    channels = out
modules.append(torch.nn.Flatten())
sizes = desc["sizes"]
for i, f in enumerate(desc["activations"]):
    state[f"{len(modules)}.weight"] = tensors[f"layers.{i}.weight"]
    state[f"{len(modules)}.bias"] = tensors[f"layers.{i}.bias"]
    modules += [torch.nn.Linear(sizes[i], sizes[i + 1]), activation(f)]
net = torch.nn.Sequential(*modules)
net.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
net.eval()

ours = np.array(json.load(open(ours_path)), dtype=np.float64)
n = len(ours)
raw = np.fromfile(f"{mnist_dir}/t10k-images-idx3-ubyte", dtype=np.uint8, offset=16)[: n * 784]
norm = desc.get("normalization", {"divide": 255.0, "mean": 0.0, "std": 1.0})
x = ((raw.astype(np.float32) / norm["divide"] - norm["mean"]) / norm["std"]).reshape(n, 1, 28, 28)
with torch.no_grad():
    theirs = net(torch.from_numpy(x)).double().numpy()
diff = np.abs(theirs - ours)
same_argmax = int((theirs.argmax(1) == ours.argmax(1)).sum())
print(f"{n} images: largest |difference| in a probability {diff.max():.3e}, mean {diff.mean():.3e}; "
      f"the same predicted class for {same_argmax} of {n}")
print(net)
sys.exit(0 if diff.max() < 1e-4 and same_argmax == n else 1)
