"""The 64-px DigiFace-1M DCGAN of the `gan-face-generate` package as an lsw-core backend."""
