"""Checkpoint layouts of the real-face networks, written out key by key from the published
architectures (torchvision's ResNet-50, InsightFace/pSp's IR-SE50), with random weights, and a
functional forward pass over such a state dict. Independent of the modules under test: the tests
save these dicts in the original files' layouts and check that our loaders and networks agree."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _conv(state, name, out_c, in_c, k, gen):
    state[f"{name}.weight"] = torch.randn(out_c, in_c, k, k, generator=gen) / (in_c * k * k) ** 0.5


def _bn(state, name, c, gen):
    state[f"{name}.weight"] = 1 + 0.1 * torch.randn(c, generator=gen)
    state[f"{name}.bias"] = 0.1 * torch.randn(c, generator=gen)
    state[f"{name}.running_mean"] = 0.1 * torch.randn(c, generator=gen)
    state[f"{name}.running_var"] = 0.5 + torch.rand(c, generator=gen)
    state[f"{name}.num_batches_tracked"] = torch.tensor(100)


def _linear(state, name, out_f, in_f, gen):
    state[f"{name}.weight"] = torch.randn(out_f, in_f, generator=gen) / in_f**0.5
    state[f"{name}.bias"] = 0.1 * torch.randn(out_f, generator=gen)


RESNET50_STAGES = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))


def torchvision_resnet50_state(gen: torch.Generator, *, fc: int | None = None, prefix: str = "") -> dict:
    s: dict = {}
    _conv(s, "conv1", 64, 3, 7, gen)
    _bn(s, "bn1", 64, gen)
    in_c = 64
    for i, (w, blocks, _stride) in enumerate(RESNET50_STAGES, 1):
        for j in range(blocks):
            n = f"layer{i}.{j}"
            _conv(s, f"{n}.conv1", w, in_c, 1, gen)
            _bn(s, f"{n}.bn1", w, gen)
            _conv(s, f"{n}.conv2", w, w, 3, gen)
            _bn(s, f"{n}.bn2", w, gen)
            _conv(s, f"{n}.conv3", 4 * w, w, 1, gen)
            _bn(s, f"{n}.bn3", 4 * w, gen)
            if j == 0:
                _conv(s, f"{n}.downsample.0", 4 * w, in_c, 1, gen)
                _bn(s, f"{n}.downsample.1", 4 * w, gen)
            in_c = 4 * w
    if fc is not None:
        _linear(s, "fc", fc, 2048, gen)
    return {prefix + k: v for k, v in s.items()}


def bn(x, s, name):
    return F.batch_norm(x, s[f"{name}.running_mean"], s[f"{name}.running_var"], s[f"{name}.weight"], s[f"{name}.bias"])


def resnet50_forward(s: dict, x: torch.Tensor) -> torch.Tensor:
    x = F.relu(bn(F.conv2d(x, s["conv1.weight"], stride=2, padding=3), s, "bn1"))
    x = F.max_pool2d(x, 3, 2, 1)
    for i, (_w, blocks, stride) in enumerate(RESNET50_STAGES, 1):
        for j in range(blocks):
            n = f"layer{i}.{j}"
            st = stride if j == 0 else 1
            y = F.relu(bn(F.conv2d(x, s[f"{n}.conv1.weight"]), s, f"{n}.bn1"))
            y = F.relu(bn(F.conv2d(y, s[f"{n}.conv2.weight"], stride=st, padding=1), s, f"{n}.bn2"))
            y = bn(F.conv2d(y, s[f"{n}.conv3.weight"]), s, f"{n}.bn3")
            if j == 0:
                x = bn(F.conv2d(x, s[f"{n}.downsample.0.weight"], stride=st), s, f"{n}.downsample.1")
            x = F.relu(x + y)
    x = x.mean(dim=(2, 3))
    if "fc.weight" in s:
        x = F.linear(x, s["fc.weight"], s["fc.bias"])
    return x


IRSE50_STAGES = ((64, 64, 3), (64, 128, 4), (128, 256, 14), (256, 512, 3))


def irse50_state(gen: torch.Generator) -> dict:
    s: dict = {}
    _conv(s, "input_layer.0", 64, 3, 3, gen)
    _bn(s, "input_layer.1", 64, gen)
    s["input_layer.2.weight"] = 0.25 + 0.05 * torch.randn(64, generator=gen)
    k = 0
    for in_c, d, units in IRSE50_STAGES:
        for u in range(units):
            c = in_c if u == 0 else d
            n = f"body.{k}"
            if c != d:
                _conv(s, f"{n}.shortcut_layer.0", d, c, 1, gen)
                _bn(s, f"{n}.shortcut_layer.1", d, gen)
            _bn(s, f"{n}.res_layer.0", c, gen)
            _conv(s, f"{n}.res_layer.1", d, c, 3, gen)
            s[f"{n}.res_layer.2.weight"] = 0.25 + 0.05 * torch.randn(d, generator=gen)
            _conv(s, f"{n}.res_layer.3", d, d, 3, gen)
            _bn(s, f"{n}.res_layer.4", d, gen)
            _conv(s, f"{n}.res_layer.5.fc1", d // 16, d, 1, gen)
            _conv(s, f"{n}.res_layer.5.fc2", d, d // 16, 1, gen)
            k += 1
    _bn(s, "output_layer.0", 512, gen)
    _linear(s, "output_layer.3", 512, 512 * 7 * 7, gen)
    _bn(s, "output_layer.4", 512, gen)
    return s


def irse50_forward(s: dict, x: torch.Tensor) -> torch.Tensor:
    """Embeddings of 112×112 inputs, L2-normalised."""
    x = F.prelu(bn(F.conv2d(x, s["input_layer.0.weight"], padding=1), s, "input_layer.1"), s["input_layer.2.weight"])
    k = 0
    for _in_c, _d, units in IRSE50_STAGES:
        for u in range(units):
            n = f"body.{k}"
            stride = 2 if u == 0 else 1
            if f"{n}.shortcut_layer.0.weight" in s:
                short = bn(F.conv2d(x, s[f"{n}.shortcut_layer.0.weight"], stride=stride), s, f"{n}.shortcut_layer.1")
            else:
                short = x[:, :, ::stride, ::stride]
            y = bn(x, s, f"{n}.res_layer.0")
            y = F.prelu(F.conv2d(y, s[f"{n}.res_layer.1.weight"], padding=1), s[f"{n}.res_layer.2.weight"])
            y = bn(F.conv2d(y, s[f"{n}.res_layer.3.weight"], stride=stride, padding=1), s, f"{n}.res_layer.4")
            g = F.relu(F.conv2d(y.mean(dim=(2, 3), keepdim=True), s[f"{n}.res_layer.5.fc1.weight"]))
            y = y * torch.sigmoid(F.conv2d(g, s[f"{n}.res_layer.5.fc2.weight"]))
            x = y + short
            k += 1
    x = bn(x, s, "output_layer.0").flatten(1)
    x = F.linear(x, s["output_layer.3.weight"], s["output_layer.3.bias"])
    x = F.batch_norm(
        x,
        s["output_layer.4.running_mean"],
        s["output_layer.4.running_var"],
        s["output_layer.4.weight"],
        s["output_layer.4.bias"],
    )
    return F.normalize(x, dim=1)
