"""The plugin API of lsw-core: one hook per extension point.

A plugin is a module (or object) with functions decorated by `lsw_core.hookimpl`, listed under the
`lsw_core` entry-point group of its distribution::

    [project.entry-points.lsw_core]
    mygan = "lsw_mygan.plugin"

Every `register_*` hook receives a `register(name, factory, description="")` callback. `factory` is
called with the user's options when the component is loaded, e.g. for a generator
`factory(checkpoint=None, **options) -> Generator`. The built-in backends register exactly this way.
"""

import pluggy

hookspec = pluggy.HookspecMarker("lsw_core")


@hookspec
def register_generators(register):
    """Register generator backends: `factory(checkpoint=None, **options) -> lsw_core.Generator`."""


@hookspec
def register_identity_embedders(register):
    """Register identity embedders: `factory(checkpoint=None, **options) -> lsw_core.IdentityEmbedder`."""


@hookspec
def register_shape_models(register):
    """Register 3DMM-style shape models: `factory(checkpoint=None, **options) -> lsw_core.ShapeModel`."""


@hookspec
def register_inverters(register):
    """Register GAN inverters: `factory(**options) -> lsw_core.Inverter` (stages `project` per image
    and `refine` on several pivots, and the `cache_key` their results are cached under)."""


@hookspec
def register_aligners(register):
    """Register face aligners for photos: `factory(**options) -> lsw_core.Aligner`, called as
    `align(image, resolution, face_index=None) -> lsw_core.AlignedFace`."""


@hookspec
def register_perceptual_losses(register):
    """Register perceptual distances: `factory(checkpoint=None, **options) -> lsw_core.PerceptualLoss`
    mapping two image batches in [-1, 1] to a per-image distance [B]."""


@hookspec
def register_latent_encoders(register):
    """Register latent encoders that start W projection: `factory(checkpoint=None) ->
    lsw_core.LatentEncoder`, trained for one generator's weights (e.g. `lsw_core.inversion.encoder`)."""


@hookspec
def register_judges(register):
    """Register judges that measure swaps for evaluation with networks of their own: `factory(**options)
    -> lsw_core.Judge`, called as `judge(images, face_box=None) -> lsw_core.Judgement` (identity, head
    pose, expression)."""


@hookspec
def register_commands(cli):
    """Add subcommands to the `lsw` click group `cli`."""
