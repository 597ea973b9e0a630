"""StyleNeRF generator backend (3D-aware, camera-conditioned): `generator`, `loader`, `presets`.
Importing the package loads nothing else, so listing plugins stays cheap."""
