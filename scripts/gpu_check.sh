#!/usr/bin/env bash
# On a CUDA machine, from the repository root, in an environment with the dev extra installed:
# the CUDA tests (they skip without a GPU) and the GPU figures the issues ask for.
#   bash scripts/gpu_check.sh 2>&1 | tee gpu_check.log
set -uo pipefail
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python - <<'PY'
import torch
assert torch.cuda.is_available(), "no CUDA device"
print("torch", torch.__version__, "on", torch.cuda.get_device_name())
PY
# every test that needs CUDA, then the backends' and the gradients' tests with CUDA present
python -m pytest -q -rs -p no:cacheprovider tests -k "cuda or device" 2>&1 | tail -20
# issue 20: the neuron-layer network on the GPU, forward and STDP training images/s at batch 256
python benchmarks/neuron_network.py --device cuda --compiled --fwd-batch 256 --batch 256 --repeat 2
python benchmarks/neuron_network.py --device cuda --fwd-batch 256 --batch 256 --repeat 2
# issue 21: forward + backward per step against snnTorch and SpikingJelly on the GPU
python benchmarks/gradients.py --device cuda --repeat 5
