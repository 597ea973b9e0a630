"""The abstract interfaces every plugin implements: generators, identity embedders, shape models,
inverters, aligners, perceptual losses and latent encoders. Public methods validate their inputs and delegate to the underscored methods that a
backend implements, so a wrong tensor fails where it enters with a message naming the shape."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import attrs
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lsw_core.camera import Camera, CameraSpec
from lsw_core.checks import check_images, check_shape
from lsw_core.errors import CheckpointError, ImageError, LswError, ShapeError
from lsw_core.formats.artifacts import fingerprint
from lsw_core.geometry import AlignedFace

NOISE_MODES = ("const", "random", "none")
GROUP_NAMES = ("coarse", "middle", "fine1", "fine2")


def layer_groups_from_resolutions(row_resolutions: list[int]) -> dict[str, range]:
    """The paper's layer groups from the resolution each W+ row drives:
    coarse 4²–8², middle 16²–32², fine1 64²–128², fine2 256² and above."""
    bounds = {"coarse": (0, 8), "middle": (9, 32), "fine1": (33, 128), "fine2": (129, 1 << 30)}
    groups = {}
    for name, (lo, hi) in bounds.items():
        rows = [i for i, r in enumerate(row_resolutions) if lo <= r <= hi]
        groups[name] = range(rows[0], rows[-1] + 1) if rows else range(0)
    return groups


@attrs.frozen
class LatentLayout:
    """The shape of the latent codes a mixer reads and writes: `num_ws` rows of `w_dim`."""

    num_ws: int
    w_dim: int

    def __str__(self) -> str:
        return f"{self.num_ws}x{self.w_dim}"


@attrs.frozen(kw_only=True)
class TrainingDefaults:
    """How a mixer is best trained on a generator, used by the trainer and `lsw train` unless the
    user says otherwise: the truncation ψ applied to the first `truncation_cutoff` rows (all rows
    when None) of sampled latents, and the plugin names of the identity embedder and the shape
    model it is meant for (None: the user must name one). The base class has the paper's ψ = 0.5 on
    the first 8 rows and no components."""

    truncation_psi: float = 0.5
    truncation_cutoff: int | None = 8
    embedder: str | None = None
    shape_model: str | None = None


#: Mapped samples a `w_avg` of all zeros (unknown) is estimated from (as the projector's mean start).
W_AVG_SAMPLES = 10_000


class Generator(nn.Module, abc.ABC):
    """A frozen pretrained generator: z → (mapping) → W+ [B, num_ws, w_dim] → (synthesis) → image.

    Subclasses set `z_dim`, `w_dim`, `num_ws`, `resolution`, `camera` (a `CameraSpec`, or None for a
    2D generator) and a `w_avg` buffer, and implement `_mapping` and `_synthesis`.

    Optional capabilities, declared here so that core code never probes for them: `init_kwargs`
    (JSON-able constructor arguments; with them `lsw convert` / `save_generator` can write the
    generator as a folder), `ground_truth(ws)` (exact attributes of what the latents render, as the
    synthetic world knows them; `has_ground_truth` says whether a backend overrides it) and `device`.
    """

    z_dim: int
    w_dim: int
    num_ws: int
    resolution: int
    camera: CameraSpec | None = None
    #: Name under which the plugin registry loaded this generator (set by `load_generator`).
    backend_name: str = ""
    #: The JSON-able arguments that rebuild this generator (None: it cannot be saved as a folder).
    init_kwargs: dict[str, Any] | None = None
    #: Where the face sits in its images: (x0, y0, x1, y1) as fractions of width and height, for tools
    #: that measure aligned faces (judges); None: FFHQ's alignment, as StyleGAN2's FFHQ models.
    face_box: tuple[float, float, float, float] | None = None
    #: Whether mixed precision (bf16 autocast) pays on CPUs with native bf16 (AVX-512 BF16, AMX): set by
    #: backends that measured it faster there and close enough for inversion; elsewhere it runs on CUDA only.
    cpu_bf16: bool = False

    @property
    def device(self) -> torch.device:
        """Where the generator's tensors live (the CPU for one without any)."""
        for tensor in self.buffers():
            return tensor.device
        for tensor in self.parameters():
            return tensor.device
        return torch.device("cpu")

    @property
    def has_ground_truth(self) -> bool:
        return type(self).ground_truth is not Generator.ground_truth

    def ground_truth(self, ws: torch.Tensor) -> dict[str, torch.Tensor]:
        """The exact attributes of what W+ codes [B, num_ws, w_dim] render: `identity`, `expression`,
        `pose` (and optionally `appearance`), each [B, ...]. Only backends with a known ground truth
        (the synthetic world) implement it; evaluation then needs no embedder or shape model."""
        raise LswError(f"generator {self.backend_name or type(self).__name__!r} has no ground truth")

    #: Truncation and default components for training mixers on this generator.
    training_defaults: TrainingDefaults = TrainingDefaults()

    @property
    def layer_groups(self) -> dict[str, range]:
        """Named W+ row ranges (coarse, middle, fine1, fine2). Default: StyleGAN2's layout, two rows
        per resolution from 4² upwards."""
        return layer_groups_from_resolutions([4 * 2 ** (i // 2) for i in range(self.num_ws)])

    @property
    def latent_layout(self) -> LatentLayout:
        return LatentLayout(self.num_ws, self.w_dim)

    def mapping(
        self, z: torch.Tensor, truncation_psi: float = 1.0, truncation_cutoff: int | None = None
    ) -> torch.Tensor:
        """z [B, z_dim] → ws [B, num_ws, w_dim], truncated towards `w_avg` by ψ on the first
        `truncation_cutoff` rows (all rows when None)."""
        check_shape("z", z, [None, self.z_dim])
        if truncation_psi != 1:
            self.ensure_w_avg()
        ws = self._mapping(z, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return check_shape(f"{type(self).__name__}.mapping output", ws, [z.shape[0], self.num_ws, self.w_dim])

    def ensure_w_avg(self, samples: int = W_AVG_SAMPLES) -> None:
        """A `w_avg` left at all zeros means "unknown" (a plugin may register it so): replace it, once,
        by the mean w of `samples` mapped z (seed 0), so that truncation pulls towards the real mean
        instead of shrinking every latent towards zero. `load_generator` calls this, so a loaded
        generator's weights (and their fingerprint) are the same before and after any truncation."""
        if self.__dict__.get("_w_avg_checked"):
            return
        w_avg = getattr(self, "w_avg", None)
        if isinstance(w_avg, torch.Tensor) and w_avg.numel() and not bool(w_avg.detach().any()):
            z = torch.randn(samples, self.z_dim, generator=torch.Generator().manual_seed(0))
            with torch.no_grad():
                w = [
                    self._mapping(c.to(w_avg.device), truncation_psi=1.0, truncation_cutoff=None)[:, 0]
                    for c in z.split(1000)
                ]
                w_avg.copy_(torch.cat(w).mean(0).to(w_avg.dtype).reshape(w_avg.shape))
        self.__dict__["_w_avg_checked"] = True

    def synthesis(self, ws: torch.Tensor, camera: Any = None, noise_mode: str = "const", **kwargs: Any) -> torch.Tensor:
        """ws [B, num_ws, w_dim] → images [B, 3, H, W] in [-1, 1]. Camera-aware generators render
        from `camera` (their default view when None); 2D generators refuse one."""
        check_shape("ws", ws, [None, self.num_ws, self.w_dim])
        if noise_mode not in NOISE_MODES:
            raise LswError(f"noise_mode: expected one of {NOISE_MODES}, got {noise_mode!r}")
        if self.camera is None:
            if camera is not None:
                raise LswError(f"{type(self).__name__} is a 2D generator and takes no camera")
        else:
            camera = self.camera.default if camera is None else camera
            if isinstance(camera, Camera):
                if len(camera) == 1 and ws.shape[0] > 1:
                    camera = camera.repeat(ws.shape[0])
                if len(camera) != ws.shape[0]:
                    raise ShapeError(f"camera: expected 1 or {ws.shape[0]} cameras, got {len(camera)}")
                camera = camera.to(ws.device)
        return self._synthesis(ws, camera=camera, noise_mode=noise_mode, **kwargs)

    def sample_synthesis_kwargs(self, batch: int, generator: torch.Generator | None = None) -> dict[str, Any]:
        """Extra synthesis arguments drawn from the backend's prior for `batch` images, e.g. a
        background code; the trainer renders every pair with its own draw. None by default."""
        return {}

    def forward(self, z: torch.Tensor, truncation_psi: float = 1.0, camera: Any = None, **kwargs: Any) -> torch.Tensor:
        return self.synthesis(self.mapping(z, truncation_psi=truncation_psi), camera=camera, **kwargs)

    @abc.abstractmethod
    def _mapping(self, z: torch.Tensor, *, truncation_psi: float, truncation_cutoff: int | None) -> torch.Tensor: ...

    @abc.abstractmethod
    def _synthesis(self, ws: torch.Tensor, *, camera: Any, noise_mode: str, **kwargs: Any) -> torch.Tensor: ...


class IdentityEmbedder(nn.Module, abc.ABC):
    """Face images [B, 3, H, W] in [-1, 1], any size → identity embeddings [B, dim] of unit length.

    Each embedder resizes and normalises its input the way its network expects."""

    dim: int

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_images("images", images)
        emb = self._embed(images)
        check_shape(f"{type(self).__name__} output", emb, [images.shape[0], self.dim])
        return torch.nn.functional.normalize(emb, dim=1)

    @abc.abstractmethod
    def _embed(self, images: torch.Tensor) -> torch.Tensor: ...


#: Side in pixels of the image frame `ShapeModel.landmarks` are measured in.
LANDMARK_FRAME = 224


class ShapeModel(nn.Module, abc.ABC):
    """A 3DMM-style regressor: images [B, 3, H, W] in [-1, 1] → coefficients [B, num_coeffs].

    `fuse(source, target)` keeps the source identity and everything else of the target;
    `landmarks(coeffs)` gives the 68 iBUG landmarks [B, 68, 2] differentiably, in pixels of a
    `LANDMARK_FRAME` × `LANDMARK_FRAME` image (Deep3DFaceRecon's frame: the scale at which the paper's
    μ = 0.1 makes L_shape about as large as the other terms); `parts(coeffs)` names the pieces the
    evaluation compares (identity, expression, and pose as yaw/pitch/roll degrees);
    `shape_distance(swap, goal)` is L_shape between two fits (the paper's L1 between their landmarks
    unless a model adds to it).
    """

    num_coeffs: int

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_images("images", images)
        coeffs = self._regress(images)
        return check_shape(f"{type(self).__name__} output", coeffs, [images.shape[0], self.num_coeffs])

    @abc.abstractmethod
    def _regress(self, images: torch.Tensor) -> torch.Tensor: ...

    @abc.abstractmethod
    def fuse(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor: ...

    @abc.abstractmethod
    def landmarks(self, coeffs: torch.Tensor) -> torch.Tensor: ...

    @abc.abstractmethod
    def parts(self, coeffs: torch.Tensor) -> dict[str, torch.Tensor]: ...

    def shape_distance(self, swap: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        """L_shape between the swap's coefficients and the goal's: the mean L1 distance between their 68
        landmarks (paper Eq. 4, as in the authors' code)."""
        return F.l1_loss(self.landmarks(swap).float(), self.landmarks(goal).float())


@attrs.define
class Inversion:
    """The result of inverting images: W+ pivots [B, num_ws, w_dim], the generator to synthesise them
    with (tuned by PTI, else the input generator), the camera found for camera-aware backends, extra
    synthesis arguments a backend needs (tensors with one row per image, e.g. a background code) and
    reconstruction metrics."""

    ws: torch.Tensor
    generator: Generator
    camera: Any = None
    synthesis_kwargs: dict[str, Any] = attrs.field(factory=dict)
    metrics: dict[str, Any] = attrs.field(factory=dict)

    def __len__(self) -> int:
        return self.ws.shape[0]

    def __getitem__(self, index: int | slice | list[int]) -> Inversion:
        """The images at `index` (kept as a batch: `inversion[1]` has one row), with the same generator;
        per-image tensors and metrics (lists of one value per image) are taken with them."""
        index = [index] if isinstance(index, int) else index
        rows = range(len(self))[index] if isinstance(index, slice) else index

        def take(value: Any) -> Any:
            if torch.is_tensor(value) and value.ndim and value.shape[0] == len(self):
                return value[index]
            if isinstance(value, list) and len(value) == len(self):
                return [value[i] for i in rows]
            return value

        camera = self.camera[list(rows)] if isinstance(self.camera, Camera) else self.camera
        return Inversion(
            ws=self.ws[index],
            generator=self.generator,
            camera=camera,
            synthesis_kwargs={k: take(v) for k, v in self.synthesis_kwargs.items()},
            metrics={k: take(v) for k, v in self.metrics.items()},
        )

    @classmethod
    def cat(cls, parts: Sequence[Inversion], generator: Generator | None = None) -> Inversion:
        """The images of `parts` in order, synthesised with `generator` (default: the first part's);
        metrics are not kept (they describe how each part was found)."""
        if not parts:
            raise LswError("Inversion.cat: expected at least one inversion")
        device = parts[0].ws.device
        cameras = [p.camera for p in parts]
        camera = Camera.cat([c.to(device) for c in cameras]) if all(isinstance(c, Camera) for c in cameras) else None
        names = parts[0].synthesis_kwargs.keys()
        return cls(
            ws=torch.cat([p.ws.to(device) for p in parts]),
            generator=generator if generator is not None else parts[0].generator,
            camera=camera,
            synthesis_kwargs={k: torch.cat([p.synthesis_kwargs[k].to(device) for p in parts]) for k in names},
        )

    def to(self, device: torch.device | str) -> Inversion:
        """The latents, camera and synthesis arguments on `device`, detached (the generator stays)."""
        return attrs.evolve(
            self,
            ws=self.ws.detach().to(device),
            camera=self.camera.to(device) if isinstance(self.camera, Camera) else self.camera,
            synthesis_kwargs={
                k: v.detach().to(device) if torch.is_tensor(v) else v for k, v in self.synthesis_kwargs.items()
            },
        )


class Inverter(abc.ABC):
    """Images → latents of a given generator, in two stages that a pipeline can run apart:

    - `project(generator, images)`: each image on its own → its pivot (W+ codes, a camera for a
      camera-aware generator). Pivots depend only on the image, the generator's weights and the
      inverter's settings, so they are cached per image under `cache_key()`.
    - `refine(generator, pivots, images)`: optional joint stage on several pivots at once, e.g. PTI
      tuning one generator copy on the source and target together. The default keeps the pivots.

    `invert` runs both. A swap of a clip projects its source once, each frame from the previous
    frame's pivots, and refines once on the source and a few frames.
    Subclasses implement `_project` (and `_refine` when they tune), and `cache_key`.
    """

    #: Whether `refine` changes the generator (a pipeline may then cache the tuned weights per pair).
    refines: bool = False
    #: Whether `_project` takes `start=` pivots to begin from.
    warm_starts: bool = False

    def invert(self, generator: Generator, images: torch.Tensor, progress: Any = None) -> Inversion:
        check_images("images", images, generator.resolution)
        pivots = self._project(generator, images, progress=progress)
        return self._refine(generator, pivots, images, progress=progress)

    def project(
        self, generator: Generator, images: torch.Tensor, progress: Any = None, start: Inversion | None = None
    ) -> Inversion:
        """Per-image pivots of `images` [B, 3, R, R] in [-1, 1]; inverters that `warm_starts` begin
        from the pivots `start` when given (e.g. a video frame's from the previous frame's), the
        others ignore it."""
        check_images("images", images, generator.resolution)
        if start is not None and self.warm_starts:
            check_shape("start pivots", start.ws, [images.shape[0], generator.num_ws, generator.w_dim])
            pivots = self._project(generator, images, progress=progress, start=start)
        else:
            pivots = self._project(generator, images, progress=progress)
        check_shape(f"{type(self).__name__} pivots", pivots.ws, [images.shape[0], generator.num_ws, generator.w_dim])
        return pivots

    def refine(self, generator: Generator, pivots: Inversion, images: torch.Tensor, progress: Any = None) -> Inversion:
        """The joint stage on `pivots` of `images` (e.g. read from a cache): returns the pivots with
        the generator to synthesise them with."""
        check_images("images", images, generator.resolution)
        check_shape("pivots", pivots.ws, [images.shape[0], generator.num_ws, generator.w_dim])
        return self._refine(generator, pivots, images, progress=progress)

    @abc.abstractmethod
    def cache_key(self, generator: Generator, stage: str = "project") -> tuple | None:
        """What makes this inverter's results on `generator` differ from another's, as a tuple of plain
        values (names, numbers, frozen settings: their `repr` is hashed): for `stage` "project" the
        settings and components of projection, for "refine" those of the joint stage. Results are
        cached under the images' hash, the generator's fingerprint and this key. None: never cache."""

    @abc.abstractmethod
    def _project(self, generator: Generator, images: torch.Tensor, *, progress: Any) -> Inversion: ...

    def _refine(self, generator: Generator, pivots: Inversion, images: torch.Tensor, *, progress: Any) -> Inversion:
        return pivots


class Aligner(abc.ABC):
    """A photo → the aligned crop of one of its faces, with the geometry to paste a result back.

    `align(image, resolution, face_index=None)`: image RGB uint8 [H, W, 3]; faces numbered by
    decreasing size, the largest when `face_index` is None. Raises `ImageError` when there is no such
    face (the caller adds which file it was). `align_all(image, resolution)`: every face, in that
    order (an empty list for none), for aligners that implement `_align_all`."""

    def align(self, image: np.ndarray, resolution: int, face_index: int | None = None) -> AlignedFace:
        _check_photo(image)
        if face_index is not None and face_index < 0:
            raise ImageError(f"face index: expected 0 (the largest face) or more, got {face_index}")
        return self._check_crop(self._align(image, resolution, face_index), resolution)

    def align_all(self, image: np.ndarray, resolution: int) -> list[AlignedFace]:
        _check_photo(image)
        return [self._check_crop(face, resolution) for face in self._align_all(image, resolution)]

    def _check_crop(self, face: AlignedFace, resolution: int) -> AlignedFace:
        if tuple(face.image.shape) != (resolution, resolution, 3):
            raise ShapeError(
                f"{type(self).__name__}: expected a {resolution}×{resolution} RGB crop, got {list(face.image.shape)}"
            )
        return face

    @abc.abstractmethod
    def _align(self, image: np.ndarray, resolution: int, face_index: int | None) -> AlignedFace: ...

    def _align_all(self, image: np.ndarray, resolution: int) -> list[AlignedFace]:
        raise LswError(f"{type(self).__name__} aligns one face at a time: it cannot list a photo's faces")


def _check_photo(image: Any) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        found = f"{image.dtype} {list(image.shape)}" if isinstance(image, np.ndarray) else type(image).__name__
        raise ImageError(f"aligner: expected an RGB uint8 image [H, W, 3], got {found}")


class PerceptualLoss(nn.Module, abc.ABC):
    """Distance between two image batches [B, 3, H, W] in [-1, 1] → [B], differentiable in both."""

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        check_images("a", a)
        check_shape("b", b, list(a.shape))
        return check_shape(f"{type(self).__name__} output", self._distance(a, b).reshape(-1), [a.shape[0]])

    @abc.abstractmethod
    def _distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor: ...


class LatentEncoder(nn.Module, abc.ABC):
    """Images [B, 3, H, W] in [-1, 1] → w [B, w_dim], a start for W projection, trained for one
    generator's weights: `trained_for` is (backend name, `lsw_core.formats.artifacts.fingerprint` of the
    weights), or None when unknown; `check_generator` refuses any other generator."""

    w_dim: int
    trained_for: tuple[str, str] | None = None

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_images("images", images)
        return check_shape(f"{type(self).__name__} output", self._encode(images), [images.shape[0], self.w_dim])

    def check_generator(self, generator: Generator) -> None:
        """Raise a `CheckpointError` unless this encoder was trained for `generator`'s weights."""
        if generator.w_dim != self.w_dim:
            raise CheckpointError(
                f"latent encoder: predicts w of {self.w_dim} dims, the generator's w has {generator.w_dim}"
            )
        if self.trained_for is None:
            return
        actual = (generator.backend_name, fingerprint(generator))
        names_differ = all((actual[0], self.trained_for[0])) and actual[0] != self.trained_for[0]
        if names_differ or actual[1] != self.trained_for[1]:  # a generator built directly has no name
            raise CheckpointError(
                f"latent encoder: trained for generator {self.trained_for[0]!r} (weights {self.trained_for[1]}), "
                f"not for {actual[0]!r} (weights {actual[1]}); train one for these weights with `lsw encoder train`"
            )

    @abc.abstractmethod
    def _encode(self, images: torch.Tensor) -> torch.Tensor: ...


#: What a judge can measure of a face.
JUDGE_MEASURES = ("identity", "pose", "expression")


@attrs.frozen
class Judgement:
    """What a `Judge` measured of B images: `identity` [B, D] unit embeddings, `pose` [B, 3] (yaw,
    pitch, roll in degrees), `expression` [B, K] features, each None when the judge does not measure
    it; `found` [B] bool, the faces its detector found (it still measures the others, in the
    generator's usual face box, and says so)."""

    found: torch.Tensor
    identity: torch.Tensor | None = None
    pose: torch.Tensor | None = None
    expression: torch.Tensor | None = None


class Judge(abc.ABC):
    """Measures faces for evaluation with networks of its own, so that a swap can be judged by
    networks the mixer did not train against (`lsw eval --judge`).

    `network` names what it measures with, as reports print it; `same_as` lists the identity
    embedders (plugin names) built on its identity network — a mixer trained with one of those is
    not judged independently by it — and `same_shape_as` the shape models built on the network it
    measures pose and expression with. `measures` says which of `JUDGE_MEASURES` it returns.
    `judge(images, face_box)`: images [B, 3, H, W] in [-1, 1], and where a generator puts the face in
    its images (x0, y0, x1, y1 as fractions of width and height; None: FFHQ's alignment)."""

    network: str = ""
    same_as: tuple[str, ...] = ()
    same_shape_as: tuple[str, ...] = ()
    measures: tuple[str, ...] = ()

    def __call__(self, images: torch.Tensor, face_box: tuple[float, float, float, float] | None = None) -> Judgement:
        check_images("images", images)
        if face_box is not None:
            check_face_box(face_box)
        judged = self._judge(images, face_box)
        b = images.shape[0]
        check_shape(f"{type(self).__name__} found", judged.found, [b])
        for name in JUDGE_MEASURES:
            value = getattr(judged, name)
            if (value is None) == (name in self.measures):
                raise ShapeError(
                    f"{type(self).__name__}: measures {self.measures}, but returned {name} {value is not None}"
                )
            if value is not None:
                check_shape(f"{type(self).__name__} {name}", value, [b, None])
        return judged

    @abc.abstractmethod
    def _judge(self, images: torch.Tensor, face_box: tuple[float, float, float, float] | None) -> Judgement: ...


def check_face_box(box: Any) -> tuple[float, float, float, float]:
    """A face box (x0, y0, x1, y1) as fractions of an image's width and height, x0 < x1, y0 < y1."""
    ok = (
        isinstance(box, (tuple, list))
        and len(box) == 4
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and -1 <= v <= 2 for v in box)
        and box[0] < box[2]
        and box[1] < box[3]
    )
    if not ok:
        raise LswError(f"face box: expected (x0, y0, x1, y1) as fractions of the image, x0 < x1, y0 < y1; got {box!r}")
    return tuple(float(v) for v in box)


@runtime_checkable
class SupportsActivationCheckpointing(Protocol):
    """Optional generator capability: recompute synthesis activations during the backward pass instead
    of keeping them (less memory for a second forward pass; `lsw train --activation-checkpointing`)."""

    def set_activation_checkpointing(self, enabled: bool) -> None: ...
