"""INT8 quantization (Module 17): ``quantize(model, calibration_loader)`` returns an integer copy."""
from tinytorch.quantization.int8 import (
    FakeQuantized, QuantizedConv2d, QuantizedLinear, dequantize, fake_quantize, int8_matmul, prepare_qat,
    quantize, quantize_array, quantize_per_channel, scale_for,
)

__all__ = ["quantize", "prepare_qat", "QuantizedLinear", "QuantizedConv2d", "FakeQuantized", "fake_quantize",
           "quantize_array", "quantize_per_channel", "dequantize", "scale_for", "int8_matmul"]
