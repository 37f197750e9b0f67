"""Step a batched LIF layer inside your own loop: convolve input spikes, integrate, fire.

Run: ``python examples/step_layer.py``. Prints the spikes and winners per step and
checks that a batch gives what separate runs give.
"""
import torch
import torch.nn.functional as F

import spyketorch as st


def main() -> None:
    torch.manual_seed(0)
    T, B = 8, 4
    ts = 0.001
    weights = torch.rand(16, 2, 5, 5) * 0.6  # 16 feature maps over 2 input channels
    # input spike waves [T, B, 2, 28, 28] with amplitude 1/ts, as the layers expect
    spikes_in = (torch.rand(T, B, 2, 28, 28) < 0.15).float() / ts
    layer = st.LIF(threshold=60.0, tau_rc=0.02, ts=ts, refractory_timesteps=2, inhibition_mode="feature")
    total = torch.zeros(B)
    for t in range(T):
        potentials = F.conv2d(spikes_in[t], weights)  # [B, 16, 24, 24]
        out = layer.step(potentials, n_winners=3)  # stays on the device; winners [B, 3, 3]
        total += out.spikes.flatten(1).ne(0).sum(1)
        print(f"t={t}: spikes per sample {out.spikes.flatten(1).ne(0).sum(1).tolist()}, "
              f"winners of sample 0 {out.winners[0].tolist()}")
    print("total spikes per sample:", total.tolist())
    # the reference call contract: (spikes, potentials, winners) with winners as (feature, row, col)
    layer.reset()
    spikes, potentials, winners = layer(F.conv2d(spikes_in[0, :1], weights), n_winners=2)
    print("reference-style winners for one sample:", winners)


if __name__ == "__main__":
    main()
