"""Photo face detection and FFHQ alignment with dlib."""
