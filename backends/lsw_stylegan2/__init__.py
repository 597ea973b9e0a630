"""StyleGAN2 generator backend (NVIDIA stylegan2-ada-pytorch architecture, in our own code): the
network in `generator` / `networks`, the checkpoint readers in `loaders` and `rosinality`. Importing
the package loads nothing else, so listing plugins stays cheap."""
