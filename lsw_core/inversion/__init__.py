"""GAN inversion: W / W+ projectors and pivotal tuning (PTI), generic over any Generator."""
