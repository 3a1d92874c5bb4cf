"""Learning from users: corrections (and uploads nobody corrected) retrain the model's heads:
the class head, and the garment head when corrections say its verdict was wrong.

Only the heads on the network's penultimate features change: they are float in both the float
and the int8 model, so a candidate is the active ONNX file with new head weights, made in
seconds with numpy and no TensorFlow. The convolutional features stay as trained.
"""
