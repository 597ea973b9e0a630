"""Registration: the only module lsw-core loads (entry point `dcgan-faces`)."""

from lsw_core import hookimpl


def _dcgan(checkpoint=None):
    from lsw_dcgan_faces.model import DCGANFaces

    return DCGANFaces.load(checkpoint)


@hookimpl
def register_generators(register):
    register("dcgan-faces", _dcgan, description="64-px face DCGAN trained on DigiFace-1M (gan-face-generate)")
