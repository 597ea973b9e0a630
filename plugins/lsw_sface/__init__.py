"""SFace (MobileFaceNet, OpenCV model zoo) as a differentiable identity embedder."""
