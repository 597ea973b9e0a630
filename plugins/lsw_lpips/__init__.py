"""LPIPS perceptual distance (AlexNet / VGG16 features with linear heads) from user-provided weights
(`networks.LPIPS`, `loading.load_lpips`), and the pixel + SSIM fallback (`fallback.PixelSSIM`)."""
