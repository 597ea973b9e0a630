"""Real-face identity embedders and shape models (dlib ResNet, ArcFace IR-SE50, Smooth-Swap, Deep3DFaceRecon)."""
