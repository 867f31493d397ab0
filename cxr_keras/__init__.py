"""cxr-keras: Keras 3 reproductions of GAN data augmentation for chest X-ray classification."""

__version__ = "0.1.0"
