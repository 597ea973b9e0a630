"""Head pose and expression of faces from dlib's 68 landmarks: the landmark judge (`judge.py`)."""

from lsw_faces.landmarks.expression import FEATURE_NAMES
from lsw_faces.landmarks.judge import LandmarkJudge, Measurement, expression_error, pose_error

__all__ = ["FEATURE_NAMES", "LandmarkJudge", "Measurement", "expression_error", "pose_error"]
