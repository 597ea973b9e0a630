"""MobileStyleGAN generator backend (the 2021 FFHQ model, read from OpenVINO IR files, in our own code).

The modules: `generator` (MobileStyleGANGenerator, estimate_w_avg), `loaders` (load_mobilestylegan,
read_ir_folder, wheel_ir_folder, from_original), `ir` (the IR reader), `graph`, `networks`. This file
imports nothing, so registering the plugin does not load torch."""
