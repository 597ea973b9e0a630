"""Exceptions raised for bad user input: each says what was expected and what was found."""


class LswError(Exception):
    """Base class of every error lsw-core raises for input a user can fix.

    The CLI prints these as one line and exits with status 2.
    """


class ShapeError(LswError, ValueError):
    """A tensor entered with the wrong shape."""


class PluginError(LswError):
    """An unknown plugin name, or a plugin that failed to load."""


class CheckpointError(LswError):
    """A checkpoint that is missing, corrupt, of another architecture or of another latent layout."""


class ImageError(LswError):
    """An image that cannot be read or used (corrupt file, no face found, ...)."""


class SettingError(LswError, ValueError):
    """A setting of the wrong type or out of its range (see `lsw_core.validators`)."""


class TrainingDiverged(LswError):
    """Training produced a NaN or infinite loss; the last good checkpoint is kept. `every_rank`: every
    torchrun process stopped with it at the same step."""

    every_rank = False
