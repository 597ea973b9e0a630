"""StyleGAN2 generator backend (NVIDIA stylegan2-ada-pytorch architecture)."""
