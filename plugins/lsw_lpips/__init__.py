"""LPIPS perceptual distance (AlexNet / VGG16 features with linear heads) from user-provided weights."""
