"""StyleNeRF generator backend (3D-aware, camera-conditioned)."""
