"""The bottom layer: the Criteo row format, features, preprocessing, the DCN-V2, its losses and
training. Importing it selects Keras 2 before TensorFlow loads (models/runtime.py)."""
from models import runtime

runtime.configure()
